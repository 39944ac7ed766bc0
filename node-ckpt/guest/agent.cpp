// Request dispatch and the port loop. The host may come and go (a restore is a new QEMU): the guest side
// of the port reads end-of-file while no host is connected, and the agent waits for the next one.
#include "agent.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "clock.hpp"
#include "tcp_counters.hpp"

namespace stasis::guest {

namespace {

nlohmann::json fail(std::string message) { return {{"ok", false}, {"error", std::move(message)}}; }

bool set_realtime(int64_t ns, std::string &error)
{
    const timespec ts = to_timespec(ns);
    if (clock_settime(CLOCK_REALTIME, &ts) == 0)
        return true;
    error = std::string("clock_settime: ") + std::strerror(errno);
    return false;
}

}  // namespace

nlohmann::json agent::summary() const
{
    return {{"clock", to_json(_clock.stats())}, {"stream_send", _sender.status()},
            {"stream_recv", _receiver.status()}, {"rtt", _rtt.summary()}, {"echoed", _echo.echoed()},
            {"counters", tcp_counters()}};
}

nlohmann::json agent::handle(const nlohmann::json &req)
{
    const std::string cmd = req.value("cmd", "");
    std::string error;
    nlohmann::json reply{{"ok", true}};
    if (cmd == "hello") {
        reply["version"] = 1;
    } else if (cmd == "clock-start") {
        _clock.start(req.value("period_us", int64_t(0)), req.value("rt_priority", 0));
    } else if (cmd == "clock-stop") {
        _clock.stop();
        reply["clock"] = to_json(_clock.stats());
    } else if (cmd == "clock-stats") {
        reply["clock"] = to_json(_clock.stats());
    } else if (cmd == "set-clock") {  // absolute wall time, e.g. the host's at boot
        if (!set_realtime(req.at("realtime_ns").get<int64_t>(), error))
            reply = fail(error);
    } else if (cmd == "step-clock") {  // the catch-up hook: wall time jumps by delta_ns
        if (!set_realtime(clock_ns(CLOCK_REALTIME) + req.at("delta_ns").get<int64_t>(), error))
            reply = fail(error);
    } else if (cmd == "stream-send") {
        _sender.start(req.at("ip").get<std::string>(), req.at("port").get<int>(), req.value("bytes", int64_t(0)),
                      req.value("rate_bps", int64_t(0)));
    } else if (cmd == "stream-stop") {
        _sender.stop();
        reply["stream_send"] = _sender.status();
    } else if (cmd == "stream-recv") {
        if (!_receiver.start(req.at("port").get<int>(), error))
            reply = fail(error);
    } else if (cmd == "stream-status") {
        reply["stream_send"] = _sender.status();
        reply["stream_recv"] = _receiver.status();
    } else if (cmd == "echo-serve") {
        if (!_echo.start(req.at("port").get<int>(), error))
            reply = fail(error);
    } else if (cmd == "rtt-start") {
        if (!_rtt.start(req.at("ip").get<std::string>(), req.at("port").get<int>(),
                        req.value("interval_us", int64_t(10'000)), error))
            reply = fail(error);
    } else if (cmd == "rtt-stop") {
        _rtt.stop();
        reply["rtt"] = _rtt.summary();
    } else if (cmd == "rtt-samples") {
        reply["samples"] = _rtt.samples(req.value("from", size_t(0)), req.value("count", size_t(4096)));
    } else if (cmd == "counters") {
        reply["counters"] = tcp_counters();
    } else if (cmd == "summary") {
        reply["summary"] = summary();
    } else {
        reply = fail("unknown command '" + cmd + "'");
    }
    reply["id"] = req.value("id", nlohmann::json());
    reply["realtime_ns"] = clock_ns(CLOCK_REALTIME);
    reply["monotonic_ns"] = clock_ns(CLOCK_MONOTONIC);
    return reply;
}

int agent::serve(const std::string &path)
{
    const int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        std::fprintf(stderr, "stasis-guest: open %s: %s\n", path.c_str(), std::strerror(errno));
        return 1;
    }
    std::fprintf(stderr, "stasis-guest: agent ready on %s\n", path.c_str());
    std::string pending;
    char buf[4096];
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        poll(&p, 1, 1000);
        if (!(p.revents & POLLIN)) {
            if (p.revents & POLLHUP)
                usleep(20'000);  // no host connected: poll returns at once
            continue;
        }
        const ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) {
            pending.clear();  // a half request of a host that left
            usleep(20'000);
            continue;
        }
        pending.append(buf, size_t(n));
        for (size_t eol; (eol = pending.find('\n')) != std::string::npos; pending.erase(0, eol + 1)) {
            nlohmann::json reply;
            try {
                reply = handle(nlohmann::json::parse(pending.substr(0, eol)));
            } catch (const std::exception &e) {
                reply = fail(std::string("bad request: ") + e.what());
            }
            const std::string line = reply.dump() + "\n";
            for (size_t done = 0; done < line.size();) {
                const ssize_t w = write(fd, line.data() + done, line.size() - done);
                if (w < 0 && errno != EINTR && errno != EAGAIN)
                    break;
                done += w > 0 ? size_t(w) : 0;
            }
        }
    }
}

std::string find_port(const std::string &name)
{
    std::error_code ec;
    for (const auto &e : std::filesystem::directory_iterator("/sys/class/virtio-ports", ec)) {
        std::ifstream in(e.path() / "name");
        std::string n;
        if (std::getline(in, n) && n == name)
            return "/dev/" + e.path().filename().string();
    }
    return "";
}

}  // namespace stasis::guest
