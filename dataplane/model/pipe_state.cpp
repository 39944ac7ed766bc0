// Snapshot, restore and time shift of a pipe: the state plus the queue ring, nothing else.
#include <algorithm>

#include "compiled.hpp"
#include "stasis/dataplane/pipe_model.hpp"

namespace stasis::dataplane {

pipe_state pipe_model::save() const
{
    pipe_state s = _s;
    s.queue.clear();
    s.queue.reserve(_count);
    for (size_t i = 0; i < _count; i++)
        s.queue.push_back(_ring._slots[(_head + i) & (_ring._cap - 1)]);
    return s;
}

pipe_model pipe_model::restore(const pipe_params &params, const pipe_state &state)
{
    pipe_model m(params);
    if (state.queue.size() > m._ring._cap)
        m._ring = queue_storage(state.queue.size());
    m._s = state;
    m._s.queue = {};
    if (params.rate_bps == 0 || m._s.server_rem >= params.rate_bps)
        m._s.server_rem = 0;  // only a state saved under other parameters can be out of range
    for (const queued_packet &p : state.queue) {
        m._ring._slots[m._count++] = p;
        m._bytes += p.len_bytes;
    }
    return m;
}

void pipe_model::shift(int64_t delta_ns) noexcept
{
    _s.server_end_ns += delta_ns;
    _s.last_arrival_ns += delta_ns;
    _s.last_depart_ns += delta_ns;
    for (size_t i = 0; i < _count; i++)
        _ring._slots[(_head + i) & (_ring._cap - 1)].service_end_ns += delta_ns;
}

}  // namespace stasis::dataplane
