// A test agent: an agent_server with a scriptable handler, run in its own thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <thread>

#include "stasis/control/agent_server.hpp"

namespace stasis::control::testing {

class fake_agent {
public:
    using handler_fn = std::function<Reply(const Request &)>;

    // Binds at once (so endpoint() is known) and serves in a thread until stop().
    fake_agent(zmq::context_t &ctx, handler_fn handler, server_options options = {})
        : _handler(std::move(handler))
    {
        if (options.endpoint == server_options{}.endpoint)
            options.endpoint = "tcp://127.0.0.1:*";
        _server = std::make_unique<agent_server>(ctx, std::move(options), [this](const Request &r) {
            ++_calls;
            return _handler(r);
        });
        _thread = std::thread([this] { _server->run(std::chrono::milliseconds(10)); });
    }

    ~fake_agent() { stop(); }

    // After stop() the server's counters may be read from the test thread.
    void stop()
    {
        _server->stop();
        if (_thread.joinable())
            _thread.join();
    }

    const std::string &endpoint() const { return _server->endpoint(); }
    int calls() const { return _calls.load(); }
    const server_counters &counters() const { return _server->counters(); }

private:
    handler_fn _handler;
    std::atomic<int> _calls{0};
    std::unique_ptr<agent_server> _server;
    std::thread _thread;
};

inline Reply hello_reply(const Request &)
{
    Reply reply;
    reply.mutable_hello()->set_agent("fake-agent");
    reply.mutable_hello()->set_version("0.0.1");
    return reply;
}

inline Request hello_request()
{
    Request request;
    request.mutable_hello();
    return request;
}

}  // namespace stasis::control::testing
