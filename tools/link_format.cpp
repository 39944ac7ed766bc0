// The tables of `stasis link show`.
#include "link_format.hpp"

#include <cctype>
#include <cstdio>

#include "table.hpp"

namespace stasis::tools {
namespace {

std::string lower(std::string s)
{
    for (auto &c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// %g keeps 0.01 as "0.01" and 1e-06 short; enough digits to tell settings apart.
std::string number(double v)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

bool is_zero(const std::string &quantity) { return quantity.empty() || quantity == "0"; }

}  // namespace

std::string endpoint_text(const config::Endpoint &e)
{
    std::string text = e.port().empty() ? "?" : e.port();
    if (e.has_vlan())
        text.append(".").append(std::to_string(e.vlan()));
    return text;
}

config::Pipe effective_pipe(const config::Link &link, bool a_to_b)
{
    config::Pipe pipe = link.shape();
    pipe.MergeFrom(a_to_b ? link.a_to_b() : link.b_to_a());
    return pipe;
}

std::string jitter_text(const config::Pipe &p)
{
    if (is_zero(p.jitter()))
        return "-";
    if (p.jitter_dist() == config::UNIFORM)
        return p.jitter();
    return p.jitter() + " " + lower(config::JitterDist_Name(p.jitter_dist()));
}

std::string rate_text(const config::Pipe &p) { return is_zero(p.rate()) ? "unlimited" : p.rate(); }

std::string queue_text(const config::Pipe &p)
{
    if (!is_zero(p.queue_bytes()))
        return p.queue_bytes();
    return p.has_queue_slots() ? std::to_string(p.queue_slots()) + " pkts" : "-";
}

std::string loss_text(const config::Pipe &p)
{
    if (p.has_gilbert_elliott()) {
        const auto &g = p.gilbert_elliott();
        return "ge p=" + number(g.p()) + " r=" + number(g.r()) + " 1-k=" + number(g.loss_good()) +
               " 1-h=" + number(g.loss_bad());
    }
    return p.plr() == 0 ? "0" : number(p.plr());
}

std::string aqm_text(const config::Pipe &p)
{
    if (p.aqm() == config::DROPTAIL)
        return "droptail";
    const auto &r = p.red();
    return lower(config::Aqm_Name(p.aqm())) + " " + number(r.thresh()) + "/" + number(r.maxthresh()) +
           " w=" + number(r.q_weight()) + " 1/p=" + std::to_string(r.linterm());
}

std::string links_table(const control::LinkList &links)
{
    using col = table::column;
    const auto right = table::align::right;
    table t({col{"LINK"}, col{"ENDPOINTS"}, col{"DIR"}, col{"DELAY", right}, col{"JITTER", right},
             col{"RATE", right}, col{"QUEUE", right}, col{"LOSS", right}, col{"AQM"}});
    for (const auto &info : links.links()) {
        const config::Link &link = info.link();
        const std::string ends = endpoint_text(link.a()) + " <-> " + endpoint_text(link.b());
        for (bool a_to_b : {true, false}) {
            const config::Pipe p = effective_pipe(link, a_to_b);
            t.add({a_to_b ? link.name() : "", a_to_b ? ends : "", a_to_b ? "a2b" : "b2a",
                   p.delay().empty() ? "0" : p.delay(), jitter_text(p), rate_text(p), queue_text(p),
                   loss_text(p), aqm_text(p)});
        }
    }
    return t.render();
}

}  // namespace stasis::tools
