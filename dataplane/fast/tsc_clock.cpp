// Calibration of the TSC clock against CLOCK_REALTIME.
#include "tsc_clock.hpp"

#include <ctime>

#include <rte_cycles.h>

namespace stasis::dataplane {

static int64_t realtime_ns() noexcept
{
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

tsc_clock tsc_clock::calibrate(uint64_t tsc_hz) noexcept
{
    // The pair read with the smallest TSC window brackets the realtime read most tightly.
    uint64_t best_window = UINT64_MAX, best_tsc = 0;
    int64_t best_ns = 0;
    for (int i = 0; i < 16; i++) {
        const uint64_t t0 = rte_rdtsc_precise();
        const int64_t ns = realtime_ns();
        const uint64_t t1 = rte_rdtsc_precise();
        if (t1 - t0 < best_window) {
            best_window = t1 - t0;
            best_tsc = t0 + (t1 - t0) / 2;
            best_ns = ns;
        }
    }
    return tsc_clock(tsc_hz, best_tsc, best_ns);
}

int64_t tsc_clock::now_ns() const noexcept
{
    return to_ns(rte_rdtsc());
}

}  // namespace stasis::dataplane
