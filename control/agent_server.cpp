// The agent's ROUTER loop: decode, deduplicate retries, dispatch, answer.
#include "stasis/control/agent_server.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <csignal>
#include <exception>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include <zmq_addon.hpp>

#include "stasis/control/agent_replies.hpp"
#include "stasis/control/envelope.hpp"

namespace stasis::control {
namespace {

// ZMQ_ZAP_ENFORCE_DOMAIN: a draft option in libzmq 4.3's header that the library implements. With
// it a CURVE handshake fails when no ZAP handler answers, instead of letting every key in.
constexpr int zap_enforce_domain_option = 93;

// Plain mode's loopback rule, the key checks, and the ZAP handler, before the socket exists.
std::optional<zap_handler> open_zap(zmq::context_t &ctx, const server_options &options)
{
    if (!options.curve) {
        if (!is_loopback_endpoint(options.endpoint))
            throw std::runtime_error("refusing a plain (unauthenticated) control socket on " + options.endpoint +
                                     ": other hosts could reach it; use CURVE keys (docs/SECURITY.md) or a "
                                     "loopback endpoint (tcp://127.0.0.1:PORT, ipc://PATH)");
        return std::nullopt;
    }
    const auto &curve = *options.curve;
    if (!is_z85_key(curve.keys.secret_key) || public_key_of(curve.keys.secret_key) != curve.keys.public_key)
        throw std::invalid_argument("agent_server: the CURVE key pair is not a matching pair of Z85 keys");
    if (curve.allowed.empty())
        throw std::invalid_argument("agent_server: CURVE with an empty allow-list would let no controller in");
    auto log = options.log;
    if (!log)
        log = [where = options.endpoint](const std::string &line) {
            std::fprintf(stderr, "stasis agent %s: %s\n", where.c_str(), line.c_str());
        };
    return std::optional<zap_handler>(std::in_place, ctx, curve.allowed, curve.zap_domain, std::move(log));
}

zmq::socket_t open_socket(zmq::context_t &ctx, const server_options &options)
{
    zmq::socket_t socket(ctx, zmq::socket_type::router);
    socket.set(zmq::sockopt::linger, 0);
    // A client that reconnects with its fixed routing id takes over the old pipe, so its retries
    // still find their cached replies.
    socket.set(zmq::sockopt::router_handover, 1);
    socket.set(zmq::sockopt::maxmsgsize, options.max_message_bytes);
    if (options.curve) {
        socket.set(zmq::sockopt::curve_server, true);
        socket.set(zmq::sockopt::curve_secretkey, options.curve->keys.secret_key);
        socket.set(zmq::sockopt::zap_domain, options.curve->zap_domain);
        const int on = 1;
        // Older libzmq lacks it; our handler is bound before this socket and outlives it anyway.
        zmq_setsockopt(socket.handle(), zap_enforce_domain_option, &on, sizeof on);
    }
    return socket;
}

}  // namespace

agent_server::agent_server(zmq::context_t &ctx, server_options options, request_handler handler)
    : _zap(open_zap(ctx, options)), _socket(open_socket(ctx, options)), _options(std::move(options)),
      _handler(std::move(handler)),
      _cache(_options.cache_per_peer, _options.cache_peers, _options.cache_bytes)
{
    if (!_handler)
        throw std::invalid_argument("agent_server: no request handler");
    try {
        _socket.bind(_options.endpoint);
    } catch (const zmq::error_t &e) {
        throw std::runtime_error(
            "cannot bind the control socket to " + _options.endpoint + ": " + e.what());
    }
    _endpoint = _socket.get(zmq::sockopt::last_endpoint);
    if (_options.batch == 0)
        _options.batch = 1;
}

bool agent_server::poll_sockets(std::chrono::milliseconds timeout)
{
    zmq::pollitem_t items[] = {{_socket.handle(), 0, ZMQ_POLLIN, 0},
                               {_zap ? _zap->socket().handle() : nullptr, 0, ZMQ_POLLIN, 0}};
    if (zmq::poll(items, _zap ? 2 : 1, timeout) == 0)
        return false;
    if (_zap)  // answered first: a handshake waiting on it holds up that peer's requests
        _counters.auth_refused += _zap->answer_pending();
    return true;
}

size_t agent_server::poll_once(std::chrono::milliseconds timeout)
{
    try {
        // What a long request held is handled first, and without waiting.
        if (!poll_sockets(_held.empty() ? timeout : std::chrono::milliseconds(0)) && _held.empty())
            return 0;
    } catch (const zmq::error_t &e) {
        if (e.num() == EINTR)  // a signal, perhaps the one that called stop()
            return 0;
        throw;  // ETERM: the context is going away, the owner is shutting down
    }
    size_t handled = 0;
    while (handled < _options.batch && !stopped()) {
        std::vector<zmq::message_t> frames;
        if (!_held.empty()) {
            frames = std::move(_held.front().frames);
            _held_bytes -= _held.front().bytes;
            _held.pop_front();
        } else if (!receive(frames)) {
            break;
        }
        handle(frames);
        ++handled;
    }
    return handled;
}

void agent_server::run(std::chrono::milliseconds tick)
{
    while (!stopped())
        poll_once(tick);
}

bool agent_server::receive(std::vector<zmq::message_t> &frames)
{
    try {
        return bool(zmq::recv_multipart(_socket, std::back_inserter(frames), zmq::recv_flags::dontwait));
    } catch (const zmq::error_t &e) {
        if (e.num() == EINTR)
            return false;
        throw;
    }
}

void agent_server::handle(std::vector<zmq::message_t> &frames)
{
    auto routed = split_routed(frames);
    if (!routed) {
        ++_counters.bad_requests;
        // Without a body we still know the peer (frame 0) and can tell it what was wrong.
        if (!frames.empty())
            send(std::span(frames.data(), 1), encode(make_reply(BAD_REQUEST, routed.error())));
        return;
    }

    auto request = decode_request(*routed->body);
    if (!request) {
        ++_counters.bad_requests;
        Reply reply = make_reply(BAD_REQUEST, request.error().message);
        reply.set_request_id(request.error().request_id);  // so a waiting client takes it as its answer
        send(routed->route, encode(reply));
        return;
    }

    const std::string peer = frames[0].to_string();
    const uint64_t id = request->request_id();
    if (id != 0) {  // id 0 means the client does not retry; nothing to remember
        if (const std::string *cached = _cache.find(peer, id)) {
            ++_counters.replayed;
            send(routed->route, zmq::message_t(cached->data(), cached->size()));
            return;
        }
    }

    Reply reply;
    if (request->has_subscribe()) {  // the server's own operation: it knows the peer, the handler not
        if (std::find(_subscribers.begin(), _subscribers.end(), peer) == _subscribers.end())
            _subscribers.push_back(peer);
        reply.set_message("subscribed to events");
    } else if (std::string work = _options.long_request ? _options.long_request(*request) : std::string();
               !work.empty()) {
        reply = run_long(*request, peer, work);
    } else {
        reply = dispatch(*request);
    }
    reply.set_request_id(id);
    std::string bytes = reply.SerializeAsString();
    send(routed->route, zmq::message_t(bytes.data(), bytes.size()));
    if (id != 0)
        _cache.insert(peer, id, std::move(bytes));
}

// A long request in progress, as the helper thread sees it.
struct agent_server::busy_work {
    std::string peer;
    uint64_t request_id;
    Reply hello, freeze;  // the handler's answers as the request began, marked with the work
    std::atomic<bool> done{false};
};

std::string default_long_request(const Request &request)
{
    switch (request.op_case()) {
    case Request::kSave:
        return "save";
    case Request::kLoad:
        return "load";
    case Request::kRelease:
        return "release";
    default:
        return {};
    }
}

std::chrono::milliseconds poll_timeout(int64_t due_ns, std::chrono::milliseconds tick)
{
    const int64_t left_ns = due_ns == INT64_MAX ? INT64_MAX : due_ns - realtime_ns();
    return std::chrono::milliseconds(std::clamp<int64_t>(left_ns / 1'000'000, 0, tick.count()));
}

Reply agent_server::run_long(const Request &request, const std::string &peer, const std::string &work)
{
    busy_work b{.peer = peer, .request_id = request.request_id(), .hello = {}, .freeze = {}};
    const int64_t since = realtime_ns();
    Request q;
    q.mutable_hello();
    b.hello = dispatch(q, false);
    if (b.hello.has_hello())
        b.hello.mutable_hello()->set_working_on(work);
    q.mutable_freeze_status();
    b.freeze = dispatch(q, false);
    if (b.freeze.has_freeze()) {
        b.freeze.mutable_freeze()->set_working_on(work);
        b.freeze.mutable_freeze()->set_working_since_ns(since);
    }
    // The socket passes to the helper and back: the thread's start and join order every access. The
    // guard takes it back however the handler ends.
    std::thread helper([this, &b] {
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, nullptr);  // signals stay with the owner's thread, as before
        serve_while_busy(b);
    });
    struct take_back {
        busy_work &b;
        std::thread &t;
        ~take_back()
        {
            b.done.store(true, std::memory_order_release);
            t.join();
        }
    } guard{b, helper};
    return dispatch(request);
}

void agent_server::serve_while_busy(busy_work &b)
{
    while (!b.done.load(std::memory_order_acquire)) {
        try {
            if (!poll_sockets(std::chrono::milliseconds(20)))
                continue;
            for (;;) {
                std::vector<zmq::message_t> frames;
                if (!receive(frames))
                    break;
                answer_while_busy(b, frames);
            }
        } catch (const zmq::error_t &) {
            return;  // ETERM: the owner is shutting down; what is left stays in the socket
        }
    }
}

// Answers what it can from the snapshot, holds the rest (a malformed message too: the owner's
// handle() answers it as usual, in order).
void agent_server::answer_while_busy(busy_work &b, std::vector<zmq::message_t> &frames)
{
    held_request h;
    auto routed = split_routed(frames);
    std::optional<Request> request;
    if (routed) {
        if (auto r = decode_request(*routed->body))
            request = std::move(*r);
    }
    if (!frames.empty())
        h.peer = frames[0].to_string();
    if (request) {
        h.request_id = request->request_id();
        if (h.request_id != 0 && h.request_id == b.request_id && h.peer == b.peer) {
            ++_counters.held_retries;  // the long request again: answered when it is done
            return;
        }
        if (h.request_id != 0) {
            if (const std::string *cached = _cache.find(h.peer, h.request_id)) {
                ++_counters.replayed;
                send(routed->route, zmq::message_t(cached->data(), cached->size()));
                return;
            }
        }
        std::optional<Reply> reply;
        if (request->has_hello()) {
            reply = b.hello;
            if (reply->has_hello())
                reply->mutable_hello()->set_realtime_ns(realtime_ns());
        } else if (request->has_clock_probe()) {
            reply = clock_probe_reply();
        } else if (request->has_freeze_status()) {
            reply = b.freeze;
        }
        if (reply) {
            ++_counters.answered_busy;
            reply->set_request_id(h.request_id);
            std::string bytes = reply->SerializeAsString();
            send(routed->route, zmq::message_t(bytes.data(), bytes.size()));
            return;
        }
        if (h.request_id != 0 &&
            std::ranges::any_of(_held, [&](const held_request &o) {
                return o.request_id == h.request_id && o.peer == h.peer;
            })) {
            ++_counters.held_retries;
            return;
        }
    }
    size_t bytes = 0;
    for (const auto &f : frames)
        bytes += f.size();
    if (_held.size() >= _options.held_max || _held_bytes + bytes > _options.held_bytes_max) {
        if (routed) {
            Reply busy = make_reply(BUSY, "the agent is working on a long request and holds " +
                                              std::to_string(_held.size()) + " others (" + std::to_string(_held_bytes) +
                                              " bytes) already; try again later");
            busy.set_request_id(h.request_id);
            send(routed->route, encode(busy));
        }
        return;
    }
    ++_counters.held;
    h.frames = std::move(frames);
    h.bytes = bytes;
    _held_bytes += bytes;
    _held.push_back(std::move(h));
}

Reply agent_server::dispatch(const Request &request, bool counted)
{
    if (counted)
        ++_counters.requests;
    try {
        return _handler(request);
    } catch (const std::exception &e) {
        ++_counters.failed;
        return make_reply(FAILED, e.what());
    } catch (...) {
        ++_counters.failed;
        return make_reply(FAILED, "the handler failed with an exception that is not a std::exception");
    }
}

void agent_server::publish(const Event &event)
{
    Reply r;
    *r.mutable_event() = event;
    const std::string bytes = r.SerializeAsString();
    for (const std::string &peer : _subscribers) {
        zmq::message_t route[2] = {zmq::message_t(peer.data(), peer.size()), zmq::message_t()};
        send(route, zmq::message_t(bytes.data(), bytes.size()));
    }
}

void agent_server::send(std::span<zmq::message_t> route, zmq::message_t body)
{
    std::vector<zmq::message_t> out;
    out.reserve(route.size() + 1);
    for (auto &frame : route)
        out.emplace_back(frame.data(), frame.size());
    out.push_back(std::move(body));
    try {
        // Never block the agent on a slow or vanished peer: ROUTER drops what it cannot route.
        if (!zmq::send_multipart(_socket, out, zmq::send_flags::dontwait))
            ++_counters.send_dropped;
    } catch (const zmq::error_t &) {
        ++_counters.send_dropped;
    }
}

}  // namespace stasis::control
