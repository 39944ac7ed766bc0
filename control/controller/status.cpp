// `stasis status`: the catalog's view of the experiment and each agent's own, and the reports.
#include <sstream>

#include "controller_impl.hpp"
#include "stasis/realtime.hpp"

namespace stasis::control {

experiment_status controller::status()
{
    impl &p = *_p;
    p.refresh();
    experiment_status st;
    st.exp = p.exp;
    if (p.exp.head_id)
        if (auto c = p.cat.checkpoint_by_id(*p.exp.head_id))
            st.head = *c;
    if (auto u = p.cat.unfinished_ops(p.exp.id))
        st.unfinished = *u;
    xp::OpReport scratch;
    auto agents = p.connect(scratch, false);
    if (p.exp.state == experiment_state::swapped_out) {  // released: their daemons are gone
        for (auto &a : agents) {
            agent_status &s = st.agents.emplace_back();
            s.agent = a.spec->name();
            s.endpoint = a.report->endpoint();
            s.role = xp::Agent::Role_Name(a.spec->role());
            s.error = "released";
        }
        return st;
    }
    st.agents.resize(agents.size());
    p.each(agents, [&](agent_conn &a) -> std::string {
        agent_status &s = st.agents[size_t(&a - agents.data())];
        s.agent = a.spec->name();
        s.endpoint = a.report->endpoint();
        s.role = xp::Agent::Role_Name(a.spec->role());
        Request h;
        h.mutable_hello();
        Reply r;
        if (auto e = p.call(a, h, &r); !e.empty()) {
            s.error = e;
            s.busy = a.client->connected();
            return {};
        }
        s.reachable = true;
        s.version = r.hello().agent() + " " + r.hello().version();
        s.working_on = r.hello().working_on();
        s.busy = !s.working_on.empty();
        if (auto c = probe_clock(*a.client, 4, p.timeout(), 1)) {
            s.offset_ns = c->offset_ns;
            s.rtt_ns = c->rtt_ns;
        }
        Request q;
        q.mutable_freeze_status();
        if (p.call(a, q, &r).empty()) {
            s.frozen = r.freeze().frozen();
            s.freeze_ns = r.freeze().freeze_ns();
            s.checkpoint = r.freeze().checkpoint();
            s.saved = r.freeze().saved();
            s.working_since_ns = r.freeze().working_since_ns();
            for (const auto &l : r.freeze().links())
                s.held_packets += l.packets_a_to_b() + l.packets_b_to_a();
            for (const auto &l : r.freeze().lost())
                s.lost.emplace_back(l.guest(), l.why());
        }
        return {};
    });
    return st;
}

namespace {

// "save" -> "saving": the state column of an agent working on a long request.
std::string working_state(std::string work)
{
    if (!work.empty() && work.back() == 'e')
        work.pop_back();
    return work + "ing";
}

// An agent's own state, as far as freezing goes.
const char *freeze_state(const agent_status &a)
{
    return a.frozen ? (a.saved ? "saved" : "frozen") : "running";
}

std::string seconds_text(int64_t ns)
{
    char s[32];
    snprintf(s, sizeof s, "%.1f s", double(std::max<int64_t>(ns, 0)) / 1e9);
    return s;
}

}  // namespace

std::string render_status(const experiment_status &st)
{
    std::ostringstream o;
    o << "experiment " << st.exp.name << ": " << to_string(st.exp.state) << " on branch " << st.exp.branch;
    if (st.head)
        o << ", head " << st.head->name << " (" << format_utc_ns(st.head->freeze_ns) << ")";
    o << "\n";
    for (const auto &op : st.unfinished)
        o << "unfinished: " << to_string(op.kind) << " (operation " << op.id << ", phase " << op.phase << ") "
          << (owner_alive(op) ? "running in pid " + std::to_string(op.owner.pid)
                              : std::string("its controller died: the next command recovers it"))
          << "\n";
    char line[512];
    snprintf(line, sizeof line, "%-12s %-6s %-26s %-9s %-10s %10s %9s  %s\n", "AGENT", "ROLE", "ENDPOINT", "STATE",
             "CHECKPOINT", "OFFSET", "RTT", "HELD");
    o << line;
    for (const auto &a : st.agents) {
        const std::string state = a.error == "released"  ? "released"
                                  : !a.working_on.empty() ? working_state(a.working_on)
                                  : a.busy                ? "busy"
                                  : !a.reachable          ? "down"
                                                          : freeze_state(a);
        snprintf(line, sizeof line, "%-12s %-6s %-26s %-9s %-10s %10s %9s  %s\n", a.agent.c_str(), a.role.c_str(),
                 a.endpoint.c_str(), state.c_str(), a.checkpoint.empty() ? "-" : a.checkpoint.c_str(),
                 a.reachable ? us_text(a.offset_ns).c_str() : "-", a.reachable ? us_text(a.rtt_ns).c_str() : "-",
                 a.reachable ? (std::to_string(a.held_packets) + " frames").c_str() : a.error.c_str());
        o << line;
        if (!a.working_on.empty() && a.working_since_ns)  // its clock: ours plus its offset
            o << "  " << a.agent << ": " << working_state(a.working_on) << " for "
              << seconds_text(realtime_ns() + a.offset_ns - a.working_since_ns) << "; its state as the " << a.working_on
              << " began: " << freeze_state(a) << "\n";
        for (const auto &[guest, why] : a.lost)
            o << "  " << a.agent << ": guest " << guest << " is lost: " << why
              << "; its present cannot be saved: go back to a checkpoint (stasis timetravel "
              << st.exp.name << " CHECKPOINT)\n";
    }
    return o.str();
}

std::string render_status_json(const experiment_status &st)
{
    std::string out = "{\"experiment\":" + json_string(st.exp.name) + ",\"state\":" + json_string(to_string(st.exp.state)) +
                      ",\"branch\":" + json_string(st.exp.branch) + ",\"head\":" + json_string(st.head ? st.head->name : "") +
                      ",\"agents\":[";
    for (size_t i = 0; i < st.agents.size(); i++) {
        const auto &a = st.agents[i];
        out += std::string(i ? "," : "") + "{\"agent\":" + json_string(a.agent) +
               ",\"reachable\":" + (a.reachable ? "true" : "false") + ",\"busy\":" + (a.busy ? "true" : "false") +
               ",\"working_on\":" + json_string(a.working_on) +
               ",\"working_since_ns\":" + std::to_string(a.working_since_ns) +
               ",\"frozen\":" + (a.frozen ? "true" : "false") +
               ",\"saved\":" + (a.saved ? "true" : "false") + ",\"checkpoint\":" + json_string(a.checkpoint) +
               ",\"offset_ns\":" + std::to_string(a.offset_ns) + ",\"rtt_ns\":" + std::to_string(a.rtt_ns) +
               ",\"held_packets\":" + std::to_string(a.held_packets) + ",\"lost\":[";
        for (size_t j = 0; j < a.lost.size(); j++)
            out += std::string(j ? "," : "") + "{\"guest\":" + json_string(a.lost[j].first) +
                   ",\"why\":" + json_string(a.lost[j].second) + "}";
        out += "]";
        if (!a.reachable)
            out += ",\"error\":" + json_string(a.error);
        out += "}";
    }
    return out + "],\"unfinished_operations\":" + std::to_string(st.unfinished.size()) + "}";
}

std::string render_report(const xp::OpReport &r)
{
    std::ostringstream o;
    o << r.operation() << " " << r.experiment() << (r.checkpoint().empty() ? "" : " " + r.checkpoint()) << ": "
      << (r.ok() ? "ok" : "FAILED") << ": " << r.message() << "\n";
    if (r.freeze_ns())
        o << "  F " << format_utc_ns(r.freeze_ns()) << "  lead " << ms_text(r.lead_ns()) << "  command->F "
          << ms_text(r.command_to_freeze_ns()) << "  skew " << us_text(r.skew_ns()) << " (bound "
          << us_text(r.skew_bound_ns()) << ")  freeze spread " << us_text(r.freeze_spread_ns()) << "\n";
    if (r.resume_ns())
        o << "  R " << format_utc_ns(r.resume_ns()) << "\n";
    if (r.phases_size()) {
        o << "  phases:";
        for (const auto &ph : r.phases())
            o << "  " << ph.name() << " " << ms_text(ph.duration_ns());
        o << "\n";
    }
    char line[640];
    snprintf(line, sizeof line, "  %-12s %-10s %10s %10s %11s %8s  %s\n", "AGENT", "STATE", "OFFSET", "RTT",
             "FREEZE-SKEW", "HELD", "ARTIFACT");
    o << line;
    for (const auto &a : r.agents()) {
        snprintf(line, sizeof line, "  %-12s %-10s %10s %10s %11s %8llu  %s%s\n", a.agent().c_str(),
                 a.state().c_str(), us_text(a.offset_ns()).c_str(), us_text(a.rtt_ns()).c_str(),
                 us_text(a.freeze_skew_ns()).c_str(), (unsigned long long)a.held_packets(),
                 a.artifact().empty() ? "-" : (a.artifact() + " (" + format_bytes(int64_t(a.artifact_bytes())) + ")").c_str(),
                 a.error().empty() ? "" : ("  error: " + a.error()).c_str());
        o << line;
        for (const auto &w : a.warnings())
            o << "    " << a.agent() << ": warning: " << w << "\n";
    }
    return o.str();
}

}  // namespace stasis::control
