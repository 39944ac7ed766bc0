// The controller side of the control protocol: a DEALER socket that sends a request and waits for its
// reply, resending the same request id on timeout so that the agent answers from its reply cache.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <memory>
#include <string>

#include <zmq.hpp>

#include "stasis/control.pb.h"

namespace stasis::control {

struct call_error {
    enum class kind : uint8_t {
        timeout,    // no answer after every try
        transport,  // libzmq refused to send or receive
        bad_reply,  // an answer came that is not a Reply
    };
    kind what;
    std::string message;  // for a person, names the endpoint
};

using call_result = std::expected<Reply, call_error>;

struct client_options {
    int64_t max_message_bytes = 64 << 20;  // bigger answers are refused by libzmq
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
    // resending the same id. A reply whose status is not OK is still a Reply, not an error.
    call_result call(Request request, std::chrono::milliseconds timeout = std::chrono::milliseconds(1000),
                     int tries = 3);

    const std::string &endpoint() const { return _endpoint; }

private:
    uint64_t next_request_id();

    std::unique_ptr<zmq::context_t> _own_ctx;  // only when constructed without a context
    zmq::socket_t _socket;
    std::string _endpoint;
    uint64_t _id_base;
    uint64_t _id_count = 0;
};

}  // namespace stasis::control
