// Unix socket I/O with poll deadlines; SCM_RIGHTS for passing a file to QEMU.
#include "line_socket.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace stasis::node {

namespace {

std::string errno_text() { return std::strerror(errno); }

int remaining_ms(line_socket::clock::time_point deadline)
{
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - line_socket::clock::now());
    return int(std::max<int64_t>(0, left.count()));
}

}  // namespace

result<std::unique_ptr<line_socket>> line_socket::connect(const std::string &path, clock::time_point deadline)
{
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path)
        return fail(node_error::kind::io, "socket path too long (" + std::to_string(path.size()) + " bytes): " + path);
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    for (;;) {
        const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return fail(node_error::kind::io, "socket(AF_UNIX) for " + path + ": " + errno_text());
        if (::connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0)
            return std::unique_ptr<line_socket>(new line_socket(fd, path));
        const int err = errno;
        close(fd);
        if ((err != ENOENT && err != ECONNREFUSED) || clock::now() >= deadline)
            return fail(err == ENOENT || err == ECONNREFUSED ? node_error::kind::timeout : node_error::kind::io,
                        "cannot connect to " + path + ": " + std::strerror(err));
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

line_socket::~line_socket()
{
    if (_fd >= 0)
        close(_fd);
}

result<void> line_socket::send(const std::string &line, int fd)
{
    const std::string data = line + "\n";
    size_t done = 0;
    while (done < data.size()) {
        iovec iov{const_cast<char *>(data.data() + done), data.size() - done};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
        if (fd >= 0 && done == 0) {
            msg.msg_control = control;
            msg.msg_controllen = sizeof control;
            cmsghdr *c = CMSG_FIRSTHDR(&msg);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof(int));
            std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
        }
        const ssize_t n = sendmsg(_fd, &msg, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fail(errno == EPIPE || errno == ECONNRESET ? node_error::kind::closed : node_error::kind::io,
                        "send to " + _path + ": " + errno_text());
        done += size_t(n);
    }
    return {};
}

result<nlohmann::json> line_socket::receive(clock::time_point deadline)
{
    for (;;) {
        if (const size_t eol = _buffer.find('\n'); eol != std::string::npos) {
            const std::string line = _buffer.substr(0, eol);
            _buffer.erase(0, eol + 1);
            if (line.find_first_not_of(" \r\t") == std::string::npos)
                continue;
            auto message = nlohmann::json::parse(line, nullptr, false);
            if (message.is_discarded() || !message.is_object())
                return fail(node_error::kind::protocol, _path + " sent a line that is not a JSON object: " +
                                                            line.substr(0, 200));
            return message;
        }
        pollfd p{_fd, POLLIN, 0};
        const int ready = poll(&p, 1, remaining_ms(deadline));
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready < 0)
            return fail(node_error::kind::io, "poll on " + _path + ": " + errno_text());
        if (ready == 0)
            return fail(node_error::kind::timeout, "no answer on " + _path + " in time");
        char buf[8192];
        const ssize_t n = recv(_fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fail(errno == ECONNRESET ? node_error::kind::closed : node_error::kind::io,
                        "recv from " + _path + ": " + errno_text());
        if (n == 0)
            return fail(node_error::kind::closed, _path + " was closed by its peer (did the process exit?)");
        _buffer.append(buf, size_t(n));
    }
}

}  // namespace stasis::node
