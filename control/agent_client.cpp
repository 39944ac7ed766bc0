// DEALER client: one request in flight, retried with the same id, stale answers skipped.
#include "stasis/control/agent_client.hpp"

#include <cerrno>
#include <cstdio>
#include <random>
#include <stdexcept>
#include <vector>

#include <zmq_addon.hpp>

#include "stasis/control/envelope.hpp"

namespace stasis::control {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// A fixed, random routing id, so that after a reconnect the agent still knows us and answers a retry
// from its cache. libzmq reserves ids that start with a zero byte.
std::string random_routing_id(std::mt19937_64 &rng)
{
    std::string id(16, '\0');
    for (auto &c : id)
        c = static_cast<char>(rng());
    if (id[0] == '\0')
        id[0] = 's';
    return id;
}

zmq::socket_t open_socket(zmq::context_t &ctx, const client_options &options, std::mt19937_64 &rng)
{
    zmq::socket_t socket(ctx, zmq::socket_type::dealer);
    socket.set(zmq::sockopt::linger, 0);  // an unanswered request must not hold up exit
    socket.set(zmq::sockopt::maxmsgsize, options.max_message_bytes);
    socket.set(zmq::sockopt::routing_id, random_routing_id(rng));
    // ZMTP heartbeats, answered by the agent's I/O thread even while its own thread is busy: a
    // connection stays up as long as the agent process and its host are there (call_long).
    if (options.heartbeat.count() > 0) {
        socket.set(zmq::sockopt::heartbeat_ivl, int(options.heartbeat.count()));
        socket.set(zmq::sockopt::heartbeat_timeout, int(options.heartbeat_timeout.count()));
    }
    if (const auto &curve = options.curve) {
        if (!is_z85_key(curve->server_key))
            throw std::runtime_error("the agent's public key is not a 40-character Z85 key");
        if (!is_z85_key(curve->keys.secret_key) || public_key_of(curve->keys.secret_key) != curve->keys.public_key)
            throw std::runtime_error("the controller's key pair is not a matching pair of Z85 keys");
        socket.set(zmq::sockopt::curve_serverkey, curve->server_key);
        socket.set(zmq::sockopt::curve_publickey, curve->keys.public_key);
        socket.set(zmq::sockopt::curve_secretkey, curve->keys.secret_key);
    }
    return socket;
}

// What a failed handshake means, for the person who typed the command.
std::string refusal_text(const std::string &endpoint, const std::string &own_key,
                         const handshake_monitor::failure &f)
{
    if (f.event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
        return endpoint + " refused this controller's key " + own_key +
               (f.value == 400 ? std::string(" (not on the agent's allow-list)")
                               : " (ZAP status " + std::to_string(f.value) + ")");
    if (f.event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL && f.value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
        return own_key.empty()
                   ? endpoint + " requires CURVE: this controller connected without keys (docs/SECURITY.md)"
                   : endpoint + " does not use CURVE (a plain agent): this controller connected with keys";
    if (f.event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) {
        char code[16];
        std::snprintf(code, sizeof code, "0x%08x", f.value);
        return "the handshake with " + endpoint + " failed (ZMTP protocol error " + code +
               (f.value == ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC ? ", cryptographic: is the agent's key right?)"
                                                                  : ")");
    }
    // The agent hung up mid-handshake: a mismatch whose reset overtook the agent's greeting, or (with
    // CURVE) a HELLO it could not decrypt, sealed for another key.
    return own_key.empty()
               ? endpoint + " closed the connection during the handshake: it may require CURVE, and this "
                            "controller connected without keys (docs/SECURITY.md)"
               : endpoint + " closed the connection during the CURVE handshake: is the agent's public key "
                            "right, and does the agent use CURVE?";
}

std::mt19937_64 seeded_rng()
{
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
}

}  // namespace

agent_client::agent_client(std::string endpoint, client_options options)
    : _own_ctx(std::make_unique<zmq::context_t>()), _endpoint(std::move(endpoint))
{
    open(*_own_ctx, options);
}

agent_client::agent_client(zmq::context_t &ctx, std::string endpoint, client_options options)
    : _endpoint(std::move(endpoint))
{
    open(ctx, options);
}

void agent_client::open(zmq::context_t &ctx, const client_options &options)
{
    auto rng = seeded_rng();
    _socket = open_socket(ctx, options, rng);
    _monitor.emplace(ctx, _socket);  // before connecting, so that the first handshake is seen
    if (options.curve)
        _own_key = options.curve->keys.public_key;
    try {
        _socket.connect(_endpoint);
    } catch (const zmq::error_t &e) {
        throw std::runtime_error("cannot connect to " + _endpoint + ": " + e.what());
    }
    _id_base = rng();
}

// The socket must close before a context we own; members die in reverse order, so be explicit.
agent_client::~agent_client() { _socket.close(); }

void agent_client::reconnect_after_refusal()
{
    _monitor->read_events();
    const auto &failure = _monitor->last_failure();
    if (!failure || failure->event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
        return;  // libzmq reconnects by itself after a dropped connection
    _monitor->forget();
    try {
        _socket.disconnect(_endpoint);
    } catch (const zmq::error_t &) {
        // already gone with the failed session
    }
    _socket.connect(_endpoint);  // it was accepted once, by the constructor
}

std::optional<call_error> agent_client::handshake_refusal(bool include_earlier)
{
    auto failure = _monitor->read_events();
    if (include_earlier && !failure)
        failure = _monitor->last_failure();
    // "The agent closed the connection" once may be a restart; twice in a row, it refuses us (a plain
    // agent or a wrong agent key; or libzmq's race that hides a mechanism mismatch as a reset).
    if (!failure || (!include_earlier && failure->event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL &&
                     _monitor->failures_in_a_row() < 2))
        return std::nullopt;
    return call_error{call_error::kind::refused, refusal_text(_endpoint, _own_key, *failure)};
}

uint64_t agent_client::next_request_id()
{
    uint64_t id = _id_base + ++_id_count;
    if (id == 0)  // 0 means "do not deduplicate" to the agent
        id = _id_base + ++_id_count;
    return id;
}

call_error agent_client::receive_error(const zmq::error_t &e) const
{
    return call_error{call_error::kind::transport, "cannot receive from " + _endpoint + ": " + e.what()};
}

std::optional<call_error> agent_client::send_body(const std::string &body)
{
    std::vector<zmq::message_t> out;
    out.emplace_back();  // delimiter, as a REQ socket would send
    out.emplace_back(body.data(), body.size());
    try {
        // A DEALER with no connected peer queues up to its high-water mark; EAGAIN beyond that.
        if (!zmq::send_multipart(_socket, out, zmq::send_flags::dontwait))
            return call_error{call_error::kind::transport,
                              "cannot queue a request for " + _endpoint + ": too many unanswered requests"};
    } catch (const zmq::error_t &e) {
        return call_error{call_error::kind::transport, "cannot send to " + _endpoint + ": " + e.what()};
    }
    return std::nullopt;
}

std::optional<call_result> agent_client::take_reply(uint64_t id)
{
    std::vector<zmq::message_t> frames;
    try {
        if (!zmq::recv_multipart(_socket, std::back_inserter(frames), zmq::recv_flags::dontwait))
            return std::nullopt;
    } catch (const zmq::error_t &e) {
        if (e.num() == EINTR)
            return std::nullopt;
        return std::unexpected(receive_error(e));
    }
    auto frame = dealer_body(frames);
    auto reply = frame ? decode_reply(**frame) : std::unexpected(frame.error());
    if (!reply)
        return std::unexpected(
            call_error{call_error::kind::bad_reply, _endpoint + " answered badly: " + reply.error()});
    if (reply->request_id() == 0 && reply->has_event()) {  // pushed, not an answer
        _events.push_back(std::move(*reply->mutable_event()));
        return std::nullopt;
    }
    // An answer to an earlier try or an earlier call: we already moved on.
    if (reply->request_id() != id)
        return std::nullopt;
    return std::move(*reply);
}

call_result agent_client::call(Request request, milliseconds timeout, int tries)
{
    request.set_request_id(next_request_id());
    const std::string body = request.SerializeAsString();
    tries = std::max(tries, 1);
    reconnect_after_refusal();

    for (int attempt = 0; attempt < tries; ++attempt) {
        if (auto e = send_body(body))
            return std::unexpected(*e);
        const auto deadline = steady_clock::now() + timeout;
        for (;;) {
            auto left = std::chrono::ceil<milliseconds>(deadline - steady_clock::now());
            if (left.count() <= 0)
                break;
            zmq::pollitem_t items[] = {{_socket.handle(), 0, ZMQ_POLLIN, 0}, _monitor->poll_item()};
            try {
                if (zmq::poll(items, 2, left) == 0)
                    continue;  // libzmq's clock may wake us a little early; the deadline decides
            } catch (const zmq::error_t &e) {
                if (e.num() == EINTR)
                    continue;
                return std::unexpected(receive_error(e));
            }
            if (items[1].revents & ZMQ_POLLIN)
                if (auto refused = handshake_refusal(false))
                    return std::unexpected(*refused);
            if (auto r = take_reply(request.request_id()))
                return std::move(*r);
        }
    }
    if (auto refused = handshake_refusal(true))  // failed before this call and not since succeeded
        return std::unexpected(*refused);
    // The monitor tells a busy agent from an absent one: libzmq's I/O thread keeps a connection up
    // (handshake, heartbeats) while the agent's own thread works on something long.
    return std::unexpected(call_error{
        call_error::kind::timeout,
        "no answer from " + _endpoint + " after " + std::to_string(tries) + " tries of " +
            std::to_string(timeout.count()) + " ms" +
            (_monitor->connected() ? ": it is connected, so it is busy with a long request (a save or a load) or hung"
                                   : ": not connected (nothing listening there, or its host unreachable)")});
}

call_result agent_client::call_long(Request request, const long_call &how)
{
    request.set_request_id(next_request_id());
    const std::string body = request.SerializeAsString();
    reconnect_after_refusal();
    if (auto e = send_body(body))
        return std::unexpected(*e);
    const int tries = std::max(how.tries, 1);
    const auto start = steady_clock::now();
    const auto deadline = start + how.patience;
    const auto absence = how.timeout * tries;
    auto next_progress = start + how.progress_every;
    // Since when the agent is away (not connected): a call that starts unconnected gets the same
    // time to connect as one whose connection drops.
    std::optional<steady_clock::time_point> away_since;
    if (!_monitor->connected())
        away_since = start;
    uint64_t handshakes = _monitor->handshakes();
    for (;;) {
        const auto now = steady_clock::now();
        if (away_since && now >= std::min(*away_since + absence, deadline)) {
            if (auto refused = handshake_refusal(true))
                return std::unexpected(*refused);
            return std::unexpected(call_error{
                call_error::kind::timeout,
                "lost the connection to " + _endpoint + " while it worked on the request, and it did not come back within " +
                    std::to_string(absence.count()) + " ms (" + std::to_string(tries) + " tries of " +
                    std::to_string(how.timeout.count()) + " ms): the agent or its host stopped"});
        }
        if (now >= deadline)
            return std::unexpected(call_error{
                call_error::kind::timeout, _endpoint + " is connected but has not answered after " +
                                               std::to_string(how.patience.count()) +
                                               " ms, the longest it may work on a save or a load (long_timeout_ms)"});
        if (how.waiting && now >= next_progress) {
            how.waiting(std::chrono::duration_cast<milliseconds>(now - start));
            next_progress += how.progress_every;
        }
        auto until = std::min(deadline, next_progress);
        if (away_since)
            until = std::min(until, *away_since + absence);
        const auto left = std::max(std::chrono::ceil<milliseconds>(until - now), milliseconds(1));
        zmq::pollitem_t items[] = {{_socket.handle(), 0, ZMQ_POLLIN, 0}, _monitor->poll_item()};
        try {
            zmq::poll(items, 2, left);
        } catch (const zmq::error_t &e) {
            if (e.num() == EINTR)
                continue;
            return std::unexpected(receive_error(e));
        }
        if (items[1].revents & ZMQ_POLLIN) {
            if (auto refused = handshake_refusal(false))
                return std::unexpected(*refused);
            if (_monitor->handshakes() != handshakes) {
                // A new connection (perhaps to a restarted agent, perhaps dropped and made again
                // between two looks): send it again under the same id. An agent that has it, done or
                // not, answers once from its cache; a restarted one runs it afresh.
                handshakes = _monitor->handshakes();
                if (auto e = send_body(body))
                    return std::unexpected(*e);
            }
            if (_monitor->connected())
                away_since.reset();
            else if (!away_since)
                away_since = steady_clock::now();
        }
        if (auto r = take_reply(request.request_id()))
            return std::move(*r);
    }
}

bool agent_client::connected()
{
    _monitor->read_events();
    return _monitor->connected();
}

std::optional<Event> agent_client::next_event(milliseconds timeout)
{
    const auto deadline = steady_clock::now() + timeout;
    while (_events.empty()) {
        auto left = std::chrono::ceil<milliseconds>(deadline - steady_clock::now());
        if (left.count() < 0)
            return std::nullopt;
        zmq::pollitem_t item{_socket.handle(), 0, ZMQ_POLLIN, 0};
        std::vector<zmq::message_t> frames;
        try {
            if (zmq::poll(&item, 1, left) == 0) {
                if (left.count() == 0)
                    return std::nullopt;
                continue;
            }
            if (!zmq::recv_multipart(_socket, std::back_inserter(frames), zmq::recv_flags::dontwait))
                continue;
        } catch (const zmq::error_t &e) {
            if (e.num() == EINTR)
                continue;
            return std::nullopt;
        }
        auto frame = dealer_body(frames);
        auto reply = frame ? decode_reply(**frame) : std::unexpected(frame.error());
        if (reply && reply->request_id() == 0 && reply->has_event())
            _events.push_back(std::move(*reply->mutable_event()));
        // anything else is a late answer to a call that already gave up
    }
    Event e = std::move(_events.front());
    _events.pop_front();
    return e;
}

}  // namespace stasis::control
