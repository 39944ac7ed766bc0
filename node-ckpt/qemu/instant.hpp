// CLOCK_REALTIME now, and sleeping until an absolute CLOCK_REALTIME instant.
#pragma once

#include <cerrno>
#include <cstdint>
#include <ctime>

namespace stasis::node {

inline int64_t realtime_ns() noexcept
{
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// Returns at once when `ns` is past. TIMER_ABSTIME on CLOCK_REALTIME follows clock steps (chrony, PTP).
inline void sleep_until_realtime(int64_t ns) noexcept
{
    const timespec ts{time_t(ns / 1'000'000'000), long(ns % 1'000'000'000)};
    while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
    }
}

}  // namespace stasis::node
