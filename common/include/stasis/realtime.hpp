// CLOCK_REALTIME in nanoseconds: the time base of freeze and resume instants (F, R) across hosts, and of
// the clocks every agent reports. One definition for the dataplane, the node agents and the control side.
#pragma once

#include <cstdint>
#include <ctime>

namespace stasis {

inline int64_t realtime_ns() noexcept
{
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace stasis
