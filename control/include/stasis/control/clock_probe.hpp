// NTP-style clock probing of an agent: several request/reply exchanges, the one with the smallest
// round trip kept (its offset is the least disturbed by queueing), and the skew across agents.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <span>

#include "stasis/control/agent_client.hpp"

namespace stasis::control {

struct clock_estimate {
    int64_t offset_ns = 0;  // agent clock minus controller clock: F in the agent's clock is F + offset
    int64_t rtt_ns = 0;     // of the best probe, minus the agent's own time between receive and reply
    int samples = 0;
};

// The offset of one exchange: t1 sent, t2 agent received, t3 agent replied, t4 reply received.
inline clock_estimate clock_sample(int64_t t1, int64_t t2, int64_t t3, int64_t t4)
{
    return {((t2 - t1) + (t3 - t4)) / 2, (t4 - t1) - (t3 - t2), 1};
}

// `probes` exchanges; an error when the agent does not answer or is not an agent that probes.
std::expected<clock_estimate, call_error> probe_clock(agent_client &client, int probes,
                                                      std::chrono::milliseconds timeout, int tries);

struct skew_summary {
    int64_t skew_ns = 0;     // largest offset minus smallest (0 with one agent)
    int64_t max_rtt_ns = 0;  // the worst agent's best round trip
    // How far two agents' freezes may land apart: the skew plus each side's half round trip of
    // uncertainty, which the offsets cannot resolve.
    int64_t bound_ns = 0;
};
skew_summary summarize(std::span<const clock_estimate> clocks);

}  // namespace stasis::control
