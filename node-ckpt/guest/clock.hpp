// Clock reads in int64 nanoseconds.
#pragma once

#include <cstdint>
#include <ctime>

namespace stasis::guest {

inline int64_t clock_ns(clockid_t id) noexcept
{
    timespec ts;
    clock_gettime(id, &ts);
    return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

inline timespec to_timespec(int64_t ns) noexcept
{
    return {time_t(ns / 1'000'000'000), long(ns % 1'000'000'000)};
}

}  // namespace stasis::guest
