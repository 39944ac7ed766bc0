// The daemon's clock: TSC cycles to CLOCK_REALTIME nanoseconds, cheap enough to read per burst.
#pragma once

#include <cstdint>

namespace stasis::dataplane {

// now_ns() = anchor_ns + (tsc - anchor_tsc) * 1e9 / hz, in fixed point (32 fractional bits) with a
// 128-bit product so that hours of uptime do not overflow. Anchored to CLOCK_REALTIME at calibration,
// so model instants and scheduled freeze instants (absolute CLOCK_REALTIME ns) share one time base.
class tsc_clock {
public:
    tsc_clock() = default;
    tsc_clock(uint64_t tsc_hz, uint64_t anchor_tsc, int64_t anchor_ns) noexcept
        : _anchor_tsc(anchor_tsc), _anchor_ns(anchor_ns),
          _mult_q32((static_cast<unsigned __int128>(1'000'000'000) << 32) / tsc_hz), _hz(tsc_hz) {}

    // Calibrated against CLOCK_REALTIME now (reads both clocks back to back and keeps the tightest pair).
    static tsc_clock calibrate(uint64_t tsc_hz) noexcept;

    int64_t to_ns(uint64_t tsc) const noexcept {
        const uint64_t d = tsc - _anchor_tsc;
        return _anchor_ns + static_cast<int64_t>((static_cast<unsigned __int128>(d) * _mult_q32) >> 32);
    }

    // TSC value at which to_ns() reaches ns (for sleeping until a departure).
    uint64_t to_tsc(int64_t ns) const noexcept {
        const int64_t d = ns - _anchor_ns;
        if (d <= 0)
            return _anchor_tsc;
        return _anchor_tsc + static_cast<uint64_t>((static_cast<unsigned __int128>(d) << 32) / _mult_q32);
    }

    int64_t now_ns() const noexcept;
    uint64_t hz() const noexcept { return _hz; }

private:
    uint64_t _anchor_tsc = 0;
    int64_t _anchor_ns = 0;
    uint64_t _mult_q32 = 0;
    uint64_t _hz = 0;
};

}  // namespace stasis::dataplane
