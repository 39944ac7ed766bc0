// The agent side of the control protocol: a ROUTER socket, a poll loop the owner drives, one handler.
//
// Embedding in a daemon's main loop:
//
//     zmq::context_t ctx;
//     agent_server server(ctx, {.endpoint = "tcp://127.0.0.1:6001"}, [&](const Request &r) {
//         return node.handle(r);  // returns a Reply; may throw, that becomes FAILED
//     });
//     while (!server.stopped()) {
//         server.poll_once(std::chrono::milliseconds(100));  // at most one batch of requests
//         node.periodic_work();
//     }
//
// and `server.stop()` from a SIGTERM handler. A daemon with its own poll set polls `server.socket()`
// and calls `poll_once(0ms)` when it is readable.
//
// Seam for pushed events (frozen/saved/failed): a Subscribe operation records the peer's routing id,
// and a later publish() sends [peer, delimiter, Reply with request_id 0 and an event body] to each
// subscriber through send(), on this same socket, from the owner's thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include <zmq.hpp>

#include "stasis/control.pb.h"
#include "stasis/control/reply_cache.hpp"

namespace stasis::control {

using request_handler = std::function<Reply(const Request &)>;

struct server_options {
    std::string endpoint = "tcp://127.0.0.1:6001";  // tcp://127.0.0.1:* picks a free port
    int64_t max_message_bytes = 16 << 20;  // libzmq drops a peer that sends more (ZMQ_MAXMSGSIZE)
    size_t batch = 64;                     // requests handled per poll_once, so periodic work runs
    size_t cache_per_peer = 256;           // replies remembered per peer for retries
    size_t cache_peers = 1024;             // peers remembered
    size_t cache_bytes = 64 << 20;         // replies remembered in all (stats replies can be large)
    // Seam for CURVE: a server secret key and a ZAP handler holding the allow-list of client keys
    // will be configured in open_socket(); the handler will then see the peer's key in request_info.
};

// What the server counted; for logs and tests.
struct server_counters {
    uint64_t requests = 0;      // handler invocations
    uint64_t replayed = 0;      // retries answered from the reply cache
    uint64_t bad_requests = 0;  // malformed envelopes or bodies
    uint64_t failed = 0;        // handler threw
    uint64_t send_dropped = 0;  // reply not sent (peer gone or its queue full)
};

class agent_server {
public:
    // Binds at once; throws std::runtime_error naming the endpoint when it cannot.
    agent_server(zmq::context_t &ctx, server_options options, request_handler handler);

    agent_server(const agent_server &) = delete;
    agent_server &operator=(const agent_server &) = delete;

    // Waits up to `timeout` for requests and handles at most one batch; returns how many messages
    // were handled. Returns early (0) when interrupted by a signal. Never throws for what a peer sends.
    size_t poll_once(std::chrono::milliseconds timeout);

    // poll_once until stop().
    void run(std::chrono::milliseconds tick = std::chrono::milliseconds(100));

    // Async-signal-safe and thread-safe: a lock-free store. The loop notices within one tick (at
    // once in the signalled thread, whose poll returns with EINTR).
    void stop() noexcept { _stop.store(true, std::memory_order_relaxed); }
    bool stopped() const noexcept { return _stop.load(std::memory_order_relaxed); }

    // The bound endpoint with any wildcard port resolved (ZMQ_LAST_ENDPOINT).
    const std::string &endpoint() const { return _endpoint; }
    // For owners that poll the socket in their own loop; not for sending.
    zmq::socket_ref socket() { return _socket; }
    const server_counters &counters() const { return _counters; }

private:
    // Returns false when there was nothing to receive.
    bool handle_one();
    Reply dispatch(const Request &request);
    void send(std::span<zmq::message_t> route, zmq::message_t body);

    zmq::socket_t _socket;
    std::string _endpoint;
    server_options _options;
    request_handler _handler;
    reply_cache _cache;
    server_counters _counters;
    std::atomic<bool> _stop{false};
    static_assert(std::atomic<bool>::is_always_lock_free, "stop() must be async-signal-safe");
};

}  // namespace stasis::control
