// The guest-visible pause: reads CLOCK_MONOTONIC and CLOCK_REALTIME in a loop and keeps the largest steps.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

namespace stasis::guest {

struct clock_step {
    int64_t step_ns = 0;     // between two consecutive reads of one clock
    int64_t before_ns = 0;   // that clock's value at the first of the two reads
};

struct clock_stats {
    int64_t reads = 0;
    int64_t started_mono_ns = 0;
    int64_t last_mono_ns = 0;
    clock_step max_mono;
    clock_step max_real;
    clock_step min_real;            // negative: the wall clock went back
    int64_t mono_steps_over_1ms = 0;
    int64_t real_steps_over_1ms = 0;
    int64_t period_ns = 0;           // the sleep between two reads (0: a busy loop)
    int rt_priority = 0;             // SCHED_FIFO priority the loop ran at (0: the default policy)
    std::string policy_error;        // why the asked priority could not be set
};

nlohmann::json to_json(const clock_stats &s);

class clock_monitor {
public:
    ~clock_monitor() { stop(); }

    // period_us 0: a busy loop (the most sensitive); otherwise a nanosleep between two reads.
    // rt_priority > 0 runs the loop under SCHED_FIFO at that priority, so that the guest's own threads (a TCP
    // stream on the same vCPU) do not preempt it and only what the guest cannot control shows as a step;
    // with a period it then costs little of the vCPU.
    void start(int64_t period_us, int rt_priority = 0);
    void stop();
    bool running() const { return _thread.joinable(); }
    clock_stats stats() const;

private:
    void run(int64_t period_us, int rt_priority);

    std::thread _thread;
    std::atomic<bool> _stop{false};
    mutable std::mutex _mutex;
    clock_stats _stats;
};

}  // namespace stasis::guest
