// The controller's restores over fake agents: swap-out releases, swap-in elsewhere (--map) loads each
// agent's artifact and resumes at one instant, an older checkpoint starts a branch, and a time-travel
// freezes the running present before loading the past.
#include <gtest/gtest.h>

#include <filesystem>

#include "controller_testing.hpp"

namespace stasis::control {
namespace {

using namespace testing;

class ControllerRestore : public ControllerFixture {
protected:
    // d1, and d2 whose `op` takes 700 ms: longer than every try of a normal call (2 x 100 ms).
    std::unique_ptr<controller> with_slow_d2(Request::OpCase op)
    {
        budget.timeout_ms = 100;
        budget.tries = 2;
        add_agent("d1", 0);
        add_agent("d2", 0).slow_on(op, std::chrono::milliseconds(700));
        return make();
    }

    // The one Thaw every agent of `of` got: at one common R of `r`.
    static void resumed_at_one_instant(const std::vector<std::unique_ptr<fake_protocol_agent>> &of,
                                       const xp::OpReport &r)
    {
        for (const auto &a : of) {
            const auto thaws = a->requests_of(Request::kThaw);
            ASSERT_EQ(thaws.size(), 1u) << a->name();
            EXPECT_EQ(thaws[0].thaw().at_ns() - line(r, a->name()).offset_ns(), r.resume_ns()) << a->name();
            EXPECT_FALSE(a->now().frozen) << a->name();
        }
    }
};

TEST_F(ControllerRestore, swapout_then_swapin_elsewhere)
{
    add_agent("d1", 0);
    add_agent("d2", 1 * ms_ns);
    auto c = make();
    const auto out = c->swapout();
    ASSERT_TRUE(out.ok()) << render_report(out);
    EXPECT_EQ(out.operation(), "swapout");
    EXPECT_EQ(out.message(), "swapout c1 committed; swapped out");
    EXPECT_EQ(phases(out).back(), "release");
    for (const auto &a : agents) {
        const auto rel = a->requests_of(Request::kRelease);
        ASSERT_EQ(rel.size(), 1u) << a->name();
        EXPECT_FALSE(rel[0].release().force()) << "frozen and saved: no force needed";
        EXPECT_TRUE(a->now().released);
        EXPECT_TRUE(a->requests_of(Request::kThaw).empty());
        EXPECT_EQ(line(out, a->name()).state(), "released");
    }
    EXPECT_EQ(exp_of(*c).state, experiment_state::swapped_out);
    EXPECT_EQ(ckpt_of(*c, "c1").state, checkpoint_state::committed);
    EXPECT_THROW(c->checkpoint(), std::runtime_error);
    EXPECT_THROW(c->timetravel("c1"), std::runtime_error);
    c.reset();

    std::vector<std::unique_ptr<fake_protocol_agent>> fresh;
    const auto map = replace_agents(fresh, -1 * ms_ns);
    auto in = make(mapped(map))->swapin(std::nullopt);
    ASSERT_TRUE(in.ok()) << render_report(in);
    EXPECT_EQ(in.checkpoint(), "c1");
    EXPECT_EQ(in.branch(), "main");  // the head continues: no new branch
    EXPECT_EQ(in.message(), "swapped in c1 on branch main; running");
    for (const auto &a : fresh) {
        const auto loads = a->requests_of(Request::kLoad);
        ASSERT_EQ(loads.size(), 1u) << a->name();
        EXPECT_EQ(loads[0].load().path(), artifact(a->name(), "c1"));
        EXPECT_FALSE(loads[0].load().discard_frozen());
        EXPECT_EQ(line(in, a->name()).endpoint(), map.at(a->name()));
        EXPECT_EQ(line(in, a->name()).state(), "resumed");
        EXPECT_NEAR(double(line(in, a->name()).offset_ns()), double(-1 * ms_ns), double(ms_ns));
    }
    resumed_at_one_instant(fresh, in);
    EXPECT_EQ(phases(in).back(), "resume");

    // A controller without --map finds the agents where the swap-in put them.
    auto later = make();
    const auto e = exp_of(*later);
    EXPECT_EQ(e.state, experiment_state::running);
    EXPECT_EQ(e.head_id, ckpt_of(*later, "c1").id);
    const auto r = later->checkpoint();
    ASSERT_TRUE(r.ok()) << render_report(r);
    EXPECT_EQ(r.checkpoint(), "c2");
    for (const auto &a : fresh)
        EXPECT_EQ(a->requests_of(Request::kPrepare).size(), 1u) << a->name();
}

TEST_F(ControllerRestore, swapin_refuses_a_running_experiment)
{
    add_agent("d1", 0);
    auto c = make();
    ASSERT_TRUE(c->checkpoint().ok());
    EXPECT_THROW(c->swapin(std::nullopt), std::runtime_error);
}

TEST_F(ControllerRestore, swapin_of_an_older_checkpoint_starts_a_branch)
{
    add_agent("d1", 0);
    add_agent("d2", 0);
    auto c = make();
    ASSERT_TRUE(c->checkpoint().ok());
    ASSERT_TRUE(c->swapout().ok());  // c2
    c.reset();

    std::vector<std::unique_ptr<fake_protocol_agent>> fresh;
    auto back = make(mapped(replace_agents(fresh)));
    const auto in = back->swapin("c1");
    ASSERT_TRUE(in.ok()) << render_report(in);
    EXPECT_EQ(in.branch(), "b1");
    for (const auto &a : fresh)
        EXPECT_EQ(a->requests_of(Request::kLoad).at(0).load().path(), artifact(a->name(), "c1"));
    resumed_at_one_instant(fresh, in);
    const auto e = exp_of(*back);
    EXPECT_EQ(e.branch, "b1");
    EXPECT_EQ(e.head_id, ckpt_of(*back, "c1").id);
    EXPECT_EQ(e.state, experiment_state::running);

    const auto r = back->checkpoint();  // c3 grows the new branch from c1
    ASSERT_TRUE(r.ok()) << render_report(r);
    const auto c3 = ckpt_of(*back, "c3");
    EXPECT_EQ(c3.branch, "b1");
    EXPECT_EQ(c3.parent_id, ckpt_of(*back, "c1").id);
}

TEST_F(ControllerRestore, timetravel_while_running_freezes_then_loads_with_discard)
{
    add_agent("d1", 0);
    add_agent("d2", 2 * ms_ns);
    auto c = make();
    ASSERT_TRUE(c->checkpoint().ok());
    ASSERT_TRUE(c->checkpoint().ok());  // c2: the head
    const size_t thaws_before = agents[0]->requests_of(Request::kThaw).size();
    ASSERT_EQ(thaws_before, 2u);

    const auto r = c->timetravel("c1");
    ASSERT_TRUE(r.ok()) << render_report(r);
    EXPECT_EQ(r.operation(), "timetravel");
    EXPECT_EQ(r.checkpoint(), "c1");
    EXPECT_EQ(r.branch(), "b1");
    EXPECT_EQ(r.message(), "back at c1 on new branch b1; running");
    auto ph = phases(r);
    std::erase(ph, "wait for R");  // c2's resume may still be ahead (Controller.a_checkpoint_right_after_...)
    EXPECT_EQ(ph, (std::vector<std::string>{"probe", "prepare", "freeze", "load", "resume"}));
    const std::string present = "timetravel-" + std::to_string(last_op(*c).id);
    for (const auto &a : agents) {
        SCOPED_TRACE(a->name());
        const auto prep = a->requests_of(Request::kPrepare);
        ASSERT_EQ(prep.size(), 3u);
        EXPECT_EQ(prep[2].prepare().checkpoint(), present);
        EXPECT_EQ(prep[2].prepare().freeze_ns(), r.freeze_ns() + line(r, a->name()).offset_ns());
        const auto loads = a->requests_of(Request::kLoad);
        ASSERT_EQ(loads.size(), 1u);
        EXPECT_EQ(loads[0].load().path(), artifact(a->name(), "c1"));
        EXPECT_TRUE(loads[0].load().discard_frozen());
        EXPECT_EQ(a->requests_of(Request::kSave).size(), 2u) << "the present is not saved";
        const auto thaws = a->requests_of(Request::kThaw);
        ASSERT_EQ(thaws.size(), 3u);
        EXPECT_EQ(thaws[2].thaw().at_ns() - line(r, a->name()).offset_ns(), r.resume_ns());
        EXPECT_FALSE(a->now().frozen);
    }
    const auto e = exp_of(*c);
    EXPECT_EQ(e.branch, "b1");
    EXPECT_EQ(e.head_id, ckpt_of(*c, "c1").id);
    EXPECT_EQ(e.state, experiment_state::running);
    EXPECT_EQ(must(c->cat().checkpoints(e.id)).size(), 2u) << "a time-travel records no checkpoint";
}

TEST_F(ControllerRestore, swapin_that_cannot_load_everywhere_releases_and_stays_swapped_out)
{
    add_agent("d1", 0);
    add_agent("d2", 0);
    auto c = make();
    ASSERT_TRUE(c->swapout().ok());
    c.reset();
    std::filesystem::remove(artifact("d2", "c1"));  // d2's snapshot is gone

    std::vector<std::unique_ptr<fake_protocol_agent>> fresh;
    auto in = make(mapped(replace_agents(fresh)));
    const auto r = in->swapin(std::nullopt);
    EXPECT_FALSE(r.ok());
    EXPECT_TRUE(r.message().starts_with("load failed: d2 (")) << r.message();
    const auto rel = fresh[0]->requests_of(Request::kRelease);
    ASSERT_EQ(rel.size(), 1u) << "d1 loaded: it drops it again";
    EXPECT_TRUE(rel[0].release().force());
    EXPECT_EQ(line(r, "d1").state(), "released");
    EXPECT_TRUE(fresh[1]->requests_of(Request::kRelease).empty());
    for (const auto &a : fresh)
        EXPECT_TRUE(a->requests_of(Request::kThaw).empty()) << a->name();
    EXPECT_EQ(exp_of(*in).state, experiment_state::swapped_out);
    EXPECT_EQ(last_op(*in).state, op_state::failed);
}

TEST_F(ControllerRestore, timetravel_while_frozen_loads_without_a_new_freeze)
{
    add_agent("d1", 0);
    add_agent("d2", 0);
    auto c = make();
    ASSERT_TRUE(c->checkpoint().ok());
    ASSERT_TRUE(c->checkpoint(true).ok());  // c2, frozen
    const auto r = c->timetravel("c1");
    ASSERT_TRUE(r.ok()) << render_report(r);
    EXPECT_EQ(phases(r), (std::vector<std::string>{"probe", "load", "resume"}));
    for (const auto &a : agents) {
        EXPECT_EQ(a->requests_of(Request::kPrepare).size(), 2u) << a->name();
        const auto loads = a->requests_of(Request::kLoad);
        ASSERT_EQ(loads.size(), 1u);
        EXPECT_TRUE(loads[0].load().discard_frozen());
        EXPECT_EQ(loads[0].load().path(), artifact(a->name(), "c1"));
        EXPECT_FALSE(a->now().frozen);
    }
    EXPECT_EQ(exp_of(*c).branch, "b1");
    EXPECT_EQ(exp_of(*c).state, experiment_state::running);
}

// A release quits every guest, which takes as long as they take: longer than every try is waited for.
TEST_F(ControllerRestore, swapout_whose_release_takes_longer_than_every_try_completes)
{
    auto c = with_slow_d2(Request::kRelease);
    const auto out = c->swapout();
    ASSERT_TRUE(out.ok()) << render_report(out);
    EXPECT_EQ(line(out, "d2").state(), "released");
    EXPECT_EQ(agents[1]->requests_of(Request::kRelease).size(), 1u);
    EXPECT_EQ(exp_of(*c).state, experiment_state::swapped_out);
}

// A load takes as long as the state it reads: far longer than timeout_ms x tries is waited for.
TEST_F(ControllerRestore, load_longer_than_every_try_is_waited_for)
{
    auto c = with_slow_d2(Request::kLoad);
    ASSERT_TRUE(c->checkpoint().ok());
    const auto r = c->timetravel("c1");
    ASSERT_TRUE(r.ok()) << render_report(r);
    EXPECT_EQ(agents[1]->requests_of(Request::kLoad).size(), 1u);  // sent once, not once a try
    EXPECT_EQ(exp_of(*c).state, experiment_state::running);
}

}  // namespace
}  // namespace stasis::control
