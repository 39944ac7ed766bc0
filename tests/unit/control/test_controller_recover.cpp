// Recovery of an operation whose controller died: before the commit every agent aborts at one R and
// the checkpoint is aborted; after it every agent resumes at one R and the checkpoint stays.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <google/protobuf/util/json_util.h>

#include "controller_testing.hpp"

namespace stasis::control {
namespace {

using namespace testing;

// An owner that is gone: a child that exited and was reaped.
op_owner dead_owner()
{
    const pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    waitpid(pid, nullptr, 0);
    return {pid, 12345};
}

class ControllerRecover : public ControllerFixture {
protected:
    // What a controller that died in `phase` of a checkpoint left: a pending (or committed) c1 at
    // F in the past, its report naming every agent, and the agents frozen (and saved) for it.
    operation dead_checkpoint(controller &c, const std::string &phase, bool committed)
    {
        const auto e = exp_of(c);
        const int64_t f = realtime_now_ns() - 10 * ms_ns;
        auto ckpt = must(c.cat().begin_checkpoint(e.id, f, "by the dead one"));
        if (committed) {
            std::vector<control::artifact> arts;
            for (const auto &a : agents) {
                auto &art = arts.emplace_back();
                art.agent = a->name();
                art.kind = "link-snapshot";
                art.host = a->endpoint();
                art.path = artifact(a->name(), ckpt.name);
            }
            must(c.cat().add_artifacts(ckpt.id, arts));
            ckpt = must(c.cat().commit_checkpoint(ckpt.id));
        }
        xp::OpReport was;
        was.set_operation("checkpoint");
        was.set_experiment("demo");
        was.set_checkpoint(ckpt.name);
        was.set_freeze_ns(f);
        for (const auto &a : agents) {
            auto *l = was.add_agents();
            l->set_agent(a->name());
            l->set_endpoint(a->endpoint());
            l->set_offset_ns(a->offset_ns());
            l->set_freeze_ns(f + a->offset_ns());
            l->set_state(committed ? "saved" : "frozen");
            a->set_frozen(ckpt.name, f + a->offset_ns(), committed);
        }
        std::string json;
        EXPECT_TRUE(google::protobuf::util::MessageToJsonString(was, &json).ok());
        op_start s;
        s.experiment_id = e.id;
        s.kind = op_kind::checkpoint;
        s.phase = phase;
        s.checkpoint_id = ckpt.id;
        s.detail = json;
        s.owner = dead_owner();
        return must(c.cat().begin_op(s));
    }

    // Every agent got one `op` whose instant, minus its offset in `r`, is r's R; returns it.
    template <class At>
    void at_one_instant(const xp::OpReport &r, Request::OpCase op, At at)
    {
        for (const auto &a : agents) {
            const auto got = a->requests_of(op);
            ASSERT_EQ(got.size(), 1u) << a->name();
            EXPECT_EQ(at(got[0]) - line(r, a->name()).offset_ns(), r.resume_ns()) << a->name();
            EXPECT_FALSE(a->now().frozen) << a->name();
        }
    }
};

TEST_F(ControllerRecover, before_the_commit_every_agent_aborts_at_one_instant)
{
    add_agent("d1", 0);
    add_agent("d2", 2 * ms_ns);
    auto c = make();
    const auto dead = dead_checkpoint(*c, "frozen", false);
    const auto reports = c->recover();
    ASSERT_EQ(reports.size(), 1u);
    const auto &r = reports[0];
    ASSERT_TRUE(r.ok()) << render_report(r);
    EXPECT_EQ(r.operation(), "recover");
    EXPECT_EQ(r.message(), "rolled back checkpoint (operation " + std::to_string(dead.id) + ", phase frozen)");
    EXPECT_EQ(r.checkpoint(), "c1");
    EXPECT_GT(r.resume_ns(), r.freeze_ns());
    at_one_instant(r, Request::kAbort, [](const Request &q) { return q.abort().resume_ns(); });
    for (const auto &a : agents) {
        EXPECT_EQ(a->requests_of(Request::kAbort)[0].abort().checkpoint(), "c1");
        EXPECT_EQ(line(r, a->name()).offset_ns(), a->offset_ns()) << "the offsets F was prepared with";
        EXPECT_TRUE(a->requests_of(Request::kThaw).empty());
    }
    EXPECT_EQ(ckpt_of(*c, "c1").state, checkpoint_state::aborted);
    const auto op = must(c->cat().op_by_id(dead.id));
    EXPECT_EQ(op.state, op_state::rolled_back);
    EXPECT_EQ(exp_of(*c).state, experiment_state::running);
    EXPECT_TRUE(must(c->cat().unfinished_ops()).empty());
    EXPECT_TRUE(c->recover().empty()) << "nothing left to recover";
}

TEST_F(ControllerRecover, after_the_commit_every_agent_resumes_and_the_checkpoint_stays)
{
    add_agent("d1", 1 * ms_ns);
    add_agent("d2", -1 * ms_ns);
    auto c = make();
    const auto dead = dead_checkpoint(*c, "committed", true);
    const auto reports = c->recover();
    ASSERT_EQ(reports.size(), 1u);
    const auto &r = reports[0];
    ASSERT_TRUE(r.ok()) << render_report(r);
    EXPECT_EQ(r.message(), "completed checkpoint (operation " + std::to_string(dead.id) + ", phase committed): running");
    at_one_instant(r, Request::kThaw, [](const Request &q) { return q.thaw().at_ns(); });
    for (const auto &a : agents) {
        EXPECT_TRUE(a->requests_of(Request::kAbort).empty()) << a->name();
        EXPECT_NEAR(double(line(r, a->name()).offset_ns()), double(a->offset_ns()), double(ms_ns));
    }
    const auto c1 = ckpt_of(*c, "c1");
    EXPECT_EQ(c1.state, checkpoint_state::committed);
    EXPECT_EQ(exp_of(*c).head_id, c1.id);
    EXPECT_EQ(exp_of(*c).state, experiment_state::running);
    EXPECT_EQ(must(c->cat().op_by_id(dead.id)).state, op_state::done);
}

TEST_F(ControllerRecover, a_live_controllers_operation_is_left_alone)
{
    add_agent("d1", 0);
    auto c = make();
    op_start s;
    s.experiment_id = exp_of(*c).id;
    const auto live = must(c->cat().begin_op(s));
    EXPECT_TRUE(c->recover().empty());
    EXPECT_TRUE(agents[0]->requests().empty());
    EXPECT_EQ(must(c->cat().op_by_id(live.id)).state, op_state::running);
    must(c->cat().finish_op(live.id, op_state::failed));
}

// `stasis checkpoint` recovers first, then checkpoints with the same controller: the recovery must
// not switch the skew budget off for what follows.
TEST_F(ControllerRecover, recovery_keeps_the_skew_budget_for_the_next_operation)
{
    budget.skew_budget_us = 1000;
    add_agent("d1", 0);
    add_agent("d2", 5 * ms_ns);
    auto c = make();
    EXPECT_TRUE(c->recover().empty());
    const auto r = c->checkpoint();
    EXPECT_FALSE(r.ok()) << "a 5 ms skew was accepted against a 1 ms budget";
    EXPECT_TRUE(agents[1]->requests_of(Request::kPrepare).empty());
}

}  // namespace
}  // namespace stasis::control
