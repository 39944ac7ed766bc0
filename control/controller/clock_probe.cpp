// Clock probes over the control protocol (ClockProbe / ClockProbeReply).
#include "stasis/control/clock_probe.hpp"

#include <algorithm>

#include "stasis/control/agent_replies.hpp"

namespace stasis::control {

std::expected<clock_estimate, call_error> probe_clock(agent_client &client, int probes,
                                                      std::chrono::milliseconds timeout, int tries)
{
    Request req;
    req.mutable_clock_probe();
    clock_estimate best;
    for (int i = 0; i < std::max(probes, 1); i++) {
        const int64_t t1 = realtime_ns();
        auto reply = client.call(req, timeout, tries);
        const int64_t t4 = realtime_ns();
        if (!reply)
            return std::unexpected(reply.error());
        if (reply->status() != OK || !reply->has_clock())
            return std::unexpected(call_error{call_error::kind::bad_reply,
                                              client.endpoint() + " does not answer clock probes: " +
                                                  (reply->message().empty() ? "no clock in its reply" : reply->message())});
        const clock_estimate s = clock_sample(t1, reply->clock().receive_ns(), reply->clock().transmit_ns(), t4);
        if (best.samples == 0 || s.rtt_ns < best.rtt_ns)
            best = {s.offset_ns, s.rtt_ns, best.samples};
        best.samples++;
    }
    return best;
}

skew_summary summarize(std::span<const clock_estimate> clocks)
{
    skew_summary s;
    if (clocks.empty())
        return s;
    auto [lo, hi] = std::ranges::minmax_element(clocks, {}, &clock_estimate::offset_ns);
    s.skew_ns = hi->offset_ns - lo->offset_ns;
    s.max_rtt_ns = std::ranges::max_element(clocks, {}, &clock_estimate::rtt_ns)->rtt_ns;
    s.bound_ns = s.skew_ns + s.max_rtt_ns;  // half a round trip of uncertainty on each side
    return s;
}

}  // namespace stasis::control
