// Pipe message -> pipe_params: units parsed exactly, defaults filled, loss kind derived, rules run.
#include "pipe_read.hpp"

#include <bit>
#include <string>

#include "pipe_rules.hpp"
#include "stasis/dataplane/config.hpp"
#include "stasis/dataplane/units.hpp"
#include "text.hpp"

namespace stasis::dataplane {

namespace pb = stasis::config;

// The enums are converted by value; their orders must agree.
static_assert(int(pb::UNIFORM) == int(jitter_dist::uniform));
static_assert(int(pb::PARETONORMAL) == int(jitter_dist::paretonormal));
static_assert(int(pb::DROPTAIL) == int(aqm_kind::droptail));
static_assert(int(pb::GRED) == int(aqm_kind::gred));

uint64_t default_seed(std::string_view link_name, bool a_to_b) {
    // FNV-1a 64: stable across builds and hosts, so a config names the same runs everywhere.
    uint64_t h = 0xcbf29ce484222325ull;
    auto mix = [&h](std::string_view s) {
        for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
    };
    mix(link_name);
    mix(a_to_b ? "/a_to_b" : "/b_to_a");
    return h;
}

namespace detail {

void merge_pipe(pb::Pipe &into, const pb::Pipe &over) {
    into.MergeFrom(over);
    if (over.has_queue_slots() && !over.has_queue_bytes()) into.clear_queue_bytes();
    if (over.has_plr() && !over.has_gilbert_elliott()) into.clear_gilbert_elliott();
}

namespace {

// Parses one unit field when present; a bad value keeps the default and becomes an issue.
template <class T, class Parse>
void read_unit(bool has, const std::string &text, const char *field, Parse parse, T &dst,
               std::vector<issue> &issues) {
    if (!has) return;
    auto v = parse(text);
    if (v)
        dst = T(*v);
    else
        issues.push_back({{field}, std::move(v.error())});
}

void read_loss(const pb::Pipe &p, pipe_params &out) {
    if (p.has_plr()) out.plr = p.plr();
    if (p.has_gilbert_elliott()) {
        const pb::GilbertElliott &g = p.gilbert_elliott();
        out.loss = loss_kind::gilbert_elliott;
        if (g.has_p()) out.ge.p = g.p();
        if (g.has_r()) out.ge.r = g.r();
        if (g.has_loss_good()) out.ge.loss_good = g.loss_good();
        if (g.has_loss_bad()) out.ge.loss_bad = g.loss_bad();
    } else {
        out.loss = out.plr > 0 ? loss_kind::bernoulli : loss_kind::none;
    }
}

void read_aqm(const pb::Pipe &p, pipe_params &out, std::vector<issue> &issues) {
    if (p.has_aqm()) {
        if (pb::Aqm_IsValid(p.aqm()))
            out.aqm = aqm_kind(p.aqm());
        else
            issues.push_back({{"aqm"}, cat("unknown aqm ", int(p.aqm()))});
    }
    // RED without a red block (or with part of one) uses Emulab's defaults for the rest.
    const pb::Red &r = p.red();
    if (r.has_thresh()) out.red.thresh = r.thresh();
    if (r.has_maxthresh()) out.red.maxthresh = r.maxthresh();
    if (r.has_q_weight()) out.red.q_weight = r.q_weight();
    if (r.has_linterm()) out.red.linterm = r.linterm();
}

void read_fifo(const pb::Pipe &p, pipe_params &out, std::vector<issue> &issues) {
    if (!p.has_fifo_slots()) return;
    // Rings are powers of two; rounding up keeps at least the room asked for.
    if (p.fifo_slots() > max_fifo_slots)
        issues.push_back({{"fifo_slots"}, cat(p.fifo_slots(), " is above the maximum of ",
                                              max_fifo_slots)});
    else
        out.fifo_slots = p.fifo_slots() == 0 ? 0 : std::bit_ceil(p.fifo_slots());
}

}  // namespace

pipe_params read_pipe(const pb::Pipe &p, uint64_t seed, std::vector<issue> &issues) {
    const size_t before = issues.size();
    pipe_params out;
    read_unit(p.has_delay(), p.delay(), "delay", parse_duration_ns, out.delay_ns, issues);
    read_unit(p.has_jitter(), p.jitter(), "jitter", parse_duration_ns, out.jitter_ns, issues);
    if (p.has_jitter_dist()) {
        if (pb::JitterDist_IsValid(p.jitter_dist()))
            out.jitter = jitter_dist(p.jitter_dist());
        else
            issues.push_back({{"jitter_dist"}, cat("unknown jitter_dist ", int(p.jitter_dist()))});
    }
    read_unit(p.has_rate(), p.rate(), "rate", parse_rate_bps, out.rate_bps, issues);
    if (p.has_queue_slots()) out.queue_slots = p.queue_slots();
    read_unit(p.has_queue_bytes(), p.queue_bytes(), "queue_bytes", parse_size_bytes,
              out.queue_bytes, issues);
    read_loss(p, out);
    read_aqm(p, out, issues);
    out.seed = p.has_seed() ? p.seed() : seed;
    read_fifo(p, out, issues);
    // Rules on half-read values would report defaults standing in for the bad ones.
    if (issues.size() == before)
        for (issue &i : pipe_rules(out)) issues.push_back(std::move(i));
    return out;
}

}  // namespace detail
}  // namespace stasis::dataplane
