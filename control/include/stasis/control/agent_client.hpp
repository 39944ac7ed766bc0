// The controller side of the control protocol: a DEALER socket that sends a request and waits for its
// reply, resending the same request id on timeout so that the agent answers from its reply cache.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <expected>
#include <functional>
#include <memory>
#include <string>

#include <zmq.hpp>

#include "stasis/control.pb.h"
#include "stasis/control/curve.hpp"

namespace stasis::control {

struct call_error {
    enum class kind : uint8_t {
        timeout,    // no answer after every try
        transport,  // libzmq refused to send or receive
        bad_reply,  // an answer came that is not a Reply
        refused,    // the handshake failed: our key is not allowed, or the security modes differ
    };
    kind what;
    std::string message;  // for a person, names the endpoint
};

using call_result = std::expected<Reply, call_error>;

// The controller's side of CURVE: whom it expects to talk to and who it is.
struct curve_client_options {
    std::string server_key;  // the agent's public key (its .pub file), Z85
    key_pair keys;           // this controller's key pair (its .key file)
};

struct client_options {
    int64_t max_message_bytes = 64 << 20;  // bigger answers are refused by libzmq
    std::optional<curve_client_options> curve = std::nullopt;  // plain (unauthenticated) when empty
    // ZMTP heartbeats (0: none): a PING this often, and the connection dropped when no traffic came
    // back for heartbeat_timeout. What tells call_long() that an agent's process or host is gone.
    std::chrono::milliseconds heartbeat{1000};
    std::chrono::milliseconds heartbeat_timeout{5000};
};

// How call_long() waits.
struct long_call {
    std::chrono::milliseconds patience{600'000};  // the longest the agent may work on the request
    std::chrono::milliseconds timeout{1000};      // with tries: how long the agent may be away
    int tries = 3;
    std::function<void(std::chrono::milliseconds waited)> waiting = {};  // called every progress_every
    std::chrono::milliseconds progress_every{5000};
};

class agent_client {
public:
    // Connects (lazily, as ZeroMQ does); throws std::runtime_error naming a malformed endpoint.
    explicit agent_client(std::string endpoint, client_options options = {});
    agent_client(zmq::context_t &ctx, std::string endpoint, client_options options = {});
    ~agent_client();

    // Move-only. No move assignment: it would end the old context before closing the old socket.
    agent_client(agent_client &&) = default;
    agent_client(const agent_client &) = delete;
    agent_client &operator=(const agent_client &) = delete;

    // Sends `request` with a fresh request id and waits `timeout` for its reply, `tries` times in all,
    // resending the same id. A reply whose status is not OK is still a Reply, not an error. A failed
    // handshake (key refused, CURVE against plain) ends the call at once as `refused`.
    call_result call(Request request, std::chrono::milliseconds timeout = std::chrono::milliseconds(1000),
                     int tries = 3);

    // A request whose work takes as long as it takes (Save and Load: their time grows with the state
    // they write or read), which the agent answers when done; its thread is busy until then, and its
    // connection stays up (heartbeats). Sent once, with a fresh id; sent again under the same id each
    // time the connection comes back after a drop (an agent that finished meanwhile answers from its
    // cache). Fails when `how.patience` runs out, or when the agent stays away (unconnected) for
    // how.timeout x how.tries: its process or host is gone.
    call_result call_long(Request request, const long_call &how);

    // The next event the agent pushed (after a Subscribe call), waiting up to `timeout` for one.
    // Events that arrive while call() waits for its reply are kept for this.
    std::optional<Event> next_event(std::chrono::milliseconds timeout);

    const std::string &endpoint() const { return _endpoint; }
    // Whether a connection to the agent is up (its process answers the handshake and heartbeats),
    // whatever its own thread is doing.
    bool connected();

private:
    uint64_t next_request_id();
    // Queues one try of a serialized request; an error when libzmq will not take it.
    std::optional<call_error> send_body(const std::string &body);
    // Reads one message if one is there: the reply to `id` (or the error a bad message is). Events are
    // kept for next_event(); answers to other ids are dropped. nullopt: nothing for this call.
    std::optional<call_result> take_reply(uint64_t id);
    call_error receive_error(const zmq::error_t &e) const;
    void open(zmq::context_t &ctx, const client_options &options);
    // libzmq gives up on an endpoint whose handshake failed; a new call tries it afresh.
    void reconnect_after_refusal();
    // The refusal the monitor reported, as an error for a person; `include_earlier`: also one seen
    // before the events read now, unless a handshake succeeded since.
    std::optional<call_error> handshake_refusal(bool include_earlier);

    std::unique_ptr<zmq::context_t> _own_ctx;  // only when constructed without a context
    zmq::socket_t _socket;
    std::optional<handshake_monitor> _monitor;
    std::string _own_key;  // Z85 public key, for messages; empty when plain
    std::string _endpoint;
    uint64_t _id_base;
    uint64_t _id_count = 0;
    std::deque<Event> _events;
};

}  // namespace stasis::control
