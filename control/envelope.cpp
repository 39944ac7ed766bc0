// The control envelope: protobuf bodies in ZeroMQ multipart messages.
#include "stasis/control/envelope.hpp"

#include <string>

namespace stasis::control {

zmq::message_t encode(const google::protobuf::MessageLite &message)
{
    zmq::message_t frame(message.ByteSizeLong());
    message.SerializeToArray(frame.data(), static_cast<int>(frame.size()));
    return frame;
}

std::expected<Request, decode_error> decode_request(const zmq::message_t &body)
{
    Request request;
    if (body.size() > static_cast<size_t>(INT32_MAX) ||
        !request.ParseFromArray(body.data(), static_cast<int>(body.size())))
        return std::unexpected(decode_error{
            0, "the " + std::to_string(body.size()) + "-byte body is not a stasis.control.Request protobuf"});
    if (request.op_case() == Request::OP_NOT_SET)
        return std::unexpected(decode_error{
            request.request_id(),
            "request " + std::to_string(request.request_id()) +
                " carries no operation this agent knows (none, or a newer client's)"});
    return request;
}

std::expected<Reply, std::string> decode_reply(const zmq::message_t &body)
{
    Reply reply;
    if (body.size() > static_cast<size_t>(INT32_MAX) ||
        !reply.ParseFromArray(body.data(), static_cast<int>(body.size())))
        return std::unexpected(
            "the " + std::to_string(body.size()) + "-byte answer is not a stasis.control.Reply protobuf");
    return reply;
}

namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is not one.
size_t utf8_sequence(std::string_view s, size_t i)
{
    const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = byte(i);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (n == 0 || i + n > s.size() || (n == 2 && c < 0xc2))
        return 0;
    uint32_t cp = n == 1 ? c : c & (0x7f >> n);
    for (size_t k = 1; k < n; ++k) {
        if ((byte(i + k) & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (byte(i + k) & 0x3f);
    }
    const bool overlong = (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000);
    if (overlong || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

std::string valid_utf8(std::string_view s)
{
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        if (size_t n = utf8_sequence(s, i)) {
            out.append(s.substr(i, n));
            i += n;
        } else {
            out.push_back('?');
            ++i;
        }
    }
    return out;
}

}  // namespace

Reply make_reply(Status status, std::string_view message)
{
    Reply reply;
    reply.set_status(status);
    reply.set_message(valid_utf8(message));
    return reply;
}

std::expected<routed_frames, std::string> split_routed(std::vector<zmq::message_t> &frames)
{
    // frames[0] is the routing id the ROUTER prepended; a REQ or well-behaved DEALER adds a delimiter.
    if (frames.size() < 2)
        return std::unexpected(std::string("empty message (no body frame)"));
    size_t body_at = 1;
    for (size_t i = 1; i + 1 < frames.size(); ++i) {
        if (frames[i].size() == 0) {
            body_at = i + 1;
            break;
        }
    }
    if (body_at + 1 != frames.size())
        return std::unexpected("expected one body frame after the routing frames, got " +
                               std::to_string(frames.size() - body_at));
    return routed_frames{std::span(frames.data(), body_at), &frames[body_at]};
}

std::expected<zmq::message_t *, std::string> dealer_body(std::vector<zmq::message_t> &frames)
{
    if (frames.size() == 1)
        return &frames[0];
    if (frames.size() == 2 && frames[0].size() == 0)
        return &frames[1];
    return std::unexpected("expected [delimiter, body], got " + std::to_string(frames.size()) + " frames");
}

}  // namespace stasis::control
