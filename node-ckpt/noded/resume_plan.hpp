// When each guest's cont is issued so that its pause equals the network's R - F.
//
// The delay nodes hold every frame from F and release it shifted by R - F, so a frame a guest sent at
// F + x (its stop lands after F) reaches the link as if sent at R + x. The guest's own pause is from its
// stop's landing (F + s) to its cont's (RESUME): for the guest and the network to agree, that is R + s.
// A cont takes a while to land (about 1 ms under TCG here, docs/NODE.md "Thaw"), so it is issued that much
// earlier, as measured on this guest's last conts.
//
// The stop is never issued early (a guest stops at F or after it): frames the delay node sends before F
// would reach a guest that has stopped. Stops issued early by their latency lost two segments of the e2e
// demo's stream that way (gA's fast retransmits in the swap window: its tap's queue went with the old
// QEMU). The tap's queue is saved since (tap_queue.hpp), but the first frame after a stop would still race
// the guard frame into QEMU's read-ahead, outside any saved state; after F nothing new arrives (the delay
// nodes hold what is due from F), so the guard wins.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

namespace stasis::noded {

// At most this much after R: a stop that landed later than that is an error of its own (and the
// controller waits 50 ms past R before its next Prepare, docs/CONTROLLER.md).
inline constexpr int64_t max_resume_shift_ns = 20'000'000;

// The last few conts of one guest (landed - issued); the expected one is their median, so one stalled
// cont does not move the next resume.
class cont_latency {
public:
    static constexpr int64_t default_ns = 1'000'000;  // before the first measurement

    void add(int64_t ns) noexcept
    {
        if (ns < 0)
            return;
        _last[_next++ % _last.size()] = ns;
        _count = std::min(_count + 1, _last.size());
    }
    int64_t expected_ns() const noexcept
    {
        if (_count == 0)
            return default_ns;
        std::array<int64_t, 5> v{};
        std::copy_n(_last.begin(), _count, v.begin());
        std::nth_element(v.begin(), v.begin() + _count / 2, v.begin() + _count);
        return v[_count / 2];
    }
    size_t count() const noexcept { return _count; }

private:
    std::array<int64_t, 5> _last{};
    size_t _next = 0, _count = 0;
};

// The instant to issue a guest's cont: R + (its stop's lateness past F, 0 if unknown) - its expected cont
// latency, the lateness capped at max_resume_shift_ns.
inline int64_t resume_issue_ns(int64_t r_ns, int64_t stop_late_ns, int64_t expected_cont_ns) noexcept
{
    return r_ns + std::clamp<int64_t>(stop_late_ns, 0, max_resume_shift_ns) - std::max<int64_t>(expected_cont_ns, 0);
}

}  // namespace stasis::noded
