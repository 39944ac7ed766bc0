// QMP: {"QMP": ...} greeting, qmp_capabilities, then {"execute", "arguments", "id"} -> {"return"|"error", "id"},
// with {"event", "data", "timestamp"} at any time in between.
#include "stasis/node/qmp_client.hpp"

#include "line_socket.hpp"

namespace stasis::node {

namespace {

using clock = std::chrono::steady_clock;

int64_t event_time_ns(const nlohmann::json &message)
{
    const auto &t = message.value("timestamp", nlohmann::json::object());
    return t.value("seconds", int64_t(0)) * 1'000'000'000 + t.value("microseconds", int64_t(0)) * 1'000;
}

}  // namespace

qmp_client::qmp_client(std::unique_ptr<line_socket> socket, std::string path)
    : _socket(std::move(socket)), _path(std::move(path))
{
}

qmp_client::qmp_client(qmp_client &&) noexcept = default;
qmp_client &qmp_client::operator=(qmp_client &&) noexcept = default;
qmp_client::~qmp_client() = default;

result<qmp_client> qmp_client::connect(const std::string &socket_path, ms timeout)
{
    const auto deadline = clock::now() + timeout;
    auto socket = line_socket::connect(socket_path, deadline);
    if (!socket)
        return std::unexpected(socket.error());
    qmp_client client(std::move(*socket), socket_path);
    auto greeting = client._socket->receive(deadline);
    if (!greeting)
        return std::unexpected(node_error{greeting.error().what, "QMP greeting: " + greeting.error().message});
    if (!greeting->contains("QMP"))
        return fail(node_error::kind::protocol, socket_path + " is not a QMP socket: its greeting is " +
                                                    greeting->dump().substr(0, 200));
    client._greeting = (*greeting)["QMP"];
    auto negotiated = client.execute("qmp_capabilities", nullptr,
                                     std::chrono::duration_cast<ms>(deadline - clock::now()));
    if (!negotiated)
        return std::unexpected(negotiated.error());
    return client;
}

result<nlohmann::json> qmp_client::execute(std::string_view command, const nlohmann::json &arguments, ms timeout)
{
    return call(command, arguments, -1, timeout);
}

result<nlohmann::json> qmp_client::execute_with_fd(std::string_view command, const nlohmann::json &arguments,
                                                   int fd, ms timeout)
{
    return call(command, arguments, fd, timeout);
}

result<nlohmann::json> qmp_client::call(std::string_view command, const nlohmann::json &arguments, int fd,
                                        ms timeout)
{
    const auto deadline = clock::now() + timeout;
    const uint64_t id = _next_id++;
    nlohmann::json request{{"execute", command}, {"id", id}};
    if (!arguments.is_null())
        request["arguments"] = arguments;
    if (auto sent = _socket->send(request.dump(), fd); !sent)
        return std::unexpected(sent.error());
    for (;;) {
        auto message = read_message(deadline);
        if (!message) {
            auto e = message.error();
            e.message = "QMP " + std::string(command) + ": " + e.message;
            return std::unexpected(e);
        }
        if (message->contains("event")) {
            queue_event(*message);
            continue;
        }
        if (message->value("id", nlohmann::json()) != nlohmann::json(id))
            continue;  // the late answer to a command that timed out earlier
        if (message->contains("return"))
            return (*message)["return"];
        if (message->contains("error")) {
            const auto &e = (*message)["error"];
            return fail(node_error::kind::command, "QMP " + std::string(command) + " on " + _path + " failed: " +
                                                       e.value("class", "?") + ": " + e.value("desc", "?"));
        }
        return fail(node_error::kind::protocol,
                    "QMP " + std::string(command) + " on " + _path + ": unexpected answer " + message->dump());
    }
}

result<qmp_event> qmp_client::wait_event(std::string_view name, ms timeout, int64_t not_before_ns)
{
    const auto deadline = clock::now() + timeout;
    // QEMU stamps in microseconds: an event in the same microsecond as `not_before_ns` is not older.
    const int64_t oldest_ns = not_before_ns - not_before_ns % 1000;
    for (;;) {
        for (auto it = _events.begin(); it != _events.end();) {
            if (it->name != name) {
                ++it;
            } else if (it->timestamp_ns < oldest_ns) {
                it = _events.erase(it);
            } else {
                qmp_event e = std::move(*it);
                _events.erase(it);
                return e;
            }
        }
        auto message = read_message(deadline);
        if (!message) {
            auto e = message.error();
            e.message = "waiting for QMP event " + std::string(name) + ": " + e.message;
            return std::unexpected(e);
        }
        if (message->contains("event"))
            queue_event(*message);
    }
}

std::deque<qmp_event> qmp_client::take_events() { return std::exchange(_events, {}); }

result<nlohmann::json> qmp_client::read_message(clock::time_point deadline) { return _socket->receive(deadline); }

void qmp_client::queue_event(const nlohmann::json &message)
{
    constexpr size_t max_events = 4096;  // a chatty QEMU nobody reads must not grow without bound
    if (_events.size() == max_events)
        _events.pop_front();
    _events.push_back({message.value("event", ""), message.value("data", nlohmann::json::object()),
                       event_time_ns(message)});
}

}  // namespace stasis::node
