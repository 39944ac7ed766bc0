// A connected unix stream socket that carries one JSON message a line (QMP, the guest agent).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "stasis/node/error.hpp"

namespace stasis::node {

class line_socket {
public:
    using clock = std::chrono::steady_clock;

    // Connects to `path`, retrying while it does not exist or refuses, until `deadline`.
    static result<std::unique_ptr<line_socket>> connect(const std::string &path, clock::time_point deadline);
    ~line_socket();
    line_socket(const line_socket &) = delete;
    line_socket &operator=(const line_socket &) = delete;

    // Sends `line` (a newline is added), with `fd` attached when it is >= 0.
    result<void> send(const std::string &line, int fd = -1);
    // The next message, parsed; end of file is kind::closed, a line that is not JSON kind::protocol.
    result<nlohmann::json> receive(clock::time_point deadline);

    const std::string &path() const { return _path; }

private:
    line_socket(int fd, std::string path) : _fd(fd), _path(std::move(path)) {}

    int _fd;
    std::string _path;
    std::string _buffer;
};

}  // namespace stasis::node
