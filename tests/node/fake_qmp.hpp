// A fake QEMU monitor on a unix socket: sends a greeting, then hands each request line (and any file
// descriptor passed with it) to a test's handler, which answers with send().
#pragma once

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

namespace stasis::node::test {

class fake_qmp {
public:
    using json = nlohmann::json;
    using handler = std::function<void(fake_qmp &, const json &request, int fd)>;

    static json greeting()
    {
        return json::parse(R"({"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}}, "capabilities": ["oob"]}})");
    }

    // Answers qmp_capabilities itself; other requests go to `h`.
    fake_qmp(const std::string &path, handler h, json hello = greeting())
        : _path(path), _handler(std::move(h)), _hello(std::move(hello))
    {
        _listen = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
        unlink(path.c_str());
        if (bind(_listen, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 || listen(_listen, 1) != 0)
            throw std::runtime_error("fake_qmp: cannot listen on " + path);
        _thread = std::thread([this] { run(); });
    }

    ~fake_qmp()
    {
        shutdown(_listen, SHUT_RDWR);
        close_connection();
        _thread.join();
        close(_listen);
        unlink(_path.c_str());
    }

    void send(const json &message) { send_raw(message.dump() + "\n"); }
    void send_raw(const std::string &text)
    {
        std::lock_guard lock(_mutex);
        if (_conn >= 0)
            (void)::send(_conn, text.data(), text.size(), MSG_NOSIGNAL);
    }
    void reply(const json &request, json value = json::object())
    {
        send({{"return", std::move(value)}, {"id", request.value("id", json())}});
    }
    void event(const std::string &name, int64_t seconds, int64_t micros)
    {
        send({{"event", name}, {"timestamp", {{"seconds", seconds}, {"microseconds", micros}}}, {"data", json::object()}});
    }
    // What QEMU dying looks like to the client.
    void close_connection()
    {
        std::lock_guard lock(_mutex);
        if (_conn >= 0)
            shutdown(_conn, SHUT_RDWR);
    }
    std::vector<std::string> commands() const
    {
        std::lock_guard lock(_mutex);
        return _commands;
    }

private:
    void run()
    {
        const int conn = accept4(_listen, nullptr, nullptr, SOCK_CLOEXEC);
        if (conn < 0)
            return;
        {
            std::lock_guard lock(_mutex);
            _conn = conn;
        }
        if (!_hello.is_null())
            send(_hello);
        std::string pending;
        for (;;) {
            char buf[4096];
            iovec iov{buf, sizeof buf};
            alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
            msghdr msg{};
            msg.msg_iov = &iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control;
            msg.msg_controllen = sizeof control;
            const ssize_t n = recvmsg(conn, &msg, 0);
            if (n <= 0)
                break;
            int fd = -1;
            for (cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
                    std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
            pending.append(buf, size_t(n));
            for (size_t eol; (eol = pending.find('\n')) != std::string::npos; pending.erase(0, eol + 1)) {
                const json request = json::parse(pending.substr(0, eol));
                const std::string cmd = request.value("execute", "");
                {
                    std::lock_guard lock(_mutex);
                    _commands.push_back(cmd);
                }
                if (cmd == "qmp_capabilities")
                    reply(request);
                else
                    _handler(*this, request, fd);
                if (fd >= 0)
                    close(fd);
                fd = -1;
            }
        }
        std::lock_guard lock(_mutex);
        close(_conn);
        _conn = -1;
    }

    std::string _path;
    handler _handler;
    json _hello;
    int _listen = -1;
    int _conn = -1;
    mutable std::mutex _mutex;
    std::vector<std::string> _commands;
    std::thread _thread;
};

}  // namespace stasis::node::test
