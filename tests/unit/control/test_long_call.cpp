// call_long(): a save or a load that takes longer than every try of a normal call is waited for while
// the agent stays connected, and given up on once the agent is gone (killed, or stopped so that it no
// longer answers heartbeats), or sent again when it comes back. The agents here are real processes,
// so that killing and stopping them is what it is for a daemon.
#include <gtest/gtest.h>

#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "stasis/control/agent_client.hpp"
#include "stasis/control/agent_server.hpp"

namespace stasis::control {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

// An agent in a child process whose Save takes `save_for` (its thread busy, as stasis-noded's is while
// QEMU writes a guest's memory) and answers with `who` in the message. Killed when the test ends.
class agent_process {
public:
    agent_process(const std::string &endpoint, milliseconds save_for, const std::string &who)
    {
        int fds[2];
        if (pipe(fds) != 0)
            throw std::runtime_error("pipe");
        _pid = fork();
        if (_pid == 0) {
            close(fds[0]);
            serve(fds[1], endpoint, save_for, who);  // never returns
        }
        close(fds[1]);
        char buf[256] = {};
        ssize_t n = 0, got;
        while (n < ssize_t(sizeof buf) - 1 && (got = read(fds[0], buf + n, sizeof buf - 1 - size_t(n))) > 0)
            n += got;
        close(fds[0]);
        _endpoint.assign(buf, size_t(std::max<ssize_t>(n, 0)));
        if (_endpoint.empty()) {
            kill_now();
            throw std::runtime_error("the agent process did not start on " + endpoint);
        }
    }
    ~agent_process() { kill_now(); }

    const std::string &endpoint() const { return _endpoint; }
    void signal(int sig) { ::kill(_pid, sig); }
    void kill_now()
    {
        if (_pid > 0) {
            ::kill(_pid, SIGKILL);
            waitpid(_pid, nullptr, 0);
            _pid = -1;
        }
    }

private:
    [[noreturn]] static void serve(int out, const std::string &endpoint, milliseconds save_for, const std::string &who)
    {
        try {
            zmq::context_t ctx;
            agent_server server(ctx, server_options{.endpoint = endpoint}, [&](const Request &r) {
                Reply reply;
                if (r.has_save()) {
                    std::this_thread::sleep_for(save_for);
                    reply.mutable_snapshot()->set_path(r.save().path());
                }
                reply.set_message(who);
                return reply;
            });
            const std::string &ep = server.endpoint();
            if (write(out, ep.data(), ep.size()) != ssize_t(ep.size()))
                _exit(1);
            close(out);
            server.run(10ms);
        } catch (...) {
        }
        _exit(0);
    }

    pid_t _pid = -1;
    std::string _endpoint;
};

Request save_request()
{
    Request r;
    r.mutable_save()->set_path("/snap/n1");
    return r;
}

double seconds_since(steady_clock::time_point t0) { return std::chrono::duration<double>(steady_clock::now() - t0).count(); }

TEST(long_call, answered_when_done_although_it_takes_longer_than_every_try)
{
    agent_process agent("tcp://127.0.0.1:*", 1500ms, "agent 1");
    agent_client client(agent.endpoint());
    long_call how{.patience = 20s, .timeout = 100ms, .tries = 2, .progress_every = 300ms};
    std::atomic<int> said{0};
    how.waiting = [&](milliseconds waited) {
        EXPECT_GE(waited, 300ms * (said + 1) - 10ms);
        ++said;
    };
    const auto t0 = steady_clock::now();
    auto r = client.call_long(save_request(), how);
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(r->snapshot().path(), "/snap/n1");
    EXPECT_GE(seconds_since(t0), 1.4);
    EXPECT_GE(said.load(), 3);  // every 300 ms of the 1.5 s

    // A normal call gives up after its tries, long before the agent is done.
    const auto t1 = steady_clock::now();
    auto quick = client.call(save_request(), 100ms, 2);
    ASSERT_FALSE(quick.has_value());
    EXPECT_EQ(quick.error().what, call_error::kind::timeout);
    EXPECT_LT(seconds_since(t1), 1.0);
}

TEST(long_call, agent_killed_while_working_fails_after_timeout_times_tries)
{
    agent_process agent("tcp://127.0.0.1:*", 30s, "agent 1");
    agent_client client(agent.endpoint());
    const long_call how{.patience = 60s, .timeout = 200ms, .tries = 3};
    std::jthread killer([&] {
        std::this_thread::sleep_for(400ms);
        agent.kill_now();
    });
    const auto t0 = steady_clock::now();
    auto r = client.call_long(save_request(), how);
    const double took = seconds_since(t0);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().what, call_error::kind::timeout);
    EXPECT_NE(r.error().message.find("lost the connection to " + agent.endpoint()), std::string::npos)
        << r.error().message;
    EXPECT_NE(r.error().message.find("600 ms (3 tries of 200 ms)"), std::string::npos) << r.error().message;
    EXPECT_GE(took, 0.4 + 0.55);  // killed at 0.4 s, then away for 600 ms
    EXPECT_LT(took, 5.0);         // not the 60 s of patience
}

TEST(long_call, stopped_agent_is_found_gone_by_its_missing_heartbeats)
{
    // SIGSTOP: the kernel keeps the connection up, but nothing answers the heartbeats.
    agent_process agent("tcp://127.0.0.1:*", 30s, "agent 1");
    agent_client client(agent.endpoint(), client_options{.heartbeat = 100ms, .heartbeat_timeout = 300ms});
    const long_call how{.patience = 20s, .timeout = 200ms, .tries = 2};
    std::jthread stopper([&] {
        std::this_thread::sleep_for(400ms);
        agent.signal(SIGSTOP);
    });
    const auto t0 = steady_clock::now();
    auto r = client.call_long(save_request(), how);
    const double took = seconds_since(t0);
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().message.find("lost the connection"), std::string::npos) << r.error().message;
    EXPECT_GE(took, 0.4 + 0.3 + 0.35);  // stopped, heartbeats missed, then away for 400 ms
    EXPECT_LT(took, 5.0);
}

TEST(long_call, agent_back_at_its_endpoint_gets_the_request_again)
{
    auto first = std::make_unique<agent_process>("tcp://127.0.0.1:*", 30s, "agent 1");
    const std::string endpoint = first->endpoint();
    agent_client client(endpoint);
    const long_call how{.patience = 20s, .timeout = 1000ms, .tries = 3};
    std::unique_ptr<agent_process> second;
    std::jthread restarter([&] {
        std::this_thread::sleep_for(400ms);
        first->kill_now();
        second = std::make_unique<agent_process>(endpoint, 0ms, "agent 2");
    });
    auto r = client.call_long(save_request(), how);
    restarter.join();
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(r->message(), "agent 2");
    EXPECT_EQ(r->snapshot().path(), "/snap/n1");
}

// The drop and the new connection both happen while the client is not looking (here: busy in its
// progress callback), so it never sees the agent away; the new handshake alone must make it resend.
TEST(long_call, agent_restarted_between_two_looks_gets_the_request_again)
{
    auto first = std::make_unique<agent_process>("tcp://127.0.0.1:*", 30s, "agent 1");
    const std::string endpoint = first->endpoint();
    agent_client client(endpoint);
    std::unique_ptr<agent_process> second;
    std::atomic<bool> restarted{false};
    long_call how{.patience = 20s, .timeout = 1000ms, .tries = 3, .progress_every = 200ms};
    how.waiting = [&](milliseconds) {
        if (second)
            return;
        first->kill_now();
        second = std::make_unique<agent_process>(endpoint, 0ms, "agent 2");
        std::this_thread::sleep_for(500ms);  // time to reconnect, unseen
        restarted = true;
    };
    auto r = client.call_long(save_request(), how);
    ASSERT_TRUE(restarted.load());
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(r->message(), "agent 2");
}

TEST(long_call, connected_agent_that_never_answers_runs_out_the_patience)
{
    agent_process agent("tcp://127.0.0.1:*", 30s, "agent 1");
    agent_client client(agent.endpoint());
    const long_call how{.patience = 700ms, .timeout = 100ms, .tries = 1};
    const auto t0 = steady_clock::now();
    auto r = client.call_long(save_request(), how);
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().message.find("is connected but has not answered after 700 ms"), std::string::npos)
        << r.error().message;
    EXPECT_GE(seconds_since(t0), 0.69);
    EXPECT_LT(seconds_since(t0), 3.0);
}

}  // namespace
}  // namespace stasis::control
