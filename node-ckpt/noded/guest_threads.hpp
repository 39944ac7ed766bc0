// One thread per guest for what must happen to all guests at once (freeze at F, resume at R, save,
// restore): started together, each cancellable until its instant, joined before the guests are touched
// again.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <stop_token>
#include <thread>
#include <vector>

namespace stasis::noded {

class guest_threads {
public:
    using job = std::function<void(size_t guest, std::stop_token stop)>;

    ~guest_threads() { cancel(); }

    // Runs job(i) for i in [0, n) in n threads. The previous batch must be joined.
    void start(size_t n, job fn);
    // All threads of the batch have returned (true when there is none).
    bool done() const { return _left.load() == 0; }
    bool active() const { return !_threads.empty(); }
    // Waits for every thread.
    void join() { _threads.clear(); }
    // Asks every thread to stop (wait_until returns false) and joins.
    void cancel();

    // Sleeps until CLOCK_REALTIME `until_ns`; false if the batch was cancelled first.
    static bool wait_until(std::stop_token stop, int64_t until_ns);

    // Runs job(i) for every i in parallel threads and waits for all.
    static void run_all(size_t n, const std::function<void(size_t)> &fn);

private:
    std::vector<std::jthread> _threads;
    std::atomic<size_t> _left{0};
};

}  // namespace stasis::noded
