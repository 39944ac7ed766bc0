// Requests carry an id; replies to an earlier request that timed out are skipped.
#include "stasis/node/guest_agent.hpp"

#include <thread>

#include "line_socket.hpp"

namespace stasis::node {

using clock = std::chrono::steady_clock;

guest_agent::guest_agent(std::unique_ptr<line_socket> socket, std::string path)
    : _socket(std::move(socket)), _path(std::move(path))
{
}

guest_agent::guest_agent(guest_agent &&) noexcept = default;
guest_agent &guest_agent::operator=(guest_agent &&) noexcept = default;
guest_agent::~guest_agent() = default;

result<guest_agent> guest_agent::connect(const std::string &socket_path, ms timeout)
{
    const auto deadline = clock::now() + timeout;
    auto socket = line_socket::connect(socket_path, deadline);
    if (!socket)
        return std::unexpected(socket.error());
    guest_agent agent(std::move(*socket), socket_path);
    // Until the guest's agent opens its port, QEMU takes the bytes and nothing answers: ask again.
    for (;;) {
        const auto left = std::chrono::duration_cast<ms>(deadline - clock::now());
        auto hello = agent.call("hello", nlohmann::json::object(), std::min(left, ms(1000)));
        if (hello)
            return agent;
        if (hello.error().what != node_error::kind::timeout || clock::now() >= deadline)
            return std::unexpected(node_error{hello.error().what,
                                              "guest agent on " + socket_path + " did not answer: " +
                                                  hello.error().message});
    }
}

result<nlohmann::json> guest_agent::call(const std::string &command, nlohmann::json arguments, ms timeout)
{
    const auto deadline = clock::now() + timeout;
    const uint64_t id = _next_id++;
    arguments["cmd"] = command;
    arguments["id"] = id;
    if (auto sent = _socket->send(arguments.dump()); !sent)
        return std::unexpected(sent.error());
    for (;;) {
        auto reply = _socket->receive(deadline);
        if (!reply) {
            auto e = reply.error();
            e.message = "guest agent " + command + ": " + e.message;
            return std::unexpected(e);
        }
        if (reply->value("id", nlohmann::json()) != nlohmann::json(id))
            continue;
        if (!reply->value("ok", false))
            return fail(node_error::kind::command,
                        "guest agent " + command + " on " + _path + ": " + reply->value("error", "refused"));
        return *reply;
    }
}

}  // namespace stasis::node
