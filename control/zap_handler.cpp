// The ZAP 1.0 handler: answers libzmq's "may this CURVE key in?" from the agent's allow-list.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include <zmq_addon.hpp>

#include "stasis/control/curve.hpp"

namespace stasis::control {
namespace {

constexpr const char *zap_endpoint = "inproc://zeromq.zap.01";  // fixed by RFC 27
constexpr size_t max_logged_keys = 1024;  // a peer trying many keys must not grow our memory

std::string z85_of(const zmq::message_t &binary_key)
{
    char text[z85_key_chars + 1];
    if (binary_key.size() != 32 || !zmq_z85_encode(text, binary_key.data<uint8_t>(), 32))
        return "(malformed key)";
    return text;
}

std::string binary_of(const std::string &z85)
{
    std::string binary(32, '\0');
    if (!is_z85_key(z85) || !zmq_z85_decode(reinterpret_cast<uint8_t *>(binary.data()), z85.c_str()))
        throw std::invalid_argument("allow-list entry '" + z85 + "' is not a 40-character Z85 key");
    return binary;
}

}  // namespace

zap_handler::zap_handler(zmq::context_t &ctx, const std::vector<std::string> &allowed, std::string domain,
                         log_fn log)
    : _socket(ctx, zmq::socket_type::rep), _domain(std::move(domain)), _log(std::move(log))
{
    for (const auto &key : allowed)
        _allowed.insert(binary_of(key));
    _socket.set(zmq::sockopt::linger, 0);
    try {
        _socket.bind(zap_endpoint);
    } catch (const zmq::error_t &e) {
        if (e.num() == EADDRINUSE)
            throw std::runtime_error("this ZeroMQ context already has a ZAP handler (another CURVE agent_server?); "
                                     "give each CURVE agent its own context");
        throw std::runtime_error(std::string("cannot bind the ZAP handler: ") + e.what());
    }
}

size_t zap_handler::answer_pending()
{
    size_t refused = 0;
    for (;;) {
        std::vector<zmq::message_t> request;
        try {
            if (!zmq::recv_multipart(_socket, std::back_inserter(request), zmq::recv_flags::dontwait))
                return refused;
        } catch (const zmq::error_t &e) {
            if (e.num() == EINTR)
                return refused;
            throw;  // ETERM: the context is closing
        }
        std::string user_id;
        auto [status, text] = judge(request, user_id);
        if (status != "200")
            ++refused, ++_refused;
        // A REP socket must answer every request it took, or it takes no more.
        std::vector<zmq::message_t> reply;
        reply.emplace_back("1.0", 3);
        if (request.size() >= 2)
            reply.emplace_back(request[1].data(), request[1].size());  // the request id
        else
            reply.emplace_back();
        reply.emplace_back(status.data(), status.size());
        reply.emplace_back(text.data(), text.size());
        reply.emplace_back(user_id.data(), user_id.size());  // becomes the messages' User-Id property
        reply.emplace_back();                                // no metadata
        try {
            zmq::send_multipart(_socket, reply, zmq::send_flags::dontwait);
        } catch (const zmq::error_t &) {
            // libzmq went away from this handshake; the peer times out on its side.
        }
    }
}

// Request frames: version, request id, domain, address, routing id, mechanism, credentials...
std::pair<std::string_view, std::string> zap_handler::judge(std::vector<zmq::message_t> &request,
                                                          std::string &user_id)
{
    if (request.size() < 6 || request[0].to_string_view() != "1.0")
        return {"500", "malformed ZAP request"};
    const std::string address = request[3].to_string();
    if (request[2].to_string_view() != _domain)
        return {"400", "unknown ZAP domain"};
    if (request[5].to_string_view() != "CURVE" || request.size() != 7)
        return {"400", "only CURVE is allowed"};
    const zmq::message_t &key = request[6];
    const std::string binary(key.data<char>(), key.size());
    if (_allowed.contains(binary)) {
        user_id = z85_of(key);
        return {"200", "OK"};
    }
    const std::string z85 = z85_of(key);
    if (_log && _logged.size() < max_logged_keys && _logged.insert(z85).second) {
        _log("refused a controller from " + (address.empty() ? std::string("(unknown address)") : address) +
             ": its CURVE key " + z85 + " is not on the allow-list (later attempts with this key are counted, "
             "not logged)");
        if (_logged.size() == max_logged_keys)
            _log("refused " + std::to_string(max_logged_keys) + " different keys; no more are logged");
    }
    return {"400", "key not on the allow-list"};
}

}  // namespace stasis::control
