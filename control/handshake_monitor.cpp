// A socket monitor reduced to what a controller needs: did the last handshake fail, and why; is the
// agent connected.
#include <atomic>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <zmq_addon.hpp>

#include "stasis/control/curve.hpp"

namespace stasis::control {
namespace {

constexpr int watched_events = ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                               ZMQ_EVENT_DISCONNECTED;

std::string unique_monitor_endpoint(const void *watched)
{
    static std::atomic<uint64_t> count{0};
    char name[96];
    std::snprintf(name, sizeof name, "inproc://stasis-handshake-monitor-%p-%llu", watched,
                  static_cast<unsigned long long>(++count));
    return name;
}

}  // namespace

handshake_monitor::handshake_monitor(zmq::context_t &ctx, zmq::socket_t &watched)
{
    const std::string endpoint = unique_monitor_endpoint(watched.handle());
    if (zmq_socket_monitor(watched.handle(), endpoint.c_str(), watched_events) != 0)
        throw std::runtime_error(std::string("cannot monitor the control socket: ") + zmq_strerror(zmq_errno()));
    _socket = zmq::socket_t(ctx, zmq::socket_type::pair);
    _socket.set(zmq::sockopt::linger, 0);
    _socket.connect(endpoint);
}

std::optional<handshake_monitor::failure> handshake_monitor::read_events()
{
    std::optional<failure> newest;
    for (;;) {
        // Each event is two frames: 6 bytes (uint16 event, uint32 value, host order), then the endpoint.
        std::vector<zmq::message_t> frames;
        try {
            if (!zmq::recv_multipart(_socket, std::back_inserter(frames), zmq::recv_flags::dontwait))
                return newest;
        } catch (const zmq::error_t &e) {
            if (e.num() == EINTR)
                return newest;
            throw;
        }
        if (frames.empty() || frames[0].size() != 6)
            continue;
        failure f;
        std::memcpy(&f.event, frames[0].data(), 2);
        std::memcpy(&f.value, frames[0].data<char>() + 2, 4);
        if (f.event == ZMQ_EVENT_DISCONNECTED) {
            _connected = false;  // a fact about the link, not a refusal
        } else if (f.event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
            _connected = true;
            ++_handshakes;
            newest.reset();
            forget();
        } else {
            newest = f;
            _last = f;
            ++_in_a_row;
        }
    }
}

}  // namespace stasis::control
