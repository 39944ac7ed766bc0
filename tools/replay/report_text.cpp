// The fidelity report as a short summary for people (stdout of `stasis replay`).
#include <cstdio>

#include "human.hpp"
#include "stasis/dataplane/units.hpp"
#include "stasis/replay/fidelity.hpp"

namespace stasis::replay {

namespace {

std::string line(const char *format, auto... args)
{
    char buf[512];
    std::snprintf(buf, sizeof buf, format, args...);
    return buf;
}

std::string describe(const dataplane::pipe_params &p)
{
    using namespace dataplane;
    std::string s = "delay " + format_duration(p.delay_ns) + ", rate " +
                    (p.rate_bps ? format_rate(p.rate_bps) : std::string("unlimited")) + ", queue " +
                    (p.queue_bytes ? format_size(p.queue_bytes) : std::to_string(p.queue_slots) + " packets");
    s += p.aqm == aqm_kind::droptail ? ", droptail" : p.aqm == aqm_kind::red ? ", RED" : ", GRED";
    if (p.loss == loss_kind::bernoulli)
        s += line(", plr %g", p.plr);
    else if (p.loss == loss_kind::gilbert_elliott)
        s += line(", Gilbert-Elliott p %g r %g loss %g/%g", p.ge.p, p.ge.r, p.ge.loss_good, p.ge.loss_bad);
    if (p.jitter_ns)
        s += ", jitter " + format_duration(p.jitter_ns);
    return s + ", seed " + std::to_string(p.seed);
}

std::string distribution(const histogram &h)
{
    return "min " + human_ns(double(h.min())) + ", p50 " + human_ns(double(h.percentile(0.5))) + ", p99 " +
           human_ns(double(h.percentile(0.99))) + ", max " + human_ns(double(h.max()));
}

}  // namespace

std::string fidelity_report::text(const replay_options &o, const replay_summary &s) const
{
    using dataplane::drop_reason;
    const uint64_t dropped = _arrivals - _delay.count();
    std::string out = "stasis replay: " + o.in_path + " -> " + o.out_path + "\n";
    out += "  link: " + describe(_p) + "\n";
    out += line("  packets: %llu in (%s over %s), %llu out; dropped %llu (loss %llu, red %llu, queue %llu)\n",
                (unsigned long long)s.packets_in, human_bytes(double(s.bytes_in)).c_str(),
                human_ns(double(s.last_arrival_ns - s.first_arrival_ns)).c_str(),
                (unsigned long long)s.packets_out, (unsigned long long)dropped,
                (unsigned long long)drops(drop_reason::loss), (unsigned long long)drops(drop_reason::red),
                (unsigned long long)drops(drop_reason::queue));
    if (_delay.count())
        out += "  delay: " + distribution(_delay) + "\n";
    const uint64_t differ = _error.count() - _error.zeros();
    if (_p.jitter_ns != 0)
        out += line("  jitter (departure - reference without jitter): mean %s, sd %s, min %s, max %s\n",
                    human_ns(_jitter.mean()).c_str(), human_ns(_jitter.stddev()).c_str(),
                    human_ns(double(_error.min())).c_str(), human_ns(double(_error.max())).c_str());
    else if (differ == 0)
        out += line("  vs reference: every departure equal to the nanosecond (%llu compared)\n",
                    (unsigned long long)_error.count());
    else
        out += line("  vs reference: %llu of %llu departures differ; error p50 %s, p99 %s, min %s, max %s\n",
                    (unsigned long long)differ, (unsigned long long)_error.count(),
                    human_ns(double(_error.percentile(0.5))).c_str(),
                    human_ns(double(_error.percentile(0.99))).c_str(), human_ns(double(_error.min())).c_str(),
                    human_ns(double(_error.max())).c_str());
    if (_admit_mismatch || _queue_mismatch)
        out += line("  vs reference: %llu admission and %llu queue-length mismatches\n",
                    (unsigned long long)_admit_mismatch, (unsigned long long)_queue_mismatch);
    if (_p.rate_bps != 0 && _busy_ns > 0)
        out += line("  throughput over busy periods: %s = %.6f x rate (%s busy)\n",
                    human_bps(busy_rate_bps()).c_str(), busy_rate_bps() / double(_p.rate_bps),
                    human_ns(double(_busy_ns)).c_str());
    else if (_p.rate_bps != 0)
        out += "  throughput: no packet ever waited for another (no busy period)\n";
    const loss_check l = loss();
    if (l.model != "none")
        out += line("  loss: %llu of %llu = %s (99%% interval %s..%s), %s expects %s: %s\n",
                    (unsigned long long)l.lost, (unsigned long long)l.arrivals, percent(l.observed).c_str(),
                    percent(l.ci_low).c_str(), percent(l.ci_high).c_str(), l.model.c_str(),
                    percent(l.expected).c_str(),
                    l.consistent ? "consistent" : (l.model == "bernoulli" ? "NOT consistent" : "outside"));
    out += line("  reorderings: %llu\n", (unsigned long long)_reorderings);
    uint64_t q_samples = 0, q_sum = 0, q_max = 0, q_max_bytes = 0;
    for (const series_bin &b : _series.bins()) {
        q_samples += b.q_samples;
        q_sum += b.q_sum_packets;
        q_max = std::max(q_max, b.q_max_packets);
        q_max_bytes = std::max(q_max_bytes, b.q_max_bytes);
    }
    out += line("  queue seen by arrivals: mean %.2f packets, max %llu packets / %s\n",
                q_samples ? double(q_sum) / double(q_samples) : 0.0, (unsigned long long)q_max,
                human_bytes(double(q_max_bytes)).c_str());
    if (_checkpoint)
        out += line("  checkpoint: froze at first packet + %s with %llu packets (%s) in flight, image %s; "
                    "resumed %s later\n",
                    dataplane::format_duration(_checkpoint->freeze_ns - s.first_arrival_ns).c_str(),
                    (unsigned long long)_checkpoint->held_packets,
                    human_bytes(double(_checkpoint->held_bytes)).c_str(),
                    human_bytes(double(_checkpoint->image_bytes)).c_str(),
                    dataplane::format_duration(_checkpoint->pause_ns).c_str());
    out += std::string("  result: ") +
           (exact() ? (_p.jitter_ns ? "admissions and queue exact; departures carry jitter\n"
                                    : "EXACT: the link behaved as its definition to the nanosecond\n")
                    : "DIFFERS from the reference (see above)\n");
    return out;
}

}  // namespace stasis::replay
