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
// and, with CURVE, `server.zap_socket()`, and calls `poll_once(0ms)` when either is readable.
//
// Security (docs/SECURITY.md): with `options.curve` the socket is a CURVE server and a ZAP handler on
// the same context, answered from poll_once, lets in only the allow-listed controller keys; without
// it the socket is plain, and then the endpoint must be loopback or the constructor throws.
//
// Long requests (a save, a load, a release: seconds to minutes for a guest's memory): while the
// handler runs one, a helper thread keeps the socket. It answers Hello, ClockProbe and FreezeStatus
// (Hello and FreezeStatus from the handler's own answers taken just before the request began, marked
// with `working_on`; ClockProbe from CLOCK_REALTIME, as every agent answers it: clock_probe_reply()),
// and holds every other request, in order, for the owner to handle after it;
// retries of what it holds, and of the long request itself, are dropped (each is answered once). The
// owner's thread is in the handler all that time, as before, so the handler needs no locking; the
// helper never calls it.
//
// Seam for pushed events (frozen/saved/failed): a Subscribe operation records the peer's routing id,
// and a later publish() sends [peer, delimiter, Reply with request_id 0 and an event body] to each
// subscriber through send(), on this same socket, from the owner's thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "stasis/control.pb.h"
#include "stasis/control/curve.hpp"
#include "stasis/control/reply_cache.hpp"

namespace stasis::control {

using request_handler = std::function<Reply(const Request &)>;
// The name of the long work a request asks for ("save"), or empty for one answered at once.
using long_request_filter = std::function<std::string(const Request &)>;
// Save, Load and Release.
std::string default_long_request(const Request &request);

// How long an owner's poll_once may wait: until `due_ns`, its next scheduled work (CLOCK_REALTIME;
// INT64_MAX: none), and at most `tick`.
std::chrono::milliseconds poll_timeout(int64_t due_ns,
                                       std::chrono::milliseconds tick = std::chrono::milliseconds(100));

// The CURVE side of an agent: its own key pair and the controllers' public keys it lets in.
struct curve_server_options {
    key_pair keys;                     // the agent's; the secret is needed
    std::vector<std::string> allowed;  // Z85 public keys (read_allow_list); empty lets nobody in
    std::string zap_domain = "stasis";
};

struct server_options {
    std::string endpoint = "tcp://127.0.0.1:6001";  // tcp://127.0.0.1:* picks a free port
    int64_t max_message_bytes = 16 << 20;  // libzmq drops a peer that sends more (ZMQ_MAXMSGSIZE)
    size_t batch = 64;                     // requests handled per poll_once, so periodic work runs
    size_t cache_per_peer = 256;           // replies remembered per peer for retries
    size_t cache_peers = 1024;             // peers remembered
    size_t cache_bytes = 64 << 20;         // replies remembered in all (stats replies can be large)
    // CURVE, or plain (unauthenticated) when empty, which only a loopback endpoint may be
    // (is_loopback_endpoint); the constructor throws otherwise.
    std::optional<curve_server_options> curve = std::nullopt;
    // Where refused keys are reported, one line each, the first time; stderr when empty.
    std::function<void(const std::string &)> log = nullptr;
    // Which requests are long (see the top of this file); empty: none.
    long_request_filter long_request = default_long_request;
    size_t held_max = 4096;               // requests held during one; more are answered BUSY,
    size_t held_bytes_max = 64 << 20;     // as are those past this many bytes held
};

// What the server counted; for logs and tests.
struct server_counters {
    uint64_t requests = 0;      // handler invocations for peers' requests
    uint64_t replayed = 0;      // retries answered from the reply cache
    uint64_t bad_requests = 0;  // malformed envelopes or bodies
    uint64_t failed = 0;        // handler threw
    uint64_t send_dropped = 0;  // reply not sent (peer gone or its queue full)
    uint64_t auth_refused = 0;  // CURVE handshakes refused: the key is not on the allow-list
    // While a long request ran (counted by the helper thread; read them after it):
    std::atomic<uint64_t> answered_busy{0};  // Hello, ClockProbe, FreezeStatus answered
    std::atomic<uint64_t> held{0};           // requests held for after it
    std::atomic<uint64_t> held_retries{0};   // retries of held ones (or of it) dropped
};

class agent_server {
public:
    // Binds at once; throws std::runtime_error naming the endpoint when it cannot, or when the
    // options ask for plain mode on an endpoint other hosts can reach.
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

    // Pushes `event` to every peer that sent a Subscribe, as a Reply with request_id 0 and the event
    // as its body. From the owner's thread; a peer that is gone or slow misses it (never blocks).
    void publish(const Event &event);
    size_t subscribers() const noexcept { return _subscribers.size(); }

    // The bound endpoint with any wildcard port resolved (ZMQ_LAST_ENDPOINT).
    const std::string &endpoint() const { return _endpoint; }
    // For owners that poll the socket in their own loop; not for sending.
    zmq::socket_ref socket() { return _socket; }
    // The ZAP handler's socket, for the same owners; an empty ref in plain mode.
    zmq::socket_ref zap_socket() { return _zap ? _zap->socket() : zmq::socket_ref(); }
    bool curve() const { return _zap.has_value(); }
    const server_counters &counters() const { return _counters; }

private:
    struct held_request {
        std::vector<zmq::message_t> frames;
        std::string peer;
        uint64_t request_id = 0;  // 0: never a retry of another
        size_t bytes = 0;
    };
    struct busy_work;

    // Waits up to `timeout` for the socket or the ZAP handler's; answers pending handshakes. False:
    // nothing came. Throws zmq::error_t (EINTR, ETERM).
    bool poll_sockets(std::chrono::milliseconds timeout);
    // Returns false when there was nothing to receive.
    bool receive(std::vector<zmq::message_t> &frames);
    void handle(std::vector<zmq::message_t> &frames);
    Reply dispatch(const Request &request, bool counted = true);  // counted: a peer's request
    Reply run_long(const Request &request, const std::string &peer, const std::string &work);
    void serve_while_busy(busy_work &work);
    void answer_while_busy(busy_work &work, std::vector<zmq::message_t> &frames);
    void send(std::span<zmq::message_t> route, zmq::message_t body);

    std::optional<zap_handler> _zap;  // before the socket: libzmq looks for it when a peer connects
    zmq::socket_t _socket;
    std::string _endpoint;
    server_options _options;
    request_handler _handler;
    reply_cache _cache;
    std::vector<std::string> _subscribers;  // routing ids of the peers that asked for events
    std::deque<held_request> _held;          // held during a long request, handled next
    size_t _held_bytes = 0;
    server_counters _counters;
    std::atomic<bool> _stop{false};
    static_assert(std::atomic<bool>::is_always_lock_free, "stop() must be async-signal-safe");
};

}  // namespace stasis::control
