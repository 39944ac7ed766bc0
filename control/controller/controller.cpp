// The controller's operations on a running experiment: checkpoint (and swap-out, which releases
// the agents after the commit) and thaw.
#include "stasis/control/controller.hpp"

#include <filesystem>

#include <google/protobuf/util/json_util.h>

#include "controller_impl.hpp"

namespace stasis::control {

namespace {

catalog open_catalog(const experiment_spec &spec)
{
    const std::string &path = spec.msg.catalog();
    std::error_code ec;
    if (auto dir = std::filesystem::path(path).parent_path(); !dir.empty())
        std::filesystem::create_directories(dir, ec);
    auto c = catalog::open(path);
    if (!c)
        throw std::runtime_error(c.error().message);
    return std::move(*c);
}

std::string artifact_kind(const xp::Agent &a)
{
    return a.role() == xp::Agent::DELAY ? "link-snapshot" : "guest-state";
}

}  // namespace

controller::impl::impl(experiment_spec s, controller_options o, catalog c)
    : spec(std::move(s)), opt(std::move(o)), cat(std::move(c))
{
    auto e = cat.ensure_experiment(spec.msg.name(), spec.file, spec.text);
    if (!e)
        throw std::runtime_error(e.error().message);
    exp = std::move(*e);
    remember_endpoints();
}

// Where the last successful swap-in put each agent (its --map), unless mapped again now: later
// commands find the agents there rather than at the experiment file's endpoints.
void controller::impl::remember_endpoints()
{
    auto ops = cat.recent_ops(exp.id, 50);
    if (!ops)
        return;
    for (const operation &op : *ops) {
        if (op.kind != op_kind::swapin || op.state != op_state::done)
            continue;
        xp::OpReport was;
        if (!google::protobuf::util::JsonStringToMessage(op.detail, &was).ok())
            return;
        for (const auto &a : was.agents())
            if (!a.endpoint().empty())
                opt.endpoints.try_emplace(a.agent(), a.endpoint());
        return;
    }
}

controller::controller(experiment_spec spec, controller_options options)
{
    catalog c = open_catalog(spec);
    _p = std::make_unique<impl>(std::move(spec), std::move(options), std::move(c));
}

controller::~controller() = default;
catalog &controller::cat() { return _p->cat; }
const experiment_spec &controller::spec() const { return _p->spec; }

xp::OpReport controller::impl::run_checkpoint(const std::string &kind, bool stay_frozen, bool release)
{
    xp::OpReport report;
    refresh();
    if (exp.state == experiment_state::swapped_out)
        throw op_failure("experiment " + exp.name + " is swapped out: swap it in first");
    if (exp.state == experiment_state::frozen)
        throw op_failure("experiment " + exp.name + " is frozen: thaw it first (stasis thaw)");
    const operation op = begin(release ? op_kind::swapout : op_kind::checkpoint, report);
    report.set_operation(kind);
    report.set_branch(exp.branch);
    std::vector<agent_conn> agents;
    std::optional<control::checkpoint> ckpt;
    try {
        agents = connect(report, true);
        probe(agents, report);
        phase(op, "probe", report);
        const int64_t f = choose_freeze(report);
        ckpt = must(cat.begin_checkpoint(exp.id, f, opt.message));
        report.set_checkpoint(ckpt->name);
        op_update u;
        u.checkpoint_id = ckpt->id;
        must(cat.update_op(op.id, u));
        phase(op, "prepare", report);
        freeze(agents, report, ckpt->name);
        phase(op, "frozen", report);
        {
            phase_timer t(report, "save");
            auto failed = each(agents, [&](agent_conn &a) -> std::string {
                Request req;
                req.mutable_save()->set_path(artifact_path(x(), *a.spec, ckpt->name));
                Reply r;
                if (auto e = call_long(a, req, "saving", &r); !e.empty())
                    return e;
                a.report->set_artifact(r.snapshot().path());
                a.report->set_artifact_bytes(r.snapshot().file_bytes());
                a.report->set_checksum(r.snapshot().checksum());
                a.report->set_state("saved");
                for (const auto &w : r.snapshot().warnings()) {
                    a.report->add_warnings(w);
                    say("warning: " + a.spec->name() + ": " + w);
                }
                return {};
            });
            if (!failed.empty())
                throw op_failure("save failed: " + failed.front());
        }
        phase_timer commit_timer(report, "commit");
        std::vector<artifact> arts;
        uint64_t total = 0;
        for (const auto &a : agents) {
            artifact art;
            art.agent = a.spec->name();
            art.kind = artifact_kind(*a.spec);
            art.host = a.report->endpoint();
            art.path = a.report->artifact();
            art.size_bytes = int64_t(a.report->artifact_bytes());
            art.checksum = a.report->checksum();
            total += a.report->artifact_bytes();
            arts.push_back(std::move(art));
        }
        must(cat.add_artifacts(ckpt->id, arts));
        // The commit point: from here on the checkpoint exists, and recovery completes the operation.
        ckpt = must(cat.commit_checkpoint(ckpt->id));
        phase(op, "committed", report);
        say("save: " + std::to_string(arts.size()) + " artifact(s), " + format_bytes(int64_t(total)) +
            "; committed " + ckpt->name + " on branch " + ckpt->branch);
    } catch (const op_failure &e) {
        report.set_ok(false);
        report.set_message(e.what());
        say("failed: " + std::string(e.what()));
        if (ckpt) {
            abort_all(agents, report, ckpt->name);
            (void)cat.abort_checkpoint(ckpt->id, e.what());
        }
        finish(op, ckpt ? op_state::rolled_back : op_state::failed, report);
        return report;
    }
    // Committed: whatever fails now, the checkpoint stays; the experiment is frozen and saved.
    try {
        if (release) {
            phase_timer t(report, "release");
            Request req;
            req.mutable_release();
            auto failed = each(agents, [&](agent_conn &a) -> std::string {
                if (auto e = call_long(a, req, "releasing", nullptr); !e.empty())  // quits every guest
                    return e;
                a.report->set_state("released");
                return {};
            });
            if (!failed.empty())
                throw op_failure("release failed: " + failed.front() + " (the checkpoint is committed)");
            must(cat.set_state(exp.id, experiment_state::swapped_out));
            phase(op, "released", report);
            say("release: every agent dropped the experiment; swapped out at " + ckpt->name);
        } else if (stay_frozen) {
            must(cat.set_state(exp.id, experiment_state::frozen));
        } else {
            resume(agents, report);
            must(cat.set_state(exp.id, experiment_state::running));
        }
        report.set_ok(true);
        report.set_message(kind + " " + ckpt->name + " committed" +
                           (release ? "; swapped out" : stay_frozen ? "; frozen" : "; running"));
        finish(op, op_state::done, report);
    } catch (const op_failure &e) {
        report.set_ok(false);
        report.set_message(e.what());
        say("failed: " + std::string(e.what()));
        (void)cat.set_state(exp.id, experiment_state::frozen);
        finish(op, op_state::failed, report);
    }
    return report;
}

xp::OpReport controller::checkpoint(bool stay_frozen) { return _p->run_checkpoint("checkpoint", stay_frozen, false); }
xp::OpReport controller::swapout() { return _p->run_checkpoint("swapout", true, true); }

xp::OpReport controller::thaw()
{
    impl &p = *_p;
    xp::OpReport report;
    p.refresh();
    if (p.exp.state == experiment_state::swapped_out)
        throw op_failure("experiment " + p.exp.name + " is swapped out: swap it in (stasis swapin)");
    const operation op = p.begin(op_kind::thaw, report);
    try {
        auto agents = p.connect(report, false);
        p.probe(agents, report);
        p.phase(op, "probe", report);
        // Only the frozen ones: an agent that runs has nothing to resume.
        std::vector<agent_conn> frozen;
        p.each(agents, [&](agent_conn &a) -> std::string {
            Request q;
            q.mutable_freeze_status();
            Reply r;
            if (auto e = p.call(a, q, &r); !e.empty())
                return e;
            a.report->set_state(r.freeze().frozen() ? "frozen" : "running");
            return {};
        });
        for (auto &a : agents)
            if (!a.ok)
                throw op_failure("cannot thaw: " + a.report->error());
        for (auto &a : agents)
            if (a.report->state() == "frozen")
                frozen.push_back(std::move(a));
        if (!frozen.empty())
            p.resume(frozen, report);
        must(p.cat.set_state(p.exp.id, experiment_state::running));
        report.set_ok(true);
        report.set_message(frozen.empty() ? "nothing was frozen; running"
                                          : std::to_string(frozen.size()) + " agent(s) resumed; running");
        p.finish(op, op_state::done, report);
    } catch (const op_failure &e) {
        report.set_ok(false);
        report.set_message(e.what());
        p.finish(op, op_state::failed, report);
    }
    return report;
}

}  // namespace stasis::control
