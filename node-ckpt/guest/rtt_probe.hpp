// Application-level RTT: a UDP echo server, and a client that sends a numbered probe at a fixed interval.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace stasis::guest {

class echo_server {
public:
    ~echo_server() { stop(); }
    bool start(int port, std::string &error);
    void stop();
    int64_t echoed() const { return _echoed; }

private:
    std::thread _thread;
    std::atomic<bool> _stop{false};
    std::atomic<int64_t> _echoed{0};
    int _fd = -1;
};

struct rtt_sample {
    int64_t seq;
    int64_t sent_real_ns;  // guest wall clock when the probe left
    int64_t rtt_ns;        // guest monotonic clock
};

class rtt_client {
public:
    static constexpr size_t max_samples = 1 << 17;

    ~rtt_client() { stop(); }
    bool start(const std::string &ip, int port, int64_t interval_us, std::string &error);
    void stop();
    nlohmann::json summary() const;
    // Samples [from, from + count) as [[seq, sent_real_ns, rtt_ns], ...].
    nlohmann::json samples(size_t from, size_t count) const;

private:
    void send_loop(int64_t interval_us);
    void receive_loop();

    std::thread _sender, _receiver;
    std::atomic<bool> _stop{false};
    int _fd = -1;
    std::atomic<int64_t> _sent{0};
    mutable std::mutex _mutex;
    std::vector<rtt_sample> _samples;
};

}  // namespace stasis::guest
