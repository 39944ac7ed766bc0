// DEALER client: one request in flight, retried with the same id, stale answers skipped.
#include "stasis/control/agent_client.hpp"

#include <cerrno>
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

zmq::socket_t open_socket(zmq::context_t &ctx, const std::string &endpoint,
                          const client_options &options, std::mt19937_64 &rng)
{
    zmq::socket_t socket(ctx, zmq::socket_type::dealer);
    socket.set(zmq::sockopt::linger, 0);  // an unanswered request must not hold up exit
    socket.set(zmq::sockopt::maxmsgsize, options.max_message_bytes);
    socket.set(zmq::sockopt::routing_id, random_routing_id(rng));
    // CURVE goes here: curve_serverkey, curve_publickey, curve_secretkey.
    try {
        socket.connect(endpoint);
    } catch (const zmq::error_t &e) {
        throw std::runtime_error("cannot connect to " + endpoint + ": " + e.what());
    }
    return socket;
}

std::mt19937_64 seeded_rng()
{
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
}

}  // namespace

agent_client::agent_client(std::string endpoint, client_options options)
    : _own_ctx(std::make_unique<zmq::context_t>())
{
    auto rng = seeded_rng();
    _socket = open_socket(*_own_ctx, endpoint, options, rng);
    _endpoint = std::move(endpoint);
    _id_base = rng();
}

agent_client::agent_client(zmq::context_t &ctx, std::string endpoint, client_options options)
{
    auto rng = seeded_rng();
    _socket = open_socket(ctx, endpoint, options, rng);
    _endpoint = std::move(endpoint);
    _id_base = rng();
}

// The socket must close before a context we own; members die in reverse order, so be explicit.
agent_client::~agent_client() { _socket.close(); }

uint64_t agent_client::next_request_id()
{
    uint64_t id = _id_base + ++_id_count;
    if (id == 0)  // 0 means "do not deduplicate" to the agent
        id = _id_base + ++_id_count;
    return id;
}

call_result agent_client::call(Request request, milliseconds timeout, int tries)
{
    request.set_request_id(next_request_id());
    const std::string body = request.SerializeAsString();
    tries = std::max(tries, 1);

    for (int attempt = 0; attempt < tries; ++attempt) {
        std::vector<zmq::message_t> out;
        out.emplace_back();  // delimiter, as a REQ socket would send
        out.emplace_back(body.data(), body.size());
        try {
            // A DEALER with no connected peer queues up to its high-water mark; EAGAIN beyond that.
            if (!zmq::send_multipart(_socket, out, zmq::send_flags::dontwait))
                return std::unexpected(call_error{
                    call_error::kind::transport,
                    "cannot queue a request for " + _endpoint + ": too many unanswered requests"});
        } catch (const zmq::error_t &e) {
            return std::unexpected(call_error{call_error::kind::transport,
                                              "cannot send to " + _endpoint + ": " + e.what()});
        }

        const auto deadline = steady_clock::now() + timeout;
        for (;;) {
            auto left = std::chrono::ceil<milliseconds>(deadline - steady_clock::now());
            if (left.count() <= 0)
                break;
            zmq::pollitem_t item{_socket.handle(), 0, ZMQ_POLLIN, 0};
            std::vector<zmq::message_t> frames;
            try {
                if (zmq::poll(&item, 1, left) == 0)
                    continue;  // libzmq's clock may wake us a little early; the deadline decides
                if (!zmq::recv_multipart(_socket, std::back_inserter(frames), zmq::recv_flags::dontwait))
                    continue;
            } catch (const zmq::error_t &e) {
                if (e.num() == EINTR)
                    continue;
                return std::unexpected(call_error{call_error::kind::transport,
                                                  "cannot receive from " + _endpoint + ": " + e.what()});
            }
            auto frame = dealer_body(frames);
            auto reply = frame ? decode_reply(**frame) : std::unexpected(frame.error());
            if (!reply)
                return std::unexpected(call_error{call_error::kind::bad_reply,
                                                  _endpoint + " answered badly: " + reply.error()});
            // An answer to an earlier try or an earlier call: we already moved on.
            if (reply->request_id() != request.request_id())
                continue;
            return std::move(*reply);
        }
    }
    return std::unexpected(call_error{call_error::kind::timeout,
                                      "no answer from " + _endpoint + " after " + std::to_string(tries) +
                                          " tries of " + std::to_string(timeout.count()) + " ms"});
}

}  // namespace stasis::control
