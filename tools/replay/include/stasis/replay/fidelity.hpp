// The fidelity report of a replay: each packet's delay against an independent reference of the
// configured link (reference.hpp), the achieved rate over busy periods, loss against its configured
// probability with a 99 % interval, reorderings, and the queue over time.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "stasis/replay/histogram.hpp"
#include "stasis/replay/reference.hpp"
#include "stasis/replay/replay.hpp"
#include "stasis/replay/time_series.hpp"

namespace stasis::replay {

// Loss observed against the configured model. For Bernoulli loss the interval is exact in the sense
// of Wilson's; Gilbert-Elliott losses are correlated, so the same interval is too narrow (indicative).
struct loss_check {
    std::string model;        // "none", "bernoulli", "gilbert-elliott"
    double expected = 0;      // plr, or the Gilbert-Elliott stationary loss rate
    uint64_t lost = 0, arrivals = 0;
    double observed = 0;
    double ci_low = 0, ci_high = 0;  // 99 % Wilson interval of the observed rate
    bool consistent = true;          // expected within the interval
};

class fidelity_report final : public replay_observer {
public:
    explicit fidelity_report(const dataplane::pipe_params &params);

    void on_arrival(const arrival_event &e) override;
    void on_departure(const departure_event &e) override;
    void on_checkpoint(const checkpoint_info &c) override { _checkpoint = c; }

    const histogram &delays() const noexcept { return _delay; }            // depart - arrival
    const histogram &reference_delays() const noexcept { return _ref_delay; }
    const histogram &delay_errors() const noexcept { return _error; }      // depart - reference
    const time_series &series() const noexcept { return _series; }
    uint64_t reorderings() const noexcept { return _reorderings; }
    uint64_t admission_mismatches() const noexcept { return _admit_mismatch; }
    uint64_t queue_mismatches() const noexcept { return _queue_mismatch; }
    uint64_t drops(dataplane::drop_reason r) const noexcept { return _drops[size_t(r)]; }
    // Achieved rate over busy periods (bit/s), 0 when no packet ever waited.
    double busy_rate_bps() const noexcept;
    loss_check loss() const;
    // Every departure equals the reference (with jitter: not checked), nothing reordered, every
    // admission and queue length as the reference's.
    bool exact() const noexcept;

    std::string json(const replay_options &o, const replay_summary &s) const;  // report_json.cpp
    std::string text(const replay_options &o, const replay_summary &s) const;  // report_text.cpp

private:
    dataplane::pipe_params _p;
    reference_link _ref;
    std::deque<std::optional<int64_t>> _expected;  // reference departures of the packets in flight
    histogram _delay, _ref_delay, _error;
    running_stats _jitter;
    time_series _series;
    std::optional<checkpoint_info> _checkpoint;
    uint64_t _arrivals = 0, _snapped = 0;
    uint64_t _drops[4] = {};
    uint64_t _admit_mismatch = 0, _queue_mismatch = 0, _reorderings = 0;
    int64_t _first_arrival = 0, _first_depart = 0, _last_depart = INT64_MIN;
    int64_t _prev_depart = 0;
    bool _have_prev = false;
    uint64_t _busy_bits = 0;
    int64_t _busy_ns = 0;
};

}  // namespace stasis::replay
