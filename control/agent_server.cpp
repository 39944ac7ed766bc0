// The agent's ROUTER loop: decode, deduplicate retries, dispatch, answer.
#include "stasis/control/agent_server.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <vector>

#include <zmq_addon.hpp>

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

size_t agent_server::poll_once(std::chrono::milliseconds timeout)
{
    zmq::pollitem_t items[] = {{_socket.handle(), 0, ZMQ_POLLIN, 0},
                               {_zap ? _zap->socket().handle() : nullptr, 0, ZMQ_POLLIN, 0}};
    try {
        if (zmq::poll(items, _zap ? 2 : 1, timeout) == 0)
            return 0;
    } catch (const zmq::error_t &e) {
        if (e.num() == EINTR)  // a signal, perhaps the one that called stop()
            return 0;
        throw;  // ETERM: the context is going away, the owner is shutting down
    }
    if (_zap)  // answered first: a handshake waiting on it holds up that peer's requests
        _counters.auth_refused += _zap->answer_pending();
    size_t handled = 0;
    while (handled < _options.batch && !stopped() && handle_one())
        ++handled;
    return handled;
}

void agent_server::run(std::chrono::milliseconds tick)
{
    while (!stopped())
        poll_once(tick);
}

bool agent_server::handle_one()
{
    std::vector<zmq::message_t> frames;
    try {
        if (!zmq::recv_multipart(_socket, std::back_inserter(frames), zmq::recv_flags::dontwait))
            return false;
    } catch (const zmq::error_t &e) {
        if (e.num() == EINTR)
            return false;
        throw;
    }

    auto routed = split_routed(frames);
    if (!routed) {
        ++_counters.bad_requests;
        // Without a body we still know the peer (frame 0) and can tell it what was wrong.
        if (!frames.empty())
            send(std::span(frames.data(), 1), encode(make_reply(BAD_REQUEST, routed.error())));
        return true;
    }

    auto request = decode_request(*routed->body);
    if (!request) {
        ++_counters.bad_requests;
        Reply reply = make_reply(BAD_REQUEST, request.error().message);
        reply.set_request_id(request.error().request_id);  // so a waiting client takes it as its answer
        send(routed->route, encode(reply));
        return true;
    }

    const std::string peer = frames[0].to_string();
    const uint64_t id = request->request_id();
    if (id != 0) {  // id 0 means the client does not retry; nothing to remember
        if (const std::string *cached = _cache.find(peer, id)) {
            ++_counters.replayed;
            send(routed->route, zmq::message_t(cached->data(), cached->size()));
            return true;
        }
    }

    Reply reply;
    if (request->has_subscribe()) {  // the server's own operation: it knows the peer, the handler not
        if (std::find(_subscribers.begin(), _subscribers.end(), peer) == _subscribers.end())
            _subscribers.push_back(peer);
        reply.set_message("subscribed to events");
    } else {
        reply = dispatch(*request);
    }
    reply.set_request_id(id);
    std::string bytes = reply.SerializeAsString();
    send(routed->route, zmq::message_t(bytes.data(), bytes.size()));
    if (id != 0)
        _cache.insert(peer, id, std::move(bytes));
    return true;
}

Reply agent_server::dispatch(const Request &request)
{
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
