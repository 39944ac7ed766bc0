// The clock monitor's loop: one mutex per read pair keeps the host's view current at any instant.
#include "clock_monitor.hpp"

#include <ctime>

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
    };
}

void clock_monitor::start(int64_t period_us)
{
    stop();
    {
        std::lock_guard lock(_mutex);
        _stats = {};
    }
    _stop = false;
    _thread = std::thread([this, period_us] { run(period_us); });
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

void clock_monitor::run(int64_t period_us)
{
    int64_t prev_mono = clock_ns(CLOCK_MONOTONIC);
    int64_t prev_real = clock_ns(CLOCK_REALTIME);
    {
        std::lock_guard lock(_mutex);
        _stats.started_mono_ns = _stats.last_mono_ns = prev_mono;
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
