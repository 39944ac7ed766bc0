// The controller's coordinated checkpoint over fake agents: F in each agent's clock, the saves at
// their artifact paths, the commit in the catalog, one common R; and the rollbacks when an agent
// refuses, fails to save, never freezes or stops answering.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "controller_testing.hpp"

namespace stasis::control {
namespace {

using namespace testing;

class Controller : public ControllerFixture {};

// Every agent got exactly one `op`; the instants it carried, in controller time (minus the offset
// the report says the controller measured) are all the same: returns it.
template <class At>
int64_t one_common_instant(const std::vector<std::unique_ptr<fake_protocol_agent>> &agents,
                           const xp::OpReport &r, Request::OpCase op, At at)
{
    std::optional<int64_t> common;
    for (const auto &a : agents) {
        const auto got = a->requests_of(op);
        EXPECT_EQ(got.size(), 1u) << a->name();
        if (got.empty())
            continue;
        const int64_t ctl = at(got.back()) - line(r, a->name()).offset_ns();
        if (!common)
            common = ctl;
        EXPECT_EQ(ctl, *common) << a->name() << " got another instant";
    }
    return common.value_or(0);
}

TEST_F(Controller, checkpoint_commits_and_resumes_everyone_at_one_instant)
{
    add_agent("d1", 0);
    add_agent("d2", -2 * ms_ns);
    std::vector<std::string> progress;
    controller_options o;
    o.message = "before the upgrade";
    o.progress = [&](const std::string &l) { progress.push_back(l); };
    auto c = make(o);

    const auto r = c->checkpoint();
    ASSERT_TRUE(r.ok()) << render_report(r);
    EXPECT_EQ(r.operation(), "checkpoint");
    EXPECT_EQ(r.checkpoint(), "c1");
    EXPECT_EQ(r.branch(), "main");
    EXPECT_EQ(r.message(), "checkpoint c1 committed; running");
    EXPECT_GE(r.lead_ns(), int64_t(budget.min_lead_ms) * ms_ns);
    EXPECT_EQ(r.freeze_ns() - r.command_ns(), r.command_to_freeze_ns());
    EXPECT_NEAR(double(r.skew_ns()), double(2 * ms_ns), double(ms_ns));

    for (const auto &a : agents) {
        const auto &l = line(r, a->name());
        SCOPED_TRACE(a->name());
        EXPECT_NEAR(double(l.offset_ns()), double(a->offset_ns()), double(ms_ns));
        const auto prep = a->requests_of(Request::kPrepare);
        ASSERT_EQ(prep.size(), 1u);
        EXPECT_EQ(prep[0].prepare().experiment(), "demo");
        EXPECT_EQ(prep[0].prepare().checkpoint(), "c1");
        EXPECT_EQ(prep[0].prepare().freeze_ns(), r.freeze_ns() + l.offset_ns());  // F in its own clock
        EXPECT_EQ(l.freeze_ns(), prep[0].prepare().freeze_ns());
        EXPECT_EQ(l.landed_ns(), l.freeze_ns() + 1000);  // the fake's worker notices 1 us after F
        EXPECT_EQ(l.freeze_skew_ns(), 1000);
        EXPECT_EQ(l.held_packets(), fake_protocol_agent::held_packets);
        EXPECT_EQ(l.held_bytes(), fake_protocol_agent::held_bytes);
        const auto saves = a->requests_of(Request::kSave);
        ASSERT_EQ(saves.size(), 1u);
        EXPECT_EQ(saves[0].save().path(), artifact(a->name(), "c1"));
        EXPECT_EQ(saves[0].save().path(), dir.file("snaps/demo/c1/" + a->name() + ".snap"));
        EXPECT_TRUE(std::filesystem::exists(saves[0].save().path()));
        EXPECT_EQ(l.artifact(), saves[0].save().path());
        EXPECT_EQ(l.state(), "resumed");
        EXPECT_TRUE(a->requests_of(Request::kAbort).empty());
        EXPECT_FALSE(a->now().frozen);
    }
    const int64_t resume = one_common_instant(agents, r, Request::kThaw, [](const Request &q) { return q.thaw().at_ns(); });
    EXPECT_EQ(resume, r.resume_ns());
    EXPECT_GT(r.resume_ns(), r.freeze_ns());
    EXPECT_EQ(line(r, "d2").resume_ns(), r.resume_ns() + line(r, "d2").offset_ns());
    EXPECT_EQ(phases(r), (std::vector<std::string>{"probe", "prepare", "freeze", "save", "commit", "resume"}));

    const auto e = exp_of(*c);
    const auto c1 = ckpt_of(*c, "c1");
    EXPECT_EQ(e.state, experiment_state::running);
    EXPECT_EQ(e.head_id, c1.id);
    EXPECT_EQ(c1.state, checkpoint_state::committed);
    EXPECT_EQ(c1.freeze_ns, r.freeze_ns());
    EXPECT_EQ(c1.message, "before the upgrade");
    const auto arts = must(c->cat().artifacts(c1.id));
    ASSERT_EQ(arts.size(), 2u);
    for (const auto &art : arts) {
        EXPECT_EQ(art.path, artifact(art.agent, "c1"));
        EXPECT_EQ(art.kind, "link-snapshot");
        EXPECT_EQ(art.host, line(r, art.agent).endpoint());
        EXPECT_EQ(art.size_bytes, int64_t(std::filesystem::file_size(art.path)));
        EXPECT_EQ(art.checksum, line(r, art.agent).checksum());
        EXPECT_FALSE(art.checksum.empty());
    }
    const auto op = last_op(*c);
    EXPECT_EQ(op.kind, op_kind::checkpoint);
    EXPECT_EQ(op.state, op_state::done);
    EXPECT_EQ(op.phase, "committed");
    EXPECT_EQ(op.checkpoint_id, c1.id);
    EXPECT_TRUE(std::ranges::any_of(progress, [](const auto &l) { return contains(l, "committed c1 on branch main"); }));
    EXPECT_TRUE(contains(render_report(r), "checkpoint demo c1: ok"));

    // The next one is c2, a child of c1.
    const auto r2 = c->checkpoint();
    ASSERT_TRUE(r2.ok()) << render_report(r2);
    EXPECT_EQ(ckpt_of(*c, "c2").parent_id, c1.id);
    EXPECT_EQ(exp_of(*c).head_id, ckpt_of(*c, "c2").id);
}

TEST_F(Controller, status_names_a_node_agents_lost_guest_and_the_way_back)
{
    add_agent("d1", 0);
    add_agent("n1", 0);
    agents[1]->set_lost("g1", "QEMU of g1 (pid 4242) killed by signal 9 (SIGKILL)");
    auto c = make();
    const auto st = c->status();
    ASSERT_EQ(st.agents.size(), 2u);
    EXPECT_TRUE(st.agents[0].lost.empty());
    ASSERT_EQ(st.agents[1].lost.size(), 1u);
    EXPECT_EQ(st.agents[1].lost[0].first, "g1");
    const std::string text = render_status(st);
    EXPECT_TRUE(contains(text, "n1: guest g1 is lost: QEMU of g1 (pid 4242) killed by signal 9 (SIGKILL)")) << text;
    EXPECT_TRUE(contains(text, "stasis timetravel " + st.exp.name + " CHECKPOINT")) << text;
    const std::string json = render_status_json(st);
    EXPECT_TRUE(contains(json, "{\"agent\":\"d1\",") && contains(json, "\"lost\":[]")) << json;
    EXPECT_TRUE(contains(json, "\"lost\":[{\"guest\":\"g1\",\"why\":\"QEMU of g1 (pid 4242) killed by signal 9 "
                               "(SIGKILL)\"}]"))
        << json;
}

// An agent whose thread is taken (a long save, or hung) is connected but silent: busy, not down.
TEST_F(Controller, status_tells_a_busy_agent_from_a_down_one)
{
    budget.timeout_ms = 100;
    budget.tries = 1;
    add_agent("d1", 0).hang_on(Request::kHello);
    add_agent("d2", 0);
    auto c = make(mapped({{"d2", "tcp://127.0.0.1:1"}}));  // nothing listens there
    const auto st = c->status();
    ASSERT_EQ(st.agents.size(), 2u);
    EXPECT_TRUE(st.agents[0].busy);
    EXPECT_FALSE(st.agents[0].reachable);
    EXPECT_TRUE(contains(st.agents[0].error, "it is connected, so it is busy")) << st.agents[0].error;
    EXPECT_FALSE(st.agents[1].busy);
    EXPECT_TRUE(contains(st.agents[1].error, "not connected")) << st.agents[1].error;
    const std::string text = render_status(st);
    EXPECT_TRUE(contains(text, " busy ")) << text;
    EXPECT_TRUE(contains(text, " down ")) << text;
    EXPECT_TRUE(contains(render_status_json(st), "\"agent\":\"d1\",\"reachable\":false,\"busy\":true")) << render_status_json(st);
}

TEST_F(Controller, stay_frozen_then_thaw_at_one_instant)
{
    add_agent("d1", 1 * ms_ns);
    add_agent("d2", 0);
    auto c = make();
    const auto r = c->checkpoint(true);
    ASSERT_TRUE(r.ok()) << render_report(r);
    EXPECT_EQ(r.message(), "checkpoint c1 committed; frozen");
    EXPECT_EQ(exp_of(*c).state, experiment_state::frozen);
    for (const auto &a : agents) {
        EXPECT_TRUE(a->requests_of(Request::kThaw).empty());
        EXPECT_TRUE(a->now().frozen);
    }
    const auto st = c->status();
    ASSERT_EQ(st.agents.size(), 2u);
    for (const auto &s : st.agents) {
        EXPECT_TRUE(s.reachable) << s.error;
        EXPECT_TRUE(s.frozen);
        EXPECT_TRUE(s.saved);
        EXPECT_EQ(s.checkpoint, "c1");
        EXPECT_EQ(s.held_packets, fake_protocol_agent::held_packets);
    }
    EXPECT_TRUE(contains(render_status(st), "head c1"));
    EXPECT_THROW(c->checkpoint(), std::runtime_error);  // frozen: thaw first

    const auto t = c->thaw();
    ASSERT_TRUE(t.ok()) << render_report(t);
    EXPECT_EQ(t.message(), "2 agent(s) resumed; running");
    const int64_t resume = one_common_instant(agents, t, Request::kThaw, [](const Request &q) { return q.thaw().at_ns(); });
    EXPECT_EQ(resume, t.resume_ns());
    EXPECT_EQ(exp_of(*c).state, experiment_state::running);
}

TEST_F(Controller, skew_over_budget_is_refused_before_anything_is_prepared)
{
    budget.skew_budget_us = 1000;
    add_agent("d1", 0);
    add_agent("d2", 5 * ms_ns);
    auto c = make();
    const auto r = c->checkpoint();
    EXPECT_FALSE(r.ok());
    EXPECT_TRUE(contains(r.message(), "is over the budget of 1000 us")) << r.message();
    EXPECT_TRUE(r.checkpoint().empty());
    for (const auto &a : agents) {
        EXPECT_TRUE(a->requests_of(Request::kPrepare).empty()) << a->name();
        EXPECT_FALSE(a->now().frozen);
    }
    EXPECT_TRUE(must(c->cat().checkpoints(exp_of(*c).id)).empty());
    EXPECT_EQ(last_op(*c).state, op_state::failed);
    EXPECT_TRUE(must(c->cat().unfinished_ops()).empty());

    auto again = make(forced());
    const auto f = again->checkpoint();
    ASSERT_TRUE(f.ok()) << render_report(f);
    EXPECT_EQ(f.checkpoint(), "c1");
    EXPECT_GT(f.skew_bound_ns(), 1000 * 1000);
    const auto prep = agents[1]->requests_of(Request::kPrepare);
    ASSERT_EQ(prep.size(), 1u);
    EXPECT_NEAR(double(prep[0].prepare().freeze_ns() - f.freeze_ns()), double(5 * ms_ns), double(ms_ns));
}

// A save that succeeds with a warning (stasis-noded: a frame QEMU held outside the saved state) commits
// the checkpoint, and the warning reaches the operator: the agent's report, the progress lines, the table.
TEST_F(Controller, a_save_warning_is_reported_and_the_checkpoint_commits)
{
    add_agent("d1", 0);
    add_agent("n1", 0).warn_on_save("g1: a frame that reached tap1 after the stop is held by QEMU itself");
    std::vector<std::string> progress;
    controller_options o;
    o.progress = [&](const std::string &l) { progress.push_back(l); };
    auto c = make(o);
    const auto r = c->checkpoint();
    ASSERT_TRUE(r.ok()) << render_report(r);
    ASSERT_EQ(line(r, "n1").warnings_size(), 1);
    EXPECT_TRUE(contains(line(r, "n1").warnings(0), "held by QEMU itself"));
    EXPECT_EQ(line(r, "d1").warnings_size(), 0);
    EXPECT_TRUE(std::ranges::any_of(progress, [](const std::string &l) {
        return contains(l, "warning: n1: g1: a frame that reached tap1");
    }));
    EXPECT_TRUE(contains(render_report(r), "n1: warning: g1: a frame that reached tap1")) << render_report(r);
}

TEST_F(Controller, save_failure_aborts_everywhere_at_one_instant)
{
    add_agent("d1", 0);
    add_agent("d2", 2 * ms_ns).fail_save(true);
    auto c = make();
    must(c->cat().set_state(exp_of(*c).id, experiment_state::running));
    const auto r = c->checkpoint();
    EXPECT_FALSE(r.ok());
    EXPECT_TRUE(r.message().starts_with("save failed: d2 (")) << r.message();
    EXPECT_TRUE(contains(line(r, "d2").error(), "disk full (test)")) << line(r, "d2").error();
    EXPECT_TRUE(line(r, "d1").error().empty()) << line(r, "d1").error();
    EXPECT_EQ(r.checkpoint(), "c1");

    const int64_t resume =
        one_common_instant(agents, r, Request::kAbort, [](const Request &q) { return q.abort().resume_ns(); });
    EXPECT_EQ(resume, r.resume_ns());
    EXPECT_GT(r.resume_ns(), r.freeze_ns());
    for (const auto &a : agents) {
        EXPECT_EQ(a->requests_of(Request::kAbort).at(0).abort().checkpoint(), "c1");
        EXPECT_EQ(line(r, a->name()).state(), "aborted");
        EXPECT_TRUE(a->requests_of(Request::kThaw).empty());
        EXPECT_FALSE(a->now().frozen);
    }
    EXPECT_FALSE(std::filesystem::exists(artifact("d1", "c1"))) << "the survivor removes what it saved";
    EXPECT_EQ(phases(r).back(), "abort");

    const auto c1 = ckpt_of(*c, "c1");
    EXPECT_EQ(c1.state, checkpoint_state::aborted);
    EXPECT_TRUE(contains(c1.message, "save failed")) << c1.message;
    const auto e = exp_of(*c);
    EXPECT_EQ(e.state, experiment_state::running);
    EXPECT_FALSE(e.head_id);
    EXPECT_EQ(last_op(*c).state, op_state::rolled_back);
    EXPECT_THROW(c->timetravel("c1"), std::runtime_error);  // aborted: nothing to restore

    agents[1]->fail_save(false);  // the next one is c2: names are never reused
    const auto r2 = c->checkpoint();
    ASSERT_TRUE(r2.ok()) << render_report(r2);
    EXPECT_EQ(r2.checkpoint(), "c2");
}

TEST_F(Controller, refused_prepare_aborts_and_the_survivor_still_pauses_at_f)
{
    add_agent("d1", 0);
    add_agent("d2", 0).refuse_prepare(true);
    auto c = make();
    const auto r = c->checkpoint();
    EXPECT_FALSE(r.ok());
    EXPECT_TRUE(r.message().starts_with("prepare failed: d2 (")) << r.message();
    EXPECT_EQ(ckpt_of(*c, "c1").state, checkpoint_state::aborted);
    EXPECT_TRUE(agents[0]->requests_of(Request::kSave).empty());
    const int64_t resume =
        one_common_instant(agents, r, Request::kAbort, [](const Request &q) { return q.abort().resume_ns(); });
    EXPECT_GT(resume, r.freeze_ns());
    // d1 was aborted before its F: it freezes at F anyway and resumes at R (its clock) by itself.
    const auto abort = agents[0]->requests_of(Request::kAbort).at(0).abort();
    const auto has = [&](Event::Kind k) {
        return std::ranges::any_of(agents[0]->published(), [&](const Event &e) { return e.kind() == k; });
    };
    // R is a future realtime instant: wait for it, plus half a second for the fake agent to report it
    // on a busy machine (a fixed 500 ms from here fell short of R when the tests ran in parallel).
    const int64_t until_r_ns =
        resume - std::chrono::duration_cast<std::chrono::nanoseconds>(
                     std::chrono::system_clock::now().time_since_epoch()).count();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::nanoseconds(std::max<int64_t>(until_r_ns, 0)) +
                          std::chrono::milliseconds(500);
    while (!has(Event::RESUMED) && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    ASSERT_TRUE(has(Event::FROZEN)) << "no pause at F";
    ASSERT_TRUE(has(Event::RESUMED)) << "no resume at R";
    for (const Event &e : agents[0]->published()) {
        if (e.kind() == Event::FROZEN) {
            EXPECT_EQ(e.freeze().freeze_ns(), line(r, "d1").freeze_ns());
        }
    }
    EXPECT_FALSE(agents[0]->now().frozen);
    EXPECT_EQ(agents[0]->now().resume_ns, abort.resume_ns());
}

TEST_F(Controller, agent_that_never_freezes_fails_the_freeze_phase)
{
    add_agent("d1", 0);
    add_agent("d2", 0).set_freeze_mode(fake_protocol_agent::freeze_mode::forgets);
    auto c = make();
    const auto r = c->checkpoint();
    EXPECT_FALSE(r.ok());
    EXPECT_TRUE(r.message().starts_with("freeze failed: d2: not frozen after F")) << r.message();
    EXPECT_EQ(phases(r), (std::vector<std::string>{"probe", "prepare", "freeze", "abort"}));
    EXPECT_TRUE(agents[0]->requests_of(Request::kSave).empty());
    EXPECT_EQ(ckpt_of(*c, "c1").state, checkpoint_state::aborted);
    one_common_instant(agents, r, Request::kAbort, [](const Request &q) { return q.abort().resume_ns(); });
    EXPECT_FALSE(agents[0]->now().frozen);
}

// The controller waits for a freeze until F + max(timeout_ms x tries, 4 x lead) (steps.cpp).
TEST_F(Controller, agent_whose_freeze_never_takes_hold_fails_after_the_deadline)
{
    add_agent("d1", 0);
    add_agent("d2", 0).set_freeze_mode(fake_protocol_agent::freeze_mode::never_reached);
    auto c = make();
    const auto r = c->checkpoint();
    EXPECT_FALSE(r.ok());
    EXPECT_TRUE(r.message().starts_with("freeze failed: d2: did not report frozen within ") &&
                r.message().find(" ms after F") != std::string::npos)
        << r.message();
    EXPECT_FALSE(agents[1]->requests_of(Request::kFreezeStatus).empty());
    EXPECT_EQ(ckpt_of(*c, "c1").state, checkpoint_state::aborted);
    one_common_instant(agents, r, Request::kAbort, [](const Request &q) { return q.abort().resume_ns(); });
    for (const auto &a : agents)
        EXPECT_FALSE(a->now().frozen) << a->name();
}

// Connected but hung in its save: the save's own patience (long_timeout_ms) ends the wait.
TEST_F(Controller, agent_that_stops_answering_at_save_is_unreachable_and_skipped)
{
    budget.timeout_ms = 100;
    budget.tries = 1;
    budget.long_timeout_ms = 300;
    add_agent("d1", 0);
    add_agent("d2", 0).hang_on(Request::kSave);
    auto c = make();
    const auto t0 = std::chrono::steady_clock::now();
    const auto r = c->checkpoint();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1500));
    EXPECT_FALSE(r.ok());
    EXPECT_TRUE(r.message().starts_with("save failed: d2: ")) << r.message();
    EXPECT_NE(r.message().find("has not answered after 300 ms"), std::string::npos) << r.message();
    EXPECT_EQ(line(r, "d2").state(), "unreachable");
    EXPECT_EQ(line(r, "d1").state(), "aborted");
    EXPECT_EQ(agents[0]->requests_of(Request::kAbort).size(), 1u);
    EXPECT_EQ(ckpt_of(*c, "c1").state, checkpoint_state::aborted);
}

// A save takes as long as the state it writes: far longer than timeout_ms x tries is fine while the
// agent stays connected, and the person watching is told it is still going.
TEST_F(Controller, save_longer_than_every_try_is_waited_for_and_commits)
{
    budget.timeout_ms = 100;
    budget.tries = 2;
    add_agent("d1", 0);
    add_agent("d2", 0).slow_on(Request::kSave, std::chrono::milliseconds(1200));
    std::vector<std::string> said;
    controller_options o;
    o.still_working_every = std::chrono::milliseconds(300);
    o.progress = [&](const std::string &line) { said.push_back(line); };
    auto c = make(o);
    const auto r = c->checkpoint();
    ASSERT_TRUE(r.ok()) << r.message();
    EXPECT_EQ(line(r, "d2").state(), "resumed");
    EXPECT_EQ(agents[1]->requests_of(Request::kSave).size(), 1u);  // sent once, not once a try
    EXPECT_FALSE(line(r, "d2").artifact().empty());
    EXPECT_EQ(ckpt_of(*c, "c1").state, checkpoint_state::committed);
    int still = 0;
    for (const auto &l : said)
        still += l.find("d2: still saving after") != std::string::npos;
    EXPECT_GE(still, 2) << "no progress while d2 saved";
}

// An agent in the middle of a long save still answers status: its state as the save began, and what
// it is working on.
TEST_F(Controller, status_shows_an_agent_that_is_saving)
{
    add_agent("d1", 0);
    add_agent("d2", 0).slow_on(Request::kSave, std::chrono::milliseconds(1500));
    auto c = make();
    xp::OpReport r;
    std::thread ckpt([&] { r = c->checkpoint(); });
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (agents[1]->requests_of(Request::kSave).empty() && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    auto look = make();  // another controller, as a second `stasis status` would be
    const auto st = look->status();
    ckpt.join();
    ASSERT_TRUE(r.ok()) << render_report(r);
    ASSERT_EQ(st.agents.size(), 2u);
    const agent_status &d2 = st.agents[1];
    EXPECT_TRUE(d2.reachable) << d2.error;
    EXPECT_TRUE(d2.busy);
    EXPECT_EQ(d2.working_on, "save");
    EXPECT_GT(d2.working_since_ns, 0);
    EXPECT_TRUE(d2.frozen);
    EXPECT_EQ(d2.checkpoint, "c1");
    EXPECT_EQ(d2.held_packets, fake_protocol_agent::held_packets);
    const std::string text = render_status(st);
    EXPECT_TRUE(contains(text, " saving ")) << text;
    EXPECT_TRUE(contains(text, "d2: saving for ")) << text;
    EXPECT_TRUE(contains(render_status_json(st), "\"busy\":true,\"working_on\":\"save\"")) << render_status_json(st);
}

// A command right after a checkpoint meets agents whose resume at R is still ahead (the first command
// returned once they had it scheduled); they refuse a Prepare until then, so the second waits for R.
TEST_F(Controller, a_checkpoint_right_after_one_waits_for_its_resume)
{
    add_agent("d1", 1 * ms_ns);
    add_agent("d2", 0);
    auto first = make();
    const auto r1 = first->checkpoint();
    ASSERT_TRUE(r1.ok()) << render_report(r1);
    ASSERT_GT(r1.resume_ns(), realtime_now_ns()) << "the resume landed already: nothing to test";
    std::vector<std::string> said;
    controller_options o;
    o.progress = [&](const std::string &line) { said.push_back(line); };
    auto second = make(o);
    const auto r2 = second->checkpoint();
    ASSERT_TRUE(r2.ok()) << render_report(r2);
    EXPECT_GT(r2.freeze_ns(), r1.resume_ns());
    EXPECT_EQ(phases(r2), (std::vector<std::string>{"probe", "wait for R", "prepare", "freeze", "save", "commit", "resume"}));
    EXPECT_TRUE(std::ranges::any_of(said, [](const std::string &l) { return contains(l, "(the last operation's R) to land"); }));

    // A resume scheduled far ahead on purpose is not waited for: the operation says why it does not run.
    ASSERT_TRUE(second->checkpoint(true).ok());  // stays frozen
    controller_options later;
    later.lead_ms = 20'000;
    const auto t = make(later)->thaw();  // R in 20 s
    ASSERT_TRUE(t.ok()) << render_report(t);
    const auto r3 = make()->checkpoint();
    EXPECT_FALSE(r3.ok());
    EXPECT_TRUE(contains(r3.message(), "(a thaw scheduled ahead): run this after it")) << r3.message();
}

TEST_F(Controller, silent_agent_fails_before_a_checkpoint_begins)
{
    budget.timeout_ms = 100;
    budget.tries = 1;
    add_agent("d1", 0);
    add_agent("d2", 0).set_silent(true);
    auto c = make();
    const auto r = c->checkpoint();
    EXPECT_FALSE(r.ok());
    EXPECT_TRUE(contains(r.message(), "d2")) << r.message();
    EXPECT_TRUE(r.checkpoint().empty());
    EXPECT_TRUE(agents[0]->requests_of(Request::kPrepare).empty());
    EXPECT_TRUE(must(c->cat().checkpoints(exp_of(*c).id)).empty());
    EXPECT_EQ(last_op(*c).state, op_state::failed);
}

// A mapped endpoint the client cannot even parse: the operation must still end (failed), or the
// catalog keeps a running operation of this live process and refuses every later one.
TEST_F(Controller, malformed_mapped_endpoint_fails_the_operation_and_finishes_it)
{
    add_agent("d1", 0);
    auto c = make(mapped({{"d1", "no-such-transport"}}));
    xp::OpReport r;
    EXPECT_NO_THROW(r = c->checkpoint());
    EXPECT_FALSE(r.ok());
    EXPECT_TRUE(must(c->cat().unfinished_ops()).empty());
}

}  // namespace
}  // namespace stasis::control
