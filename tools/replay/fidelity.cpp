// Fidelity measurements, fed by the replay as it runs.
#include "stasis/replay/fidelity.hpp"

#include <cmath>

namespace stasis::replay {

namespace {
constexpr double z99 = 2.5758293035489004;  // two-sided 99 % normal quantile
}

fidelity_report::fidelity_report(const dataplane::pipe_params &params) : _p(params), _ref(params) {}

void fidelity_report::on_arrival(const arrival_event &e)
{
    if (_arrivals == 0)
        _first_arrival = e.arrival_ns;
    _arrivals++;
    _snapped += e.caplen < e.len;
    _drops[size_t(e.drop)]++;
    _series.add_queue_sample(e.arrival_ns - _first_arrival, e.queue.packets, e.queue.bytes);

    using dataplane::drop_reason;
    if (_ref.packets_at(e.arrival_ns) != e.queue.packets || _ref.bytes_at(e.arrival_ns) != e.queue.bytes)
        _queue_mismatch++;
    // Random decisions are the model's (its seeded RNG): the reference takes them as given.
    if (e.drop == drop_reason::loss || e.drop == drop_reason::red)
        return;
    const std::optional<int64_t> expect = _ref.arrive(e.arrival_ns, e.len);
    const bool admitted = e.drop == drop_reason::none;
    if (admitted != expect.has_value())
        _admit_mismatch++;
    if (admitted)
        _expected.push_back(expect);
}

void fidelity_report::on_departure(const departure_event &e)
{
    const int64_t d = e.depart_ns;
    _delay.add(d - e.arrival_ns);
    if (!_expected.empty()) {
        if (const std::optional<int64_t> ref = _expected.front()) {
            _ref_delay.add(*ref - e.arrival_ns);
            _error.add(d - *ref);
            if (_p.jitter_ns != 0)
                _jitter.add(double(d - *ref));
        }
        _expected.pop_front();
    }
    if (_have_prev) {
        if (d < _prev_depart)
            _reorderings++;
        // Busy period: the packet arrived while the previous one was still being serialized, so
        // its own serialization follows right after (the delay line is constant without jitter).
        if (_p.rate_bps != 0 && e.arrival_ns + _p.delay_ns < _prev_depart && d >= _prev_depart) {
            _busy_bits += uint64_t(e.len) * 8;
            _busy_ns += d - _prev_depart;
        }
    } else {
        _first_depart = d;
    }
    _have_prev = true;
    _prev_depart = d;
    _last_depart = std::max(_last_depart, d);
    _series.add_departure(d - _first_arrival, e.len);
}

double fidelity_report::busy_rate_bps() const noexcept
{
    return _busy_ns > 0 ? double(_busy_bits) * 1e9 / double(_busy_ns) : 0.0;
}

loss_check fidelity_report::loss() const
{
    loss_check c;
    c.lost = _drops[size_t(dataplane::drop_reason::loss)];
    c.arrivals = _arrivals;
    c.observed = _arrivals ? double(c.lost) / double(_arrivals) : 0.0;
    std::tie(c.ci_low, c.ci_high) = wilson_interval(c.lost, _arrivals, z99);
    switch (_p.loss) {
    case dataplane::loss_kind::none:
        c.model = "none";
        c.expected = 0;
        break;
    case dataplane::loss_kind::bernoulli:
        c.model = "bernoulli";
        c.expected = _p.plr;
        break;
    case dataplane::loss_kind::gilbert_elliott: {
        // Stationary share of the bad state; the state moves before each packet's loss decision.
        const auto &g = _p.ge;
        const double bad = g.p + g.r > 0 ? g.p / (g.p + g.r) : 0.0;
        c.model = "gilbert-elliott";
        c.expected = (1 - bad) * g.loss_good + bad * g.loss_bad;
        break;
    }
    }
    c.consistent = c.expected >= c.ci_low && c.expected <= c.ci_high;
    return c;
}

bool fidelity_report::exact() const noexcept
{
    const bool departures = _p.jitter_ns != 0 || (_error.count() == _error.zeros());
    return departures && _reorderings == 0 && _admit_mismatch == 0 && _queue_mismatch == 0 &&
           _expected.empty();
}

}  // namespace stasis::replay
