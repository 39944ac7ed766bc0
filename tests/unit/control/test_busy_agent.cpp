// An agent working on a long request (a save) still answers Hello, ClockProbe and FreezeStatus, holds
// everything else for after it, in order, and answers every request once.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fake_agent.hpp"
#include "stasis/control/agent_client.hpp"
#include "stasis/control/agent_replies.hpp"

namespace stasis::control {
namespace {

using namespace std::chrono_literals;
using testing::fake_agent;

bool wait_until(const std::function<bool()> &done, std::chrono::milliseconds limit = 5000ms)
{
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > end)
            return false;
        std::this_thread::sleep_for(2ms);
    }
    return true;
}

std::string op_name(const Request &r)
{
    return std::string(Request::GetDescriptor()->FindFieldByNumber(r.op_case())->name());
}

Request save_request()
{
    Request r;
    r.mutable_save()->set_path("/snap/s1");
    return r;
}

// One try of a request (`set` picks its operation) from a client of its own.
call_result ask_once(zmq::context_t &ctx, const std::string &endpoint, void (*set)(Request &),
                     std::chrono::milliseconds timeout)
{
    agent_client c(ctx, endpoint);
    Request q;
    set(q);
    return c.call(q, timeout, 1);
}
void link_show(Request &q) { q.mutable_link_show(); }
void link_stats(Request &q) { q.mutable_link_stats(); }

// A frozen agent whose Save runs until the test lets it finish (or 10 s pass).
struct saving_agent {
    explicit saving_agent(zmq::context_t &ctx, server_options options = {})
        : agent(ctx, [this](const Request &r) { return handle(r); }, std::move(options))
    {
    }
    // A failed assertion returns early: the save still ends, and the test's threads are joined.
    ~saving_agent()
    {
        finish = true;
        join();
    }
    template <typename F>
    void spawn(F &&f)
    {
        threads.emplace_back(std::forward<F>(f));
    }
    void join()
    {
        for (auto &t : threads)
            if (t.joinable())
                t.join();
    }
    // A client's Save, answered when the test lets it finish; true once the handler is in it.
    bool start_save(zmq::context_t &ctx)
    {
        spawn([this, &ctx] {
            agent_client c(ctx, agent.endpoint());
            EXPECT_TRUE(c.call_long(save_request(), long_call{.patience = 20'000ms}));
        });
        return wait_until([this] { return saving.load(); });
    }

    Reply handle(const Request &r)
    {
        {
            std::lock_guard lock(m);
            order.push_back(op_name(r));
        }
        Reply reply;
        if (r.has_hello()) {
            reply.mutable_hello()->set_agent("saving-agent");
            reply.mutable_hello()->set_realtime_ns(realtime_ns());
        } else if (r.has_freeze_status()) {
            reply.mutable_freeze()->set_frozen(true);
            reply.mutable_freeze()->set_checkpoint("c1");
        } else if (r.has_save()) {
            saves++;
            saving = true;
            wait_until([this] { return finish.load(); }, 10'000ms);
            saving = false;
            reply.mutable_snapshot()->set_path(r.save().path());
        } else {
            reply.set_message("did " + op_name(r));
        }
        return reply;
    }

    // What the handler ran after the save, in order.
    std::vector<std::string> after_save()
    {
        std::lock_guard lock(m);
        auto it = std::find(order.begin(), order.end(), "save");
        return it == order.end() ? std::vector<std::string>{} : std::vector<std::string>(it + 1, order.end());
    }

    std::atomic<bool> saving{false}, finish{false};
    std::atomic<int> saves{0};
    std::mutex m;
    std::vector<std::string> order;
    std::vector<std::thread> threads;
    fake_agent agent;
};

TEST(busy_agent, answers_hello_clock_probe_and_freeze_status_while_it_saves)
{
    zmq::context_t ctx;
    call_result saved;  // before the agent: its destructor joins the threads that write it
    saving_agent a(ctx);
    const int64_t before = realtime_ns();
    a.spawn([&] {
        agent_client c(ctx, a.agent.endpoint());
        saved = c.call_long(save_request(), long_call{.patience = 20'000ms});
    });
    ASSERT_TRUE(wait_until([&] { return a.saving.load(); }));

    agent_client b(ctx, a.agent.endpoint());
    Request q;
    q.mutable_hello();
    auto r = b.call(q, 500ms, 1);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->hello().agent(), "saving-agent");
    EXPECT_EQ(r->hello().working_on(), "save");
    EXPECT_GT(r->hello().realtime_ns(), before);  // its clock now, not the snapshot's
    EXPECT_LE(r->hello().realtime_ns(), realtime_ns());

    q.mutable_freeze_status();
    r = b.call(q, 500ms, 1);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(r->freeze().frozen());
    EXPECT_EQ(r->freeze().checkpoint(), "c1");
    EXPECT_EQ(r->freeze().working_on(), "save");
    EXPECT_GE(r->freeze().working_since_ns(), before);
    EXPECT_LE(r->freeze().working_since_ns(), realtime_ns());

    q.mutable_clock_probe();
    const int64_t t1 = realtime_ns();
    r = b.call(q, 500ms, 1);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_GE(r->clock().receive_ns(), t1);
    EXPECT_LE(r->clock().transmit_ns(), realtime_ns());
    EXPECT_EQ(a.agent.counters().answered_busy, 3u);
    EXPECT_TRUE(a.saving) << "the save ended before the questions: nothing was tested";

    a.finish = true;
    a.join();
    ASSERT_TRUE(saved) << saved.error().message;
    EXPECT_EQ(saved->snapshot().path(), "/snap/s1");
    EXPECT_EQ(a.saves, 1);

    q.mutable_hello();  // done: the handler answers again, not working on anything
    r = b.call(q, 500ms, 1);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->hello().working_on(), "");
}

TEST(busy_agent, holds_other_requests_and_handles_each_once_after_it_in_order)
{
    zmq::context_t ctx;
    std::atomic<int> answered{0};
    saving_agent a(ctx);
    ASSERT_TRUE(a.start_save(ctx));

    // Plain calls that retry every 100 ms: each retry of a held request is dropped, not held again.
    auto ask = [&ctx, &answered, endpoint = a.agent.endpoint()](Request q, std::string want) {
        agent_client c(ctx, endpoint);
        auto r = c.call(std::move(q), 100ms, 50);
        EXPECT_TRUE(r) << r.error().message;
        if (r) {
            EXPECT_EQ(r->status(), OK) << r->message();
            EXPECT_EQ(r->message(), "did " + want);
        }
        answered++;
    };
    Request show, stats;
    show.mutable_link_show();
    stats.mutable_link_stats();
    a.spawn([=] { ask(show, "link_show"); });
    ASSERT_TRUE(wait_until([&] { return a.agent.counters().held == 1; }));
    a.spawn([=] { ask(stats, "link_stats"); });
    ASSERT_TRUE(wait_until([&] { return a.agent.counters().held == 2; }));
    ASSERT_TRUE(wait_until([&] { return a.agent.counters().held_retries >= 4; }));
    EXPECT_EQ(answered, 0) << "a held request was answered before the save ended";
    EXPECT_TRUE(a.saving);

    a.finish = true;
    a.join();
    EXPECT_EQ(answered, 2);
    EXPECT_EQ(a.after_save(), (std::vector<std::string>{"link_show", "link_stats"}));
    EXPECT_EQ(a.agent.counters().held, 2u);
}

TEST(busy_agent, retries_of_the_long_request_itself_are_answered_once)
{
    zmq::context_t ctx;
    saving_agent a(ctx);
    a.spawn([&] {
        wait_until([&] { return a.saving.load(); });
        std::this_thread::sleep_for(600ms);
        a.finish = true;
    });
    agent_client c(ctx, a.agent.endpoint());
    auto r = c.call(save_request(), 100ms, 50);  // the plain call resends it every 100 ms
    a.join();
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->snapshot().path(), "/snap/s1");
    EXPECT_EQ(a.saves, 1);
    EXPECT_GE(a.agent.counters().held_retries, 3u);
    EXPECT_EQ(a.agent.counters().held, 0u);
}

TEST(busy_agent, more_held_requests_than_the_limit_are_answered_busy)
{
    zmq::context_t ctx;
    server_options options;
    options.held_max = 1;
    call_result held;
    saving_agent a(ctx, options);
    ASSERT_TRUE(a.start_save(ctx));
    a.spawn([&] { held = ask_once(ctx, a.agent.endpoint(), link_show, 5000ms); });
    ASSERT_TRUE(wait_until([&] { return a.agent.counters().held == 1; }));
    auto r = ask_once(ctx, a.agent.endpoint(), link_stats, 2000ms);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status(), BUSY);
    EXPECT_NE(r->message().find("working on a long request"), std::string::npos) << r->message();
    EXPECT_TRUE(a.saving);

    a.finish = true;
    a.join();
    ASSERT_TRUE(held) << held.error().message;
    EXPECT_EQ(held->message(), "did link_show");
    EXPECT_EQ(a.after_save(), (std::vector<std::string>{"link_show"}));
}

// The bytes held are bounded too (a peer may send large requests): past the bound, BUSY at once.
TEST(busy_agent, more_held_bytes_than_the_limit_are_answered_busy)
{
    zmq::context_t ctx;
    server_options options;
    options.held_bytes_max = 8;  // smaller than any request
    saving_agent a(ctx, options);
    ASSERT_TRUE(a.start_save(ctx));
    auto r = ask_once(ctx, a.agent.endpoint(), link_show, 2000ms);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status(), BUSY);
    EXPECT_NE(r->message().find("holds 0 others (0 bytes)"), std::string::npos) << r->message();
    EXPECT_TRUE(a.saving);
    EXPECT_EQ(a.agent.counters().held, 0u);
}

// The control for the tests above: with no request taken as long, a saving agent answers nothing.
TEST(busy_agent, without_long_requests_a_saving_agent_is_silent)
{
    zmq::context_t ctx;
    server_options options;
    options.long_request = nullptr;
    saving_agent a(ctx, options);
    ASSERT_TRUE(a.start_save(ctx));
    agent_client b(ctx, a.agent.endpoint());
    Request q;
    q.mutable_hello();
    auto r = b.call(q, 200ms, 1);
    EXPECT_FALSE(r);
    a.finish = true;
    a.join();
}

}  // namespace
}  // namespace stasis::control
