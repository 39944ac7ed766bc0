// The controller's restores: swap-in (load a checkpoint into the agents, maybe at other endpoints,
// and resume them at one instant) and time-travel (the same into a running experiment, as a new
// branch).
#include <map>

#include "controller_impl.hpp"

namespace stasis::control {

namespace {

control::checkpoint find_checkpoint(catalog &cat, const experiment &exp, const std::optional<std::string> &name)
{
    if (!name && !exp.head_id)
        throw op_failure("experiment " + exp.name + " has no checkpoint yet");
    control::checkpoint c = name ? must(cat.checkpoint_by_name(exp.id, *name)) : must(cat.checkpoint_by_id(*exp.head_id));
    if (c.state != checkpoint_state::committed)
        throw op_failure("checkpoint " + c.name + " is " + std::string(to_string(c.state)) +
                         ", not committed: it cannot be restored");
    return c;
}

}  // namespace

// Load every agent's artifact of `c`; on failure, what loaded is left frozen and the error thrown.
void controller::impl::load_all(std::vector<agent_conn> &agents, xp::OpReport &report, const control::checkpoint &c,
                                bool discard_frozen)
{
    std::map<std::string, artifact> by_agent;
    for (auto &a : must(cat.artifacts(c.id)))
        by_agent[a.agent] = a;
    for (auto &a : agents)
        if (!by_agent.contains(a.spec->name()))
            throw op_failure("checkpoint " + c.name + " has nothing of agent " + a.spec->name() +
                             " (it was taken with another experiment file?)");
    phase_timer t(report, "load");
    auto failed = each(agents, [&](agent_conn &a) -> std::string {
        const artifact &art = by_agent[a.spec->name()];
        Request req;
        req.mutable_load()->set_path(art.path);
        req.mutable_load()->set_discard_frozen(discard_frozen);
        Reply r;
        a.report->set_artifact(art.path);
        a.report->set_checksum(art.checksum);
        if (auto e = call_long(a, req, "loading", &r); !e.empty())
            return e;
        a.report->set_artifact_bytes(r.snapshot().file_bytes());
        a.report->set_freeze_ns(r.snapshot().freeze_ns());
        a.report->set_state("loaded");
        return {};
    });
    if (!failed.empty())
        throw op_failure("load failed: " + failed.front());
    say("load: " + std::to_string(agents.size()) + " agent(s) loaded " + c.name);
}

// The catalog's side of a restore of `c`: a new branch unless it continues the current head.
void controller::impl::record_restore(const control::checkpoint &c, xp::OpReport &report)
{
    refresh();
    if (!exp.head_id || *exp.head_id != c.id)
        must(cat.start_branch(exp.id, c.id));
    refresh();
    report.set_branch(exp.branch);
}

xp::OpReport controller::swapin(const std::optional<std::string> &name)
{
    impl &p = *_p;
    xp::OpReport report;
    p.refresh();
    if (p.exp.state != experiment_state::swapped_out)
        throw op_failure("experiment " + p.exp.name + " is " + std::string(to_string(p.exp.state)) +
                         ", not swapped out: use timetravel to go back to a checkpoint");
    const control::checkpoint c = find_checkpoint(p.cat, p.exp, name);
    const operation op = p.begin(op_kind::swapin, report);
    report.set_checkpoint(c.name);
    {
        op_update u;
        u.checkpoint_id = c.id;
        must(p.cat.update_op(op.id, u));
    }
    std::vector<agent_conn> agents;
    try {
        agents = p.connect(report, true);
        p.probe(agents, report);
        p.phase(op, "probe", report);
        try {
            p.load_all(agents, report, c);
        } catch (const op_failure &) {
            // Roll back: the agents that loaded drop it again; the experiment stays swapped out.
            Request rel;
            rel.mutable_release()->set_force(true);
            for (auto &a : agents)
                if (a.ok && a.report->state() == "loaded" && p.call_long(a, rel, "releasing", nullptr).empty())
                    a.report->set_state("released");
            throw;
        }
        p.record_restore(c, report);
        must(p.cat.set_state(p.exp.id, experiment_state::frozen));
        p.phase(op, "loaded", report);
        p.resume(agents, report);
        must(p.cat.set_state(p.exp.id, experiment_state::running));
        report.set_ok(true);
        report.set_message("swapped in " + c.name + " on branch " + report.branch() + "; running");
        p.finish(op, op_state::done, report);
    } catch (const op_failure &e) {
        report.set_ok(false);
        report.set_message(e.what());
        p.say("failed: " + std::string(e.what()));
        p.finish(op, op_state::failed, report);
    }
    return report;
}

xp::OpReport controller::timetravel(const std::string &name)
{
    impl &p = *_p;
    xp::OpReport report;
    p.refresh();
    if (p.exp.state == experiment_state::swapped_out)
        throw op_failure("experiment " + p.exp.name + " is swapped out: swapin " + name + " restores it");
    const control::checkpoint c = find_checkpoint(p.cat, p.exp, name);
    const bool running = p.exp.state != experiment_state::frozen;
    const operation op = p.begin(op_kind::timetravel, report);
    report.set_checkpoint(c.name);
    {
        op_update u;
        u.checkpoint_id = c.id;
        must(p.cat.update_op(op.id, u));
    }
    try {
        auto agents = p.connect(report, true);
        p.probe(agents, report);
        p.phase(op, "probe", report);
        if (running) {  // stop the present at one instant before replacing it
            p.choose_freeze(report);
            p.phase(op, "prepare", report);
            p.freeze(agents, report, "timetravel-" + std::to_string(op.id));
            must(p.cat.set_state(p.exp.id, experiment_state::frozen));
            p.phase(op, "frozen", report);
        }
        p.load_all(agents, report, c, true);
        p.record_restore(c, report);
        p.phase(op, "loaded", report);
        p.resume(agents, report);
        must(p.cat.set_state(p.exp.id, experiment_state::running));
        report.set_ok(true);
        report.set_message("back at " + c.name + " on new branch " + report.branch() + "; running");
        p.finish(op, op_state::done, report);
    } catch (const op_failure &e) {
        report.set_ok(false);
        p.refresh();
        report.set_message(std::string(e.what()) + (p.exp.state == experiment_state::frozen
                                                        ? " (the experiment is left frozen: stasis thaw resumes it)"
                                                        : ""));
        p.say("failed: " + report.message());
        p.finish(op, op_state::failed, report);
    }
    return report;
}

}  // namespace stasis::control
