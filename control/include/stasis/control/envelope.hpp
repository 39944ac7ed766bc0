// The control envelope: Request/Reply protobufs carried in ZeroMQ multipart messages.
//
// On the wire a request is [routing frames..., empty delimiter, body] as a ROUTER sees it, so REQ and
// DEALER peers both work; the reply goes back with the same routing frames. The body is one frame
// holding a serialized stasis.control.Request (or Reply).
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <zmq.hpp>

#include "stasis/control.pb.h"

namespace stasis::control {

// Serialize a Request or Reply into one frame.
zmq::message_t encode(const google::protobuf::MessageLite &message);

// Why a request body was refused; it becomes a BAD_REQUEST reply carrying request_id when known.
struct decode_error {
    uint64_t request_id = 0;
    std::string message;
};

// Parse a request body. A body that is not a Request, or carries no operation this agent knows, is an
// error whose text says what was wrong.
std::expected<Request, decode_error> decode_request(const zmq::message_t &body);
std::expected<Reply, std::string> decode_reply(const zmq::message_t &body);

// A reply with a status and a message for a person. Invalid UTF-8 in the message (an exception text
// with a raw path, say) is replaced, since proto3 peers refuse to parse it.
Reply make_reply(Status status, std::string_view message);

// The frames of a multipart message as a ROUTER received it: `route` is everything up to and including
// the empty delimiter (or just the routing id when the peer sent none), `body` the single frame after.
struct routed_frames {
    std::span<zmq::message_t> route;
    zmq::message_t *body = nullptr;
};
std::expected<routed_frames, std::string> split_routed(std::vector<zmq::message_t> &frames);

// The body of a message as a DEALER received it: [empty delimiter, body] or [body].
std::expected<zmq::message_t *, std::string> dealer_body(std::vector<zmq::message_t> &frames);

}  // namespace stasis::control
