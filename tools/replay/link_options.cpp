// Command-line link options -> `link set` words -> Pipe changes -> checked pipe_params.
#include "stasis/replay/link_options.hpp"

#include <utility>
#include <vector>

#include "stasis/dataplane/config.hpp"

namespace stasis::replay {

namespace {

std::vector<std::string> split(const std::string &s)
{
    std::vector<std::string> out;
    size_t start = 0;
    for (;;) {
        const size_t comma = s.find(',', start);
        out.push_back(s.substr(start, comma - start));
        if (comma == std::string::npos)
            return out;
        start = comma + 1;
    }
}

using word_list = std::vector<std::string>;

// `keys` named in order; the option's value is one value per key, comma-separated, at least `min`.
std::expected<word_list, std::string> listed(const std::string &option, const std::string &value,
                                             std::initializer_list<const char *> keys, size_t min)
{
    const std::vector<std::string> values = split(value);
    if (values.size() < min || values.size() > keys.size()) {
        std::string names;
        for (const char *k : keys)
            names += std::string(names.empty() ? "" : ",") + k;
        return std::unexpected(option + " " + value + ": expected " + std::to_string(min) + " to " +
                               std::to_string(keys.size()) + " comma-separated values: " + names);
    }
    word_list out;
    auto key = keys.begin();
    for (const std::string &v : values)
        out.push_back(std::string(*key++) + "=" + v);
    return out;
}

}  // namespace

std::expected<dataplane::pipe_params, std::string> link_from_options(const link_options &o)
{
    // (option as typed, the `link set` words it stands for)
    std::vector<std::pair<std::string, std::vector<std::string>>> given;
    auto one = [&](const char *option, const std::optional<std::string> &v, const char *key) {
        if (v)
            given.push_back({std::string(option) + " " + *v, {std::string(key) + "=" + *v}});
    };
    one("--delay", o.delay, "delay");
    one("--rate", o.rate, "rate");
    one("--queue", o.queue, "queue_slots");
    one("--queue-bytes", o.queue_bytes, "queue_bytes");
    one("--plr", o.plr, "plr");
    one("--seed", o.seed, "seed");
    one("--jitter", o.jitter, "jitter");
    one("--jitter-dist", o.jitter_dist, "jitter_dist");
    one("--aqm", o.aqm, "aqm");
    if (o.ge) {
        auto w = listed("--ge", *o.ge, {"ge_p", "ge_r", "ge_loss_good", "ge_loss_bad"}, 2);
        if (!w)
            return std::unexpected(w.error());
        given.push_back({"--ge " + *o.ge, *w});
    }
    if (o.red) {
        if (!o.aqm)
            return std::unexpected("--red " + *o.red + ": RED parameters need --aqm red or --aqm gred");
        auto w = listed("--red", *o.red, {"thresh", "maxthresh", "q_weight", "linterm"}, 1);
        if (!w)
            return std::unexpected(w.error());
        given.push_back({"--red " + *o.red, *w});
    }
    if (o.plr && o.ge)
        return std::unexpected("--plr and --ge: choose one loss model");

    stasis::config::Pipe changes;
    for (const auto &[option, words] : given) {
        auto pipe = dataplane::parse_assignments(words);
        if (!pipe)
            return std::unexpected(option + ": " + pipe.error());
        changes.MergeFrom(*pipe);
    }
    auto params = dataplane::apply_changes(dataplane::pipe_params{}, changes);
    if (!params)
        return std::unexpected(params.error());
    return *params;
}

}  // namespace stasis::replay
