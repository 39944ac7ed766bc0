// Calibration of the node clock against CLOCK_REALTIME.
#include "node_clock.hpp"

namespace stasis::dataplane {

static int64_t read_ns(clockid_t id) noexcept
{
    timespec ts;
    clock_gettime(id, &ts);
    return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

node_clock node_clock::calibrate() noexcept
{
    int64_t best_window = INT64_MAX, best_offset = 0;
    for (int i = 0; i < 16; i++) {
        const int64_t m0 = read_ns(CLOCK_MONOTONIC);
        const int64_t r = read_ns(CLOCK_REALTIME);
        const int64_t m1 = read_ns(CLOCK_MONOTONIC);
        if (m1 - m0 < best_window) {
            best_window = m1 - m0;
            best_offset = r - (m0 + (m1 - m0) / 2);
        }
    }
    return node_clock(best_offset);
}

}  // namespace stasis::dataplane
