// A TCP stream whose every byte is a function of its offset, so the receiver can check it whole.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

namespace stasis::guest {

// Fills `out` with the pattern bytes of offsets [offset, offset + out.size()).
void fill_pattern(uint64_t offset, std::span<uint8_t> out);
// The offset of the first byte of `in` that differs from the pattern at `offset`, or -1.
int64_t check_pattern(uint64_t offset, std::span<const uint8_t> in);

// Sends the pattern to ip:port; `limit_bytes` 0 is unlimited, `rate_bps` 0 is as fast as TCP goes.
class stream_sender {
public:
    ~stream_sender() { stop(); }
    void start(std::string ip, int port, int64_t limit_bytes, int64_t rate_bps);
    void stop();
    nlohmann::json status() const;

private:
    void run(std::string ip, int port, int64_t limit_bytes, int64_t rate_bps);

    std::thread _thread;
    std::atomic<bool> _stop{false};
    std::atomic<int> _fd{-1};
    std::atomic<int64_t> _sent_bytes{0};
    std::atomic<bool> _connected{false}, _done{false};
    std::atomic<int> _errno{0};
};

// Accepts one connection on `port` and checks every byte it receives.
class stream_receiver {
public:
    ~stream_receiver() { stop(); }
    bool start(int port, std::string &error);
    void stop();
    nlohmann::json status() const;

private:
    void run();

    std::thread _thread;
    std::atomic<bool> _stop{false};
    int _listen_fd = -1;
    std::atomic<int> _fd{-1};
    std::atomic<int64_t> _received_bytes{0};
    std::atomic<int64_t> _first_bad_offset{-1};
    std::atomic<bool> _connected{false}, _closed{false};
    std::atomic<int> _errno{0};
};

// tcpi_rtt, tcpi_total_retrans, ... of a connected TCP socket.
nlohmann::json tcp_info_json(int fd);

}  // namespace stasis::guest
