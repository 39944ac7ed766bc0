// The `link` blocks: names, endpoints, and each direction's pipe merged from `shape` and its own
// block, with every problem placed at the line the user wrote.
#include <map>
#include <set>

#include "pipe_read.hpp"
#include "readers.hpp"
#include "text.hpp"

namespace stasis::dataplane::detail {

namespace pb = stasis::config;

namespace {

constexpr size_t max_name = 64;

// Names appear on command lines and match links across a restore; keep them plain.
bool plain_name(std::string_view s) {
    for (unsigned char c : s)
        if (!std::isalnum(c) && c != '_' && c != '-' && c != '.') return false;
    return true;
}

std::string describe(const endpoint &e) {
    return cat("port ", quoted(e.port), e.vlan ? cat(" vlan ", *e.vlan) : std::string(" untagged"));
}

// One link being read: its message, its place in the file, and how messages name it.
struct link_reader {
    const pb::Link &msg;
    locator at;
    std::string label;  // "link 'lan0'"
    std::vector<std::string> &errors;

    void fail(const std::string &where, std::string_view field, const std::string &what) {
        errors.push_back(cat(where, ": ", label, " ", field, ": ", what));
    }

    endpoint read_endpoint(const pb::Endpoint &e, std::string_view side) {
        const locator ep = at.nested(side);
        const std::string field = cat(side, ".port");
        endpoint out{e.port(), std::nullopt, cat(ep.at("port"), ": ", label, " ", field)};
        if (e.port().empty()) fail(ep.at("port"), field, "missing port");
        if (e.has_vlan()) {
            if (e.vlan() >= 1 && e.vlan() <= 4094)
                out.vlan = uint16_t(e.vlan());
            else
                fail(ep.at("vlan"), cat(side, ".vlan"), cat(e.vlan(), " is not in 1..4094"));
        }
        return out;
    }

    // A problem of a merged direction is placed at the block that set the value: the direction's
    // own block, else `shape`; a value from a default is placed at the direction.
    void report(const issue &is, std::string_view dir, const pb::Pipe &own) {
        for (const std::string &f : is.fields) {
            for (auto [block, pipe] : {std::pair{dir, &own}, std::pair{std::string_view("shape"),
                                                                          &msg.shape()}}) {
                if (has_path(*pipe, f))
                    return fail(at.nested(block).at(f), cat(block, ".", f), is.message);
            }
        }
        const std::string &f = is.fields.front();
        fail(at.nested(dir).at(f), cat(dir, ".", f), is.message);
    }

    pipe_params read_direction(bool a_to_b) {
        const std::string_view dir = a_to_b ? "a_to_b" : "b_to_a";
        const pb::Pipe &own = a_to_b ? msg.a_to_b() : msg.b_to_a();
        pb::Pipe merged = msg.shape();
        merge_pipe(merged, own);
        std::vector<issue> issues;
        pipe_params p = read_pipe(merged, default_seed(msg.name(), a_to_b), issues);
        for (const issue &is : issues) report(is, dir, own);
        return p;
    }
};

// Endpoints in use: (port, vlan or 0 for untagged) -> who uses it. Untagged and tagged frames on a
// port are told apart, so only an exact match conflicts.
using endpoint_key = std::pair<std::string, uint16_t>;

}  // namespace

void read_links(const pb::Config &c, const locator &root, daemon_config &out,
                std::vector<std::string> &errors) {
    std::map<std::string, int> names;  // name -> line of first use
    std::map<endpoint_key, std::string> used;
    for (int i = 0; i < c.link_size(); ++i) {
        const pb::Link &l = c.link(i);
        const locator at = root.nested("link", i);
        link_reader r{l, at, l.name().empty() ? cat("link #", i + 1) : cat("link ", quoted(l.name())),
                      errors};
        link_config lc;
        lc.name = l.name();
        lc.where = cat(at.at(), ": ", r.label);
        if (l.name().empty())
            r.fail(at.at("name"), "name", "missing name");
        else if (l.name().size() > max_name || !plain_name(l.name()))
            r.fail(at.at("name"), "name",
                   cat("names have at most ", max_name, " letters, digits, '_', '-' or '.'"));
        else if (auto [it, fresh] = names.emplace(l.name(), at.line()); !fresh)
            r.fail(at.at("name"), "name", cat("duplicate name (first used at line ", it->second, ")"));

        lc.a = r.read_endpoint(l.a(), "a");
        lc.b = r.read_endpoint(l.b(), "b");
        if (!lc.a.port.empty() && lc.a == lc.b)
            r.fail(at.nested("b").at("port"), "b", cat("same endpoint as a (", describe(lc.b), ")"));
        for (auto [side, e] : {std::pair{"a", &lc.a}, std::pair{"b", &lc.b}}) {
            if (e->port.empty() || (side == std::string_view("b") && *e == lc.a)) continue;
            const endpoint_key key{e->port, e->vlan.value_or(0)};
            const std::string who = cat(r.label, " ", side, " (line ", at.nested(side).line(), ")");
            if (auto [it, fresh] = used.emplace(key, who); !fresh)
                r.fail(at.nested(side).at("port"), side,
                       cat(describe(*e), " is already used by ", it->second));
        }
        lc.a_to_b = r.read_direction(true);
        lc.b_to_a = r.read_direction(false);
        out.links.push_back(std::move(lc));
    }
}

}  // namespace stasis::dataplane::detail
