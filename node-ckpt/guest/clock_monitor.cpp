// The clock monitor's loop: one mutex per read pair keeps the host's view current at any instant.
#include "clock_monitor.hpp"

#include <cstring>
#include <ctime>
#include <pthread.h>
#include <sched.h>

#include "clock.hpp"

namespace stasis::guest {

nlohmann::json to_json(const clock_stats &s)
{
    auto step = [](const clock_step &c) { return nlohmann::json{{"step_ns", c.step_ns}, {"before_ns", c.before_ns}}; };
    return {
        {"reads", s.reads},
        {"duration_ns", s.last_mono_ns - s.started_mono_ns},
        {"max_mono", step(s.max_mono)},
        {"max_real", step(s.max_real)},
        {"min_real", step(s.min_real)},
        {"mono_steps_over_1ms", s.mono_steps_over_1ms},
        {"real_steps_over_1ms", s.real_steps_over_1ms},
        {"period_ns", s.period_ns},
        {"rt_priority", s.rt_priority},
        {"policy_error", s.policy_error},
    };
}

void clock_monitor::start(int64_t period_us, int rt_priority)
{
    stop();
    {
        std::lock_guard lock(_mutex);
        _stats = {};
    }
    _stop = false;
    _thread = std::thread([this, period_us, rt_priority] { run(period_us, rt_priority); });
}

void clock_monitor::stop()
{
    _stop = true;
    if (_thread.joinable())
        _thread.join();
}

clock_stats clock_monitor::stats() const
{
    std::lock_guard lock(_mutex);
    return _stats;
}

void clock_monitor::run(int64_t period_us, int rt_priority)
{
    std::string policy_error;
    if (rt_priority > 0) {
        const sched_param sp{.sched_priority = rt_priority};
        if (const int e = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp); e != 0)
            policy_error = "SCHED_FIFO " + std::to_string(rt_priority) + ": " + std::strerror(e);
    }
    int64_t prev_mono = clock_ns(CLOCK_MONOTONIC);
    int64_t prev_real = clock_ns(CLOCK_REALTIME);
    {
        std::lock_guard lock(_mutex);
        _stats.started_mono_ns = _stats.last_mono_ns = prev_mono;
        _stats.period_ns = period_us * 1000;
        _stats.rt_priority = policy_error.empty() ? rt_priority : 0;
        _stats.policy_error = policy_error;
    }
    const timespec period{0, long(period_us * 1000)};
    while (!_stop.load(std::memory_order_relaxed)) {
        if (period_us > 0)
            nanosleep(&period, nullptr);
        const int64_t mono = clock_ns(CLOCK_MONOTONIC);
        const int64_t real = clock_ns(CLOCK_REALTIME);
        const int64_t d_mono = mono - prev_mono;
        const int64_t d_real = real - prev_real;
        std::lock_guard lock(_mutex);
        auto &s = _stats;
        ++s.reads;
        s.last_mono_ns = mono;
        if (d_mono > s.max_mono.step_ns)
            s.max_mono = {d_mono, prev_mono};
        if (d_real > s.max_real.step_ns)
            s.max_real = {d_real, prev_real};
        if (d_real < s.min_real.step_ns)
            s.min_real = {d_real, prev_real};
        s.mono_steps_over_1ms += d_mono > 1'000'000;
        s.real_steps_over_1ms += d_real > 1'000'000;
        prev_mono = mono;
        prev_real = real;
    }
}

}  // namespace stasis::guest
