// Run-time changes: `key=value` words (as `stasis link set` gets them) -> Pipe, and Pipe over the
// applied parameters -> new parameters checked with the file's rules. Nothing here throws.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>

#include "pipe_read.hpp"
#include "stasis/dataplane/config.hpp"
#include "stasis/dataplane/units.hpp"
#include "text.hpp"

namespace stasis::dataplane {

namespace pb = stasis::config;
using detail::cat;
using detail::quoted;

namespace {

using setter = std::optional<std::string> (*)(pb::Pipe &, std::string_view);

// A whole word must be the number; "1.5x" is not 1.5.
template <class T>
std::optional<T> number(std::string_view v) {
    T out{};
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    if (ec != std::errc() || end != v.data() + v.size()) return std::nullopt;
    return out;
}

std::string upper(std::string_view s) {
    std::string out(s);
    std::ranges::transform(out, out.begin(), [](unsigned char c) { return std::toupper(c); });
    return out;
}

template <auto Parse, auto Set>
std::optional<std::string> unit_value(pb::Pipe &p, std::string_view v) {
    if (auto ok = Parse(v); !ok) return ok.error();
    (p.*Set)(std::string(v));
    return std::nullopt;
}

// Emulab's tevc takes bandwidth in kbit/s and ours are bit/s: a bare number is refused here.
std::optional<std::string> rate_value(pb::Pipe &p, std::string_view v) {
    auto bps = parse_rate_bps(v);
    if (!bps) return bps.error();
    if (*bps != 0 && v.find_first_not_of("0123456789.") == std::string_view::npos)
        return cat("rate ", quoted(v), " needs a unit here (e.g. '", v, "kbit' or '", v, "Mbit')");
    p.set_rate(std::string(v));
    return std::nullopt;
}

template <class T, class Msg>
std::optional<std::string> set_number(Msg &m, void (Msg::*set)(T), std::string_view v) {
    auto n = number<T>(v);
    if (!n) return cat(quoted(v), " is not a number");
    (m.*set)(*n);
    return std::nullopt;
}

template <class T, auto Set>
std::optional<std::string> number_value(pb::Pipe &p, std::string_view v) {
    return set_number<T>(p, Set, v);
}

template <class T, auto Set>
std::optional<std::string> ge_value(pb::Pipe &p, std::string_view v) {
    return set_number<T>(*p.mutable_gilbert_elliott(), Set, v);
}

template <class T, auto Set>
std::optional<std::string> red_value(pb::Pipe &p, std::string_view v) {
    return set_number<T>(*p.mutable_red(), Set, v);
}

std::optional<std::string> jitter_dist_value(pb::Pipe &p, std::string_view v) {
    pb::JitterDist d;
    if (!pb::JitterDist_Parse(upper(v), &d))
        return cat("unknown jitter_dist ", quoted(v), " (uniform, normal, pareto or paretonormal)");
    p.set_jitter_dist(d);
    return std::nullopt;
}

std::optional<std::string> aqm_value(pb::Pipe &p, std::string_view v) {
    pb::Aqm a;
    if (!pb::Aqm_Parse(upper(v), &a)) return cat("unknown aqm ", quoted(v), " (droptail, red or gred)");
    p.set_aqm(a);
    return std::nullopt;
}

struct key_def {
    std::string_view key;
    std::string_view field;  // aliases share it, so "rate=1Mbit bw=2Mbit" is a repeat
    setter set;
};

const key_def keys[] = {
    {"delay", "delay", unit_value<parse_duration_ns, &pb::Pipe::set_delay<std::string>>},
    {"jitter", "jitter", unit_value<parse_duration_ns, &pb::Pipe::set_jitter<std::string>>},
    {"jitter_dist", "jitter_dist", jitter_dist_value},
    {"rate", "rate", rate_value},
    {"bw", "rate", rate_value},
    {"bandwidth", "rate", rate_value},
    {"queue", "queue_slots", number_value<uint32_t, &pb::Pipe::set_queue_slots>},
    {"queue_slots", "queue_slots", number_value<uint32_t, &pb::Pipe::set_queue_slots>},
    {"limit", "queue_slots", number_value<uint32_t, &pb::Pipe::set_queue_slots>},
    {"queue_bytes", "queue_bytes",
     unit_value<parse_size_bytes, &pb::Pipe::set_queue_bytes<std::string>>},
    {"plr", "plr", number_value<double, &pb::Pipe::set_plr>},
    {"loss", "plr", number_value<double, &pb::Pipe::set_plr>},
    {"aqm", "aqm", aqm_value},
    {"thresh", "thresh", red_value<double, &pb::Red::set_thresh>},
    {"maxthresh", "maxthresh", red_value<double, &pb::Red::set_maxthresh>},
    {"q_weight", "q_weight", red_value<double, &pb::Red::set_q_weight>},
    {"linterm", "linterm", red_value<uint32_t, &pb::Red::set_linterm>},
    {"ge_p", "ge_p", ge_value<double, &pb::GilbertElliott::set_p>},
    {"ge_r", "ge_r", ge_value<double, &pb::GilbertElliott::set_r>},
    {"ge_loss_good", "ge_loss_good", ge_value<double, &pb::GilbertElliott::set_loss_good>},
    {"ge_loss_bad", "ge_loss_bad", ge_value<double, &pb::GilbertElliott::set_loss_bad>},
    {"seed", "seed", number_value<uint64_t, &pb::Pipe::set_seed>},
};

std::string known_keys() {
    std::string out;
    for (const key_def &k : keys) out += cat(out.empty() ? "" : ", ", k.key);
    return out;
}

}  // namespace

std::expected<pb::Pipe, std::string> parse_assignments(const std::vector<std::string> &args) {
    pb::Pipe out;
    std::vector<std::string_view> seen;
    for (const std::string &word : args) {
        const size_t eq = word.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == word.size())
            return std::unexpected(cat(quoted(word), ": expected key=value (e.g. delay=10ms)"));
        const std::string_view key = std::string_view(word).substr(0, eq);
        const std::string_view value = std::string_view(word).substr(eq + 1);
        auto k = std::ranges::find(keys, key, &key_def::key);
        if (k == std::end(keys))
            return std::unexpected(
                cat(quoted(word), ": unknown key ", quoted(key), " (known: ", known_keys(), ")"));
        if (std::ranges::find(seen, k->field) != seen.end())
            return std::unexpected(cat(quoted(word), ": ", k->field, " is set twice"));
        seen.push_back(k->field);
        if (auto why = k->set(out, value)) return std::unexpected(cat(quoted(word), ": ", *why));
    }
    return out;
}

std::expected<pipe_params, std::string> apply_changes(const pipe_params &base,
                                                      const pb::Pipe &changes) {
    // The applied parameters as a full Pipe, then the changes merged as a file's direction block
    // merges over `shape`: the same merge, units and rules as the file.
    pb::Pipe merged = to_proto(base);
    detail::merge_pipe(merged, changes);
    std::vector<detail::issue> issues;
    pipe_params out = detail::read_pipe(merged, base.seed, issues);
    if (issues.empty()) return out;
    std::string why;
    for (const detail::issue &i : issues)
        why += cat(why.empty() ? "" : "; ", i.fields.front(), ": ", i.message);
    return std::unexpected(why);
}

}  // namespace stasis::dataplane
