// The per-guest threads: a stop_token-aware sleep to an absolute CLOCK_REALTIME instant.
#include "guest_threads.hpp"

#include <chrono>

namespace stasis::noded {

void guest_threads::start(size_t n, job fn)
{
    join();
    _left = n;
    for (size_t i = 0; i < n; ++i)
        _threads.emplace_back([this, i, fn](std::stop_token stop) {
            fn(i, stop);
            _left.fetch_sub(1);
        });
}

void guest_threads::cancel()
{
    for (auto &t : _threads)
        t.request_stop();
    join();
}

bool guest_threads::wait_until(std::stop_token stop, int64_t until_ns)
{
    std::mutex m;
    std::condition_variable_any cv;
    std::unique_lock lock(m);
    const auto deadline = std::chrono::system_clock::time_point(std::chrono::nanoseconds(until_ns));
    cv.wait_until(lock, stop, std::chrono::time_point_cast<std::chrono::system_clock::duration>(deadline),
                  [] { return false; });
    return !stop.stop_requested();
}

void guest_threads::run_all(size_t n, const std::function<void(size_t)> &fn)
{
    std::vector<std::jthread> threads;
    for (size_t i = 0; i < n; ++i)
        threads.emplace_back([&fn, i] { fn(i); });
}

}  // namespace stasis::noded
