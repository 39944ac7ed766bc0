// A QMP client over QEMU's unix socket: capabilities negotiation, commands matched to replies by id,
// events queued while waiting, deadlines on everything, errors that name the socket.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "stasis/node/error.hpp"

namespace stasis::node {

class line_socket;

struct qmp_event {
    std::string name;
    nlohmann::json data;     // {} when the event has none
    int64_t timestamp_ns;    // QEMU's CLOCK_REALTIME stamp (microsecond resolution)
};

class qmp_client {
public:
    using ms = std::chrono::milliseconds;

    // Connects to `socket_path` (retrying until it exists, within `timeout`), reads the greeting and
    // negotiates capabilities.
    static result<qmp_client> connect(const std::string &socket_path, ms timeout = ms(5000));

    qmp_client(qmp_client &&) noexcept;
    qmp_client &operator=(qmp_client &&) noexcept;
    ~qmp_client();

    // Runs `command` and returns its "return" value. A QMP error is node_error::kind::command with
    // QEMU's class and description; events that arrive meanwhile are queued.
    result<nlohmann::json> execute(std::string_view command, const nlohmann::json &arguments = nullptr,
                                   ms timeout = ms(5000));
    // The same, passing `fd` along with the command (SCM_RIGHTS), as getfd and add-fd want.
    result<nlohmann::json> execute_with_fd(std::string_view command, const nlohmann::json &arguments, int fd,
                                           ms timeout = ms(5000));
    // The first queued or incoming event called `name` stamped at or after `not_before_ns` (QEMU's
    // CLOCK_REALTIME); older ones of that name are dropped (left over from a command that timed out), the
    // other events before it stay queued.
    result<qmp_event> wait_event(std::string_view name, ms timeout, int64_t not_before_ns = 0);
    // Every queued event, oldest first; the queue is left empty.
    std::deque<qmp_event> take_events();

    const nlohmann::json &greeting() const { return _greeting; }
    const std::string &socket_path() const { return _path; }

private:
    qmp_client(std::unique_ptr<line_socket> socket, std::string path);
    result<nlohmann::json> read_message(std::chrono::steady_clock::time_point deadline);
    result<nlohmann::json> call(std::string_view command, const nlohmann::json &arguments, int fd, ms timeout);
    void queue_event(const nlohmann::json &message);

    std::unique_ptr<line_socket> _socket;
    std::string _path;
    nlohmann::json _greeting;
    std::deque<qmp_event> _events;
    uint64_t _next_id = 1;
};

}  // namespace stasis::node
