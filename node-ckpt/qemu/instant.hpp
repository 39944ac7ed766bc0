// CLOCK_REALTIME now, and sleeping until an absolute CLOCK_REALTIME instant.
#pragma once

#include <cerrno>
#include <cstdint>
#include <ctime>

#include "stasis/realtime.hpp"

namespace stasis::node {

using stasis::realtime_ns;

// Returns at once when `ns` is past. TIMER_ABSTIME on CLOCK_REALTIME follows clock steps (chrony, PTP).
inline void sleep_until_realtime(int64_t ns) noexcept
{
    const timespec ts{time_t(ns / 1'000'000'000), long(ns % 1'000'000'000)};
    while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
    }
}

}  // namespace stasis::node
