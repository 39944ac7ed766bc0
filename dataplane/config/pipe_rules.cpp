// Validation of one pipe's exact parameters; every rule appends an issue instead of stopping.
#include "pipe_rules.hpp"

#include <bit>

#include "stasis/dataplane/config.hpp"
#include "stasis/dataplane/units.hpp"
#include "text.hpp"

namespace stasis::dataplane::detail {
namespace {

// Written so that NaN is outside.
bool in_unit_interval(double v) { return v >= 0 && v <= 1; }

void check_probability(std::vector<issue> &out, const char *field, double v) {
    if (!in_unit_interval(v)) out.push_back({{field}, cat(v, " is not in [0, 1]")});
}

void check_duration(std::vector<issue> &out, const char *field, int64_t ns) {
    if (ns < 0)
        out.push_back({{field}, cat("negative duration ", quoted(format_duration(ns)))});
    else if (ns > max_delay_ns)
        out.push_back({{field}, cat(format_duration(ns), " is above the maximum of ",
                                    format_duration(max_delay_ns))});
}

void check_loss(std::vector<issue> &out, const pipe_params &p) {
    // The file derives the kind from plr; parameters built by hand must agree with it.
    if (!in_unit_interval(p.plr))
        check_probability(out, "plr", p.plr);
    else if (p.loss == loss_kind::none && p.plr != 0)
        out.push_back({{"plr"}, cat("plr ", p.plr, " with no loss model")});
    else if (p.loss == loss_kind::bernoulli && p.plr == 0)
        out.push_back({{"plr"}, "Bernoulli loss needs plr above 0"});
    if (uint8_t(p.loss) > uint8_t(loss_kind::gilbert_elliott))
        out.push_back({{"gilbert_elliott"}, "unknown loss model"});
    check_probability(out, "gilbert_elliott.p", p.ge.p);
    check_probability(out, "gilbert_elliott.r", p.ge.r);
    check_probability(out, "gilbert_elliott.loss_good", p.ge.loss_good);
    check_probability(out, "gilbert_elliott.loss_bad", p.ge.loss_bad);
}

void check_queue(std::vector<issue> &out, const pipe_params &p) {
    if (p.queue_slots < 1 || p.queue_slots > max_queue_slots)
        out.push_back({{"queue_slots"}, cat(p.queue_slots, " is not in 1..", max_queue_slots)});
    if (p.queue_bytes != 0 && p.queue_bytes < min_queue_bytes)
        out.push_back({{"queue_bytes"}, cat(format_size(p.queue_bytes), " is below the minimum of ",
                                            format_size(min_queue_bytes), " (or 0: limit in slots)")});
    if (p.queue_bytes > max_queue_bytes)
        out.push_back({{"queue_bytes"}, cat(format_size(p.queue_bytes), " is above the maximum of ",
                                            format_size(max_queue_bytes))});
}

void check_red(std::vector<issue> &out, const pipe_params &p) {
    const red_params &r = p.red;
    if (uint8_t(p.aqm) > uint8_t(aqm_kind::gred)) out.push_back({{"aqm"}, "unknown aqm"});
    if (!(r.thresh > 0)) out.push_back({{"red.thresh"}, cat(r.thresh, " is not above 0")});
    if (!(r.maxthresh > r.thresh))
        out.push_back({{"red.maxthresh", "red.thresh"},
                       cat("maxthresh ", r.maxthresh, " is not above thresh ", r.thresh)});
    if (!(r.q_weight > 0 && r.q_weight <= 1))
        out.push_back({{"red.q_weight"}, cat(r.q_weight, " is not in (0, 1]")});
    if (r.linterm < 1) out.push_back({{"red.linterm"}, "0 is not at least 1 (max_p = 1/linterm)"});
    if (p.aqm == aqm_kind::droptail) return;  // thresholds only matter against the limit with RED

    // Thresholds are in the queue's unit, so they must fit under its limit.
    if (p.queue_bytes != 0) {
        if (r.maxthresh > double(p.queue_bytes))
            out.push_back({{"red.maxthresh", "queue_bytes", "aqm"},
                           cat("RED maxthresh ", r.maxthresh, " is above the queue limit of ",
                               p.queue_bytes, " bytes (queue_bytes)")});
        if (r.thresh < double(min_queue_bytes))
            out.push_back({{"red.thresh", "queue_bytes", "aqm"},
                           cat("RED thresh ", r.thresh, " is below one 64-byte packet: thresholds "
                               "are in bytes when queue_bytes limits the queue")});
    } else if (r.maxthresh > double(p.queue_slots)) {
        out.push_back({{"red.maxthresh", "queue_slots", "aqm"},
                       cat("RED maxthresh ", r.maxthresh, " is above the queue limit of ",
                           p.queue_slots, " packets (queue_slots)")});
    }
}

}  // namespace

std::vector<issue> pipe_rules(const pipe_params &p) {
    std::vector<issue> out;
    check_duration(out, "delay", p.delay_ns);
    check_duration(out, "jitter", p.jitter_ns);
    if (uint8_t(p.jitter) > uint8_t(jitter_dist::paretonormal))
        out.push_back({{"jitter_dist"}, "unknown jitter distribution"});
    check_queue(out, p);
    check_loss(out, p);
    check_red(out, p);
    if (p.fifo_slots != 0 && (p.fifo_slots > max_fifo_slots || !std::has_single_bit(p.fifo_slots)))
        out.push_back({{"fifo_slots"}, cat(p.fifo_slots, " is not 0 or a power of two up to ",
                                           max_fifo_slots)});
    return out;
}

}  // namespace stasis::dataplane::detail

namespace stasis::dataplane {

std::vector<std::string> check_pipe(const pipe_params &p) {
    std::vector<std::string> out;
    for (const detail::issue &i : detail::pipe_rules(p))
        out.push_back(detail::cat(i.fields.front(), ": ", i.message));
    return out;
}

}  // namespace stasis::dataplane
