// The UDP echo and the RTT client; a probe carries its sequence number and send times, the echo returns it.
#include "rtt_probe.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "clock.hpp"

namespace stasis::guest {

namespace {

struct probe {
    int64_t seq;
    int64_t sent_mono_ns;
    int64_t sent_real_ns;
};

int udp_socket(int port, std::string &error)
{
    const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(uint16_t(port));
    if (bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
        error = "udp bind to port " + std::to_string(port) + ": " + std::strerror(errno);
        close(fd);
        return -1;
    }
    return fd;
}

}  // namespace

bool echo_server::start(int port, std::string &error)
{
    stop();
    _fd = udp_socket(port, error);
    if (_fd < 0)
        return false;
    _stop = false;
    _thread = std::thread([this] {
        char buf[2048];
        pollfd p{_fd, POLLIN, 0};
        while (!_stop) {
            if (poll(&p, 1, 200) <= 0)
                continue;
            sockaddr_in from{};
            socklen_t len = sizeof from;
            const ssize_t n = recvfrom(_fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr *>(&from), &len);
            if (n > 0 && sendto(_fd, buf, size_t(n), 0, reinterpret_cast<sockaddr *>(&from), len) == n)
                ++_echoed;
        }
    });
    return true;
}

void echo_server::stop()
{
    _stop = true;
    if (_thread.joinable())
        _thread.join();
    if (_fd >= 0)
        close(_fd);
    _fd = -1;
}

bool rtt_client::start(const std::string &ip, int port, int64_t interval_us, std::string &error)
{
    stop();
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(uint16_t(port));
    if (inet_pton(AF_INET, ip.c_str(), &to.sin_addr) != 1) {
        error = "bad IPv4 address " + ip;
        return false;
    }
    _fd = udp_socket(0, error);
    if (_fd < 0)
        return false;
    if (connect(_fd, reinterpret_cast<sockaddr *>(&to), sizeof to) != 0) {
        error = "udp connect to " + ip + ": " + std::strerror(errno);
        close(_fd);
        _fd = -1;
        return false;
    }
    {
        std::lock_guard lock(_mutex);
        _samples.clear();
    }
    _sent = 0;
    _stop = false;
    _receiver = std::thread([this] { receive_loop(); });
    _sender = std::thread([this, interval_us] { send_loop(interval_us); });
    return true;
}

void rtt_client::stop()
{
    _stop = true;
    if (_sender.joinable())
        _sender.join();
    if (_receiver.joinable())
        _receiver.join();
    if (_fd >= 0)
        close(_fd);
    _fd = -1;
}

void rtt_client::send_loop(int64_t interval_us)
{
    int64_t next = clock_ns(CLOCK_MONOTONIC);
    for (int64_t seq = 0; !_stop; ++seq) {
        const probe p{seq, clock_ns(CLOCK_MONOTONIC), clock_ns(CLOCK_REALTIME)};
        send(_fd, &p, sizeof p, 0);  // a lost send is a lost probe, counted as such
        _sent = seq + 1;
        next += interval_us * 1000;
        const timespec ts = to_timespec(next);
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
    }
}

void rtt_client::receive_loop()
{
    pollfd p{_fd, POLLIN, 0};
    while (!_stop) {
        if (poll(&p, 1, 200) <= 0)
            continue;
        probe echo;
        if (recv(_fd, &echo, sizeof echo, 0) != sizeof echo)
            continue;
        const int64_t rtt = clock_ns(CLOCK_MONOTONIC) - echo.sent_mono_ns;
        std::lock_guard lock(_mutex);
        if (_samples.size() < max_samples)
            _samples.push_back({echo.seq, echo.sent_real_ns, rtt});
    }
}

nlohmann::json rtt_client::summary() const
{
    std::lock_guard lock(_mutex);
    nlohmann::json j{{"sent", _sent.load()}, {"received", _samples.size()}};
    if (_samples.empty())
        return j;
    std::vector<int64_t> rtts;
    rtts.reserve(_samples.size());
    for (const auto &s : _samples)
        rtts.push_back(s.rtt_ns);
    std::sort(rtts.begin(), rtts.end());
    int64_t sum = 0;
    for (int64_t r : rtts)
        sum += r;
    j["min_ns"] = rtts.front();
    j["p50_ns"] = rtts[rtts.size() / 2];
    j["p99_ns"] = rtts[rtts.size() * 99 / 100];
    j["max_ns"] = rtts.back();
    j["mean_ns"] = sum / int64_t(rtts.size());
    return j;
}

nlohmann::json rtt_client::samples(size_t from, size_t count) const
{
    std::lock_guard lock(_mutex);
    nlohmann::json out = nlohmann::json::array();
    for (size_t i = from; i < _samples.size() && i < from + count; ++i)
        out.push_back({_samples[i].seq, _samples[i].sent_real_ns, _samples[i].rtt_ns});
    return out;
}

}  // namespace stasis::guest
