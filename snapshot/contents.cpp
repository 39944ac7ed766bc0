// Small helpers of the plain snapshot structs.
#include "stasis/snapshot/contents.hpp"

namespace stasis::snapshot {

const char *direction_name(direction d) noexcept { return d == direction::a_to_b ? "a_to_b" : "b_to_a"; }

dataplane::pipe_state shifted(dataplane::pipe_state s, int64_t delta_ns)
{
    // The same instants pipe_model::shift moves.
    s.server_end_ns += delta_ns;
    s.last_arrival_ns += delta_ns;
    s.last_depart_ns += delta_ns;
    for (dataplane::queued_packet &q : s.queue)
        q.service_end_ns += delta_ns;
    return s;
}

}  // namespace stasis::snapshot
