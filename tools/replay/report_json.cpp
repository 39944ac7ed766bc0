// The fidelity report as JSON (--report FILE.json); the shape is documented in docs/FIDELITY.md.
#include <google/protobuf/util/json_util.h>

#include "json_writer.hpp"
#include "stasis/dataplane/config.hpp"
#include "stasis/replay/fidelity.hpp"

namespace stasis::replay {

namespace {

void distribution(json_writer &j, std::string_view key, const histogram &h)
{
    j.begin_object(key).value("count", h.count());
    if (h.count() != 0)
        j.value("min", h.min()).value("p50", h.percentile(0.50)).value("p99", h.percentile(0.99))
            .value("max", h.max()).value("mean", h.mean());
    j.end_object();
}

std::string link_json(const dataplane::pipe_params &p)
{
    google::protobuf::util::JsonPrintOptions o;
    o.preserve_proto_field_names = true;
    o.always_print_primitive_fields = true;
    std::string out;
    if (!google::protobuf::util::MessageToJsonString(dataplane::to_proto(p), &out, o).ok())
        return "null";
    return out;
}

const char *jitter_dist_name(dataplane::jitter_dist d)
{
    switch (d) {
    case dataplane::jitter_dist::uniform: return "uniform";
    case dataplane::jitter_dist::normal: return "normal";
    case dataplane::jitter_dist::pareto: return "pareto";
    case dataplane::jitter_dist::paretonormal: return "paretonormal";
    }
    return "?";
}

double per_second(double bits, int64_t ns) { return ns > 0 ? bits * 1e9 / double(ns) : 0.0; }

}  // namespace

std::string fidelity_report::json(const replay_options &o, const replay_summary &s) const
{
    using dataplane::drop_reason;
    json_writer j;
    j.begin_object();
    j.begin_object("input").value("path", o.in_path).value("packets", s.packets_in)
        .value("bytes", s.bytes_in).value("snapped_packets", _snapped)
        .value("first_ns", s.first_arrival_ns).value("last_ns", s.last_arrival_ns)
        .value("duration_ns", s.last_arrival_ns - s.first_arrival_ns).end_object();
    j.begin_object("output").value("path", o.out_path).value("packets", s.packets_out)
        .value("bytes", s.bytes_out).value("max_in_flight", uint64_t(s.max_in_flight)).end_object();
    j.raw("link", link_json(o.params));
    j.value("exact", exact());
    j.begin_object("counts").value("arrivals", _arrivals).value("departures", _delay.count());
    j.begin_object("drops").value("loss", drops(drop_reason::loss)).value("red", drops(drop_reason::red))
        .value("queue", drops(drop_reason::queue)).end_object();
    j.value("admission_mismatches", _admit_mismatch).value("queue_mismatches", _queue_mismatch)
        .value("reorderings", _reorderings).end_object();

    distribution(j, "delay_ns", _delay);
    distribution(j, "reference_delay_ns", _ref_delay);
    distribution(j, "delay_error_ns", _error);
    j.value("delay_error_zero", _error.zeros());
    if (_p.jitter_ns != 0)
        j.begin_object("jitter").value("configured_ns", _p.jitter_ns)
            .value("dist", jitter_dist_name(_p.jitter))
            .value("mean_ns", _jitter.mean()).value("stddev_ns", _jitter.stddev())
            .value("min_ns", _error.min()).value("max_ns", _error.max()).end_object();
    else
        j.null("jitter");

    const int64_t out_span = _delay.count() > 1 ? _last_depart - _first_depart : 0;
    j.begin_object("throughput").value("rate_bps", _p.rate_bps).value("busy_bps", busy_rate_bps())
        .value("busy_ratio", _p.rate_bps ? busy_rate_bps() / double(_p.rate_bps) : 0.0)
        .value("busy_bits", _busy_bits).value("busy_ns", _busy_ns)
        .value("offered_bps", per_second(double(s.bytes_in) * 8, s.last_arrival_ns - s.first_arrival_ns))
        .value("delivered_bps", per_second(double(s.bytes_out) * 8, out_span)).end_object();

    const loss_check l = loss();
    j.begin_object("loss").value("model", l.model).value("expected", l.expected).value("lost", l.lost)
        .value("arrivals", l.arrivals).value("observed", l.observed);
    j.begin_array("ci99", true).value("", l.ci_low).value("", l.ci_high).end_array();
    j.value("consistent", l.consistent).end_object();

    uint64_t q_samples = 0, q_sum = 0, q_max = 0, q_max_bytes = 0;
    for (const series_bin &b : _series.bins()) {
        q_samples += b.q_samples;
        q_sum += b.q_sum_packets;
        q_max = std::max(q_max, b.q_max_packets);
        q_max_bytes = std::max(q_max_bytes, b.q_max_bytes);
    }
    j.begin_object("queue").value("sampled", "at each arrival, before it is admitted")
        .value("limit_packets", _p.queue_bytes ? uint64_t(0) : uint64_t(_p.queue_slots))
        .value("limit_bytes", _p.queue_bytes)
        .value("mean_packets", q_samples ? double(q_sum) / double(q_samples) : 0.0)
        .value("max_packets", q_max).value("max_bytes", q_max_bytes).end_object();

    j.begin_object("series").value("bin_ns", _series.bin_ns());
    j.begin_array("columns", true).value("", "t_ns").value("", "out_bps").value("", "queue_mean_packets")
        .value("", "queue_max_packets").value("", "queue_max_bytes").end_array();
    j.begin_array("rows");
    for (size_t i = 0; i < _series.bins().size(); i++) {
        const series_bin &b = _series.bins()[i];
        j.begin_array("", true).value("", int64_t(i) * _series.bin_ns())
            .value("", per_second(double(b.out_bytes) * 8, _series.bin_ns()));
        if (b.q_samples)
            j.value("", double(b.q_sum_packets) / double(b.q_samples));
        else
            j.null("");
        j.value("", b.q_max_packets).value("", b.q_max_bytes).end_array();
    }
    j.end_array().end_object();

    if (_checkpoint)
        j.begin_object("checkpoint").value("at_ns", _checkpoint->freeze_ns - s.first_arrival_ns)
            .value("freeze_ns", _checkpoint->freeze_ns).value("pause_ns", _checkpoint->pause_ns)
            .value("held_packets", _checkpoint->held_packets).value("held_bytes", _checkpoint->held_bytes)
            .value("image_bytes", _checkpoint->image_bytes).end_object();
    else
        j.null("checkpoint");
    j.value("percentiles", "nearest rank; exact below 1024 ns, else within 1/1024 of the value");
    j.end_object();
    return j.str();
}

}  // namespace stasis::replay
