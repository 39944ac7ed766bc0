// Recovery of operations whose controller died: before a checkpoint's commit, roll back (every
// agent aborts and resumes at one instant); after it, complete (resume, or release for a swap-out);
// a restore that loaded everything is resumed, one that did not is rolled back. Every agent ends
// thawed, or frozen with its state saved: never in between.
#include <google/protobuf/util/json_util.h>

#include "controller_impl.hpp"

namespace stasis::control {

namespace {

bool is_one_of(const std::string &s, std::initializer_list<const char *> names)
{
    for (const char *n : names)
        if (s == n)
            return true;
    return false;
}

}  // namespace

std::vector<xp::OpReport> controller::recover()
{
    impl &p = *_p;
    std::vector<xp::OpReport> out;
    // Finishing what was begun matters more than the skew budget now; the dead controller's
    // endpoints are the ones to use. Both only for the recovery: the next operation is the user's.
    const controller_options saved = p.opt;
    struct restore_options {
        controller_options &opt;
        const controller_options &saved;
        ~restore_options() { opt = saved; }
    } restore{p.opt, saved};
    p.opt.force = true;
    for (const operation &dead : must(p.cat.unfinished_ops(p.exp.id))) {
        if (owner_alive(dead))
            continue;  // a live controller is on it
        auto adopted = p.cat.adopt_op(dead.id);
        if (!adopted)
            continue;  // another recovering controller took it
        const operation op = *adopted;
        xp::OpReport was;
        (void)google::protobuf::util::JsonStringToMessage(op.detail, &was);
        xp::OpReport report;
        report.set_operation("recover");
        report.set_experiment(p.x().name());
        report.set_command_ns(now_ns());
        report.set_checkpoint(was.checkpoint());
        report.set_freeze_ns(was.freeze_ns());
        const std::string what = std::string(to_string(op.kind)) + " (operation " + std::to_string(op.id) +
                                 ", phase " + op.phase + ")";
        p.say("recover: the controller of " + what + " died");
        // The endpoints the dead controller used (a swap-in may have mapped agents elsewhere).
        p.opt.endpoints = saved.endpoints;
        for (const auto &a : was.agents())
            p.opt.endpoints[a.agent()] = a.endpoint();
        op_state end = op_state::done;
        try {
            auto agents = p.connect(report, false);
            for (auto &a : agents)  // the offsets F was prepared with
                for (const auto &w : was.agents())
                    if (w.agent() == a.spec->name())
                        a.report->set_offset_ns(w.offset_ns());
            // Open every connection first (a CURVE handshake each), so that the instants chosen next
            // are not eaten by them; who does not answer is marked unreachable and skipped.
            Request hello;
            hello.mutable_hello();
            p.each(agents, [&](agent_conn &a) { return p.call(a, hello); });
            for (auto &a : agents)
                a.ok = true;  // still tried by what follows (abort skips the unreachable)
            const bool checkpointing = op.kind == op_kind::checkpoint || op.kind == op_kind::swapout;
            if (checkpointing && is_one_of(op.phase, {"begin", "probe", "prepare", "frozen"})) {
                // Not committed: roll back. Unreachable agents are reported, the others resume.
                if (op.checkpoint_id) {
                    p.abort_all(agents, report, was.checkpoint());
                    (void)p.cat.abort_checkpoint(*op.checkpoint_id, "the controller died in phase " + op.phase);
                }
                must(p.cat.set_state(p.exp.id, experiment_state::running));
                end = op_state::rolled_back;
                report.set_message("rolled back " + what);
            } else if (checkpointing && op.kind == op_kind::swapout) {
                Request rel;
                rel.mutable_release();
                for (auto &a : agents) {
                    if (auto e = p.call_long(a, rel, "releasing", nullptr); e.empty())
                        a.report->set_state("released");
                    else  // gone already (released before the crash) or unreachable
                        a.report->set_error(e);
                }
                must(p.cat.set_state(p.exp.id, experiment_state::swapped_out));
                report.set_message("completed " + what + ": swapped out");
            } else if (op.kind == op_kind::swapin && is_one_of(op.phase, {"begin", "probe"})) {
                Request rel;
                rel.mutable_release()->set_force(true);
                for (auto &a : agents) {
                    Request q;
                    q.mutable_freeze_status();
                    Reply r;
                    if (p.call(a, q, &r).empty() && r.freeze().frozen() && p.call_long(a, rel, "releasing", nullptr).empty())
                        a.report->set_state("released");
                }
                end = op_state::rolled_back;
                report.set_message("rolled back " + what + ": still swapped out");
            } else {
                // Committed checkpoint, loaded restore, thaw, or a time-travel: resume what is frozen.
                if (op.kind == op_kind::timetravel && !is_one_of(op.phase, {"loaded"}) && op.checkpoint_id) {
                    const control::checkpoint c = must(p.cat.checkpoint_by_id(*op.checkpoint_id));
                    p.load_all(agents, report, c, true);
                    p.record_restore(c, report);
                }
                std::vector<agent_conn> frozen;
                for (auto &a : agents) {
                    Request q;
                    q.mutable_freeze_status();
                    Reply r;
                    if (auto e = p.call(a, q, &r); !e.empty())
                        throw op_failure("cannot complete " + what + ": " + e);
                    if (r.freeze().frozen())
                        frozen.push_back(std::move(a));
                }
                if (!frozen.empty()) {
                    p.probe(frozen, report);
                    p.resume(frozen, report);
                }
                must(p.cat.set_state(p.exp.id, experiment_state::running));
                report.set_message("completed " + what + ": running");
            }
            report.set_ok(true);
        } catch (const op_failure &e) {
            report.set_ok(false);
            report.set_message("cannot recover " + what + ": " + e.what());
            end = op_state::failed;
        }
        p.say("recover: " + report.message());
        std::string json;
        (void)google::protobuf::util::MessageToJsonString(report, &json);
        (void)p.cat.finish_op(op.id, end, report.message(), json);
        out.push_back(std::move(report));
    }
    return out;
}

}  // namespace stasis::control
