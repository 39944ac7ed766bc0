// The daemon's clock: CLOCK_REALTIME nanoseconds that never step, cheap enough to read per burst.
#pragma once

#include <cstdint>
#include <ctime>

namespace stasis::dataplane {

// now_ns() = CLOCK_MONOTONIC + (realtime - monotonic at calibration): the time base of model instants
// and of scheduled freeze instants (absolute CLOCK_REALTIME ns), slewed by NTP/PTP like CLOCK_REALTIME
// but never stepped, so arrivals never go backwards. Read through the vDSO (about 25 ns here).
//
// Not the TSC: on the virtual machines this runs on, DPDK's TSC frequency estimate was seen off by a
// factor of two in some runs (the kernel marks the TSC unstable), which stretches every delay.
class node_clock {
public:
    node_clock() = default;
    explicit node_clock(int64_t offset_ns) noexcept : _offset_ns(offset_ns) {}

    // Measures the realtime - monotonic offset, keeping the tightest of a few bracketing reads.
    static node_clock calibrate() noexcept;

    int64_t now_ns() const noexcept {
        timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec + _offset_ns;
    }

private:
    int64_t _offset_ns = 0;
};

}  // namespace stasis::dataplane
