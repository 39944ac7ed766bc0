// The pattern stream's sender and receiver, each on its own thread with blocking sockets.
#include "stream.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "clock.hpp"

namespace stasis::guest {

namespace {

uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

uint8_t pattern_byte(uint64_t offset)
{
    return uint8_t(splitmix64(offset / 8) >> (8 * (offset % 8)));
}

constexpr size_t chunk_bytes = 64 * 1024;

}  // namespace

void fill_pattern(uint64_t offset, std::span<uint8_t> out)
{
    size_t i = 0;
    for (; i < out.size() && (offset + i) % 8 != 0; ++i)
        out[i] = pattern_byte(offset + i);
    for (; i + 8 <= out.size(); i += 8) {
        const uint64_t w = splitmix64((offset + i) / 8);
        std::memcpy(&out[i], &w, 8);  // little-endian: byte k is w >> 8k, as pattern_byte
    }
    for (; i < out.size(); ++i)
        out[i] = pattern_byte(offset + i);
}

int64_t check_pattern(uint64_t offset, std::span<const uint8_t> in)
{
    uint8_t expected[4096];
    for (size_t done = 0; done < in.size(); done += sizeof expected) {
        const size_t n = std::min(sizeof expected, in.size() - done);
        fill_pattern(offset + done, {expected, n});
        if (std::memcmp(expected, in.data() + done, n) != 0)
            for (size_t i = 0; i < n; ++i)
                if (expected[i] != in[done + i])
                    return int64_t(offset + done + i);
    }
    return -1;
}

nlohmann::json tcp_info_json(int fd)
{
    tcp_info ti{};
    socklen_t len = sizeof ti;
    if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
        return nullptr;
    return {
        {"state", ti.tcpi_state},
        {"rtt_us", ti.tcpi_rtt},
        {"rttvar_us", ti.tcpi_rttvar},
        {"rto_us", ti.tcpi_rto},
        {"retransmits", ti.tcpi_retransmits},
        {"total_retrans", ti.tcpi_total_retrans},
        {"lost", ti.tcpi_lost},
        {"snd_cwnd", ti.tcpi_snd_cwnd},
    };
}

void stream_sender::start(std::string ip, int port, int64_t limit_bytes, int64_t rate_bps)
{
    stop();
    if (const int old = _fd.exchange(-1); old >= 0)
        close(old);
    _stop = false;
    _sent_bytes = 0;
    _connected = _done = false;
    _errno = 0;
    _thread = std::thread([=, this] { run(ip, port, limit_bytes, rate_bps); });
}

void stream_sender::stop()
{
    _stop = true;
    if (_thread.joinable())
        _thread.join();
}

nlohmann::json stream_sender::status() const
{
    return {{"sent_bytes", _sent_bytes.load()}, {"connected", _connected.load()}, {"done", _done.load()},
            {"error", _errno ? std::strerror(_errno) : ""}, {"tcp_info", tcp_info_json(_fd)}};
}

void stream_sender::run(std::string ip, int port, int64_t limit_bytes, int64_t rate_bps)
{
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(uint16_t(port));
    if (inet_pton(AF_INET, ip.c_str(), &addr.sin_addr) != 1) {
        _errno = EINVAL;
        _done = true;
        return;
    }
    int fd = -1;
    for (int tries = 0; !_stop && tries < 200; ++tries) {  // the receiver may not listen yet: 20 s
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0)
            break;
        _errno = errno;
        close(fd);
        fd = -1;
        usleep(100'000);
    }
    if (fd < 0) {
        _done = true;
        return;
    }
    _errno = 0;
    _fd = fd;
    _connected = true;
    timeval tv{0, 200'000};  // wake up to notice stop
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    std::vector<uint8_t> buf(chunk_bytes);
    const int64_t start_ns = clock_ns(CLOCK_MONOTONIC);
    int64_t offset = 0;
    while (!_stop && (limit_bytes == 0 || offset < limit_bytes)) {
        size_t n = chunk_bytes;
        if (limit_bytes)
            n = size_t(std::min<int64_t>(int64_t(n), limit_bytes - offset));
        if (rate_bps > 0) {  // pace: the bytes sent so far may not be ahead of the rate
            const int64_t due_ns = start_ns + offset * 8 * 1'000'000'000 / rate_bps;
            const int64_t now = clock_ns(CLOCK_MONOTONIC);
            if (due_ns > now) {
                const timespec ts = to_timespec(std::min<int64_t>(due_ns - now, 100'000'000));
                nanosleep(&ts, nullptr);
                continue;
            }
            n = std::min<size_t>(n, 8192);
        }
        fill_pattern(uint64_t(offset), {buf.data(), n});
        ssize_t w = send(fd, buf.data(), n, MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (w < 0) {
            _errno = errno;
            break;
        }
        // A short write leaves the tail unsent: the next chunk starts where this one stopped.
        offset += w;
        _sent_bytes = offset;
    }
    shutdown(fd, SHUT_WR);
    _done = true;  // the socket stays open (for tcp_info) until the next start
}

bool stream_receiver::start(int port, std::string &error)
{
    stop();
    _stop = false;
    _received_bytes = 0;
    _first_bad_offset = -1;
    _connected = _closed = false;
    _errno = 0;
    _listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(_listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(uint16_t(port));
    if (bind(_listen_fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 || listen(_listen_fd, 1) != 0) {
        error = std::string("listen on port ") + std::to_string(port) + ": " + std::strerror(errno);
        close(_listen_fd);
        _listen_fd = -1;
        return false;
    }
    _thread = std::thread([this] { run(); });
    return true;
}

void stream_receiver::stop()
{
    _stop = true;
    if (_thread.joinable())
        _thread.join();
    if (_listen_fd >= 0)
        close(_listen_fd);
    _listen_fd = -1;
}

nlohmann::json stream_receiver::status() const
{
    return {{"received_bytes", _received_bytes.load()}, {"first_bad_offset", _first_bad_offset.load()},
            {"connected", _connected.load()}, {"closed", _closed.load()},
            {"error", _errno ? std::strerror(_errno) : ""}, {"tcp_info", tcp_info_json(_fd)}};
}

void stream_receiver::run()
{
    pollfd p{_listen_fd, POLLIN, 0};
    while (!_stop && poll(&p, 1, 200) <= 0) {
    }
    if (_stop)
        return;
    const int old = _fd.exchange(-1);
    if (old >= 0)
        close(old);
    const int fd = accept4(_listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
        _errno = errno;
        return;
    }
    _fd = fd;
    _connected = true;
    std::vector<uint8_t> buf(chunk_bytes);
    int64_t offset = 0;
    pollfd q{fd, POLLIN, 0};
    while (!_stop) {
        if (poll(&q, 1, 200) <= 0)
            continue;
        const ssize_t r = recv(fd, buf.data(), buf.size(), 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            _errno = r < 0 ? errno : 0;
            break;
        }
        if (_first_bad_offset < 0)
            _first_bad_offset = check_pattern(uint64_t(offset), {buf.data(), size_t(r)});
        offset += r;
        _received_bytes = offset;
    }
    _closed = true;
}

}  // namespace stasis::guest
