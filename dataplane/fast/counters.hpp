// Per-pipe and per-port counters: written by the owning worker only, read by the control thread.
#pragma once

#include <atomic>
#include <bit>
#include <cstdint>
#include <memory>

namespace stasis::dataplane {

// A counter with a single writer: a relaxed load-add-store (no locked instruction) that readers on
// other threads see without tearing.
class counter {
public:
    void add(uint64_t n = 1) noexcept { _v.store(_v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
    void set(uint64_t v) noexcept { _v.store(v, std::memory_order_relaxed); }
    uint64_t get() const noexcept { return _v.load(std::memory_order_relaxed); }

private:
    std::atomic<uint64_t> _v{0};
};

// Log-linear histogram of non-negative nanosecond values: 8 buckets per power of two (12.5%
// resolution) up to 2^40 ns, so p50/p99 can be read without storing samples.
class latency_histogram {
public:
    static constexpr unsigned sub = 8;
    static constexpr unsigned buckets = (40 - 2) * sub + sub;

    static unsigned index(uint64_t v) noexcept {
        if (v < sub)
            return unsigned(v);
        const unsigned e = 63 - unsigned(std::countl_zero(v));
        if (e >= 40)
            return buckets - 1;
        return (e - 2) * sub + unsigned((v >> (e - 3)) & (sub - 1));
    }
    // Largest value that falls into bucket i.
    static uint64_t upper(unsigned i) noexcept {
        if (i < sub)
            return i;
        const unsigned e = i / sub + 2, m = i % sub;
        return ((uint64_t(sub + m + 1)) << (e - 3)) - 1;
    }

    // Smallest value that falls into bucket i.
    static uint64_t lower(unsigned i) noexcept {
        if (i < sub)
            return i;
        if (i == buckets - 1)
            return uint64_t(1) << 40;
        const unsigned e = i / sub + 2, m = i % sub;
        return uint64_t(sub + m) << (e - 3);
    }

    // Recording is split for callers that record runs of values: n values in bucket i, and a value
    // that may be the largest seen.
    void add(unsigned i, uint64_t n) noexcept { _b[i].add(n); }
    void note(uint64_t v) noexcept {
        if (v > _max.get())
            _max.set(v);
    }
    uint64_t count(unsigned i) const noexcept { return _b[i].get(); }
    uint64_t max() const noexcept { return _max.get(); }
    // Upper bound of the bucket holding the q-quantile (0 < q <= 1); 0 when empty.
    uint64_t quantile(double q) const noexcept;

private:
    counter _b[buckets];
    counter _max;
};

// How a drain's lateness reaches the histogram. The n departed frames' departures are read from
// depart[0], depart[2], ... (the departure FIFO's 16-byte entries), do not decrease and are all <= now,
// so their buckets do not increase: each run of frames in one bucket is one update. Counts only: the
// caller notes the largest value (the first frame's) with h.note(). Two ways, which tests compare:
// portable scalar code that adds the runs at once, and AVX-512 (below) when the CPU has it.
void record_departures_scalar(latency_histogram &h, const int64_t *depart, uint32_t n, int64_t now) noexcept;
bool cpu_has_avx512() noexcept;  // checked once

// A list of bucket runs, written by the vector code and added to a histogram later. Added at once, the
// scalar walk read the list back right after the vector stores that wrote it and waited for them (a
// failed store-to-load forwarding: about 2 ns a frame with no delay line). The worker keeps one per
// pipe and adds a drain's runs at the pipe's next drain, a turn later (lateness_log).
struct alignas(64) lateness_runs {
    static constexpr uint32_t max_runs = 640;  // a drain's two ring segments: at most 2 x 313 runs
    uint32_t runs = 0;
    uint32_t frames = 0;  // frames listed: where the last run ends
    alignas(64) int64_t start[max_runs + 9];  // + 8: whole-vector stores; + 1: the end
    alignas(64) int64_t bucket[max_runs + 8];
};
// Appends the runs of n departures (read as record_departures_scalar() reads them), their first frame starting
// a run. Adds the list to h first if it could overflow. Needs AVX-512 (cpu_has_avx512()).
void list_runs_avx512(latency_histogram &h, lateness_runs &r, const int64_t *depart, uint32_t n, int64_t now) noexcept;
// Adds the listed runs to h and empties the list.
void add_runs(latency_histogram &h, lateness_runs &r) noexcept;

// A pipe's lateness recording as the worker does it: record() lists a drain's runs (AVX-512) or adds
// them at once (scalar); settle() adds what is listed, at the start of the next record() or before the
// control thread looks (park, stop).
class lateness_log {
public:
    lateness_log();
    void record(latency_histogram &h, const int64_t *depart, uint32_t n, int64_t now) noexcept;
    void settle(latency_histogram &h) noexcept
    {
        if (_runs->runs)
            add_runs(h, *_runs);
    }

private:
    bool _vector;
    std::unique_ptr<lateness_runs> _runs;
};

struct alignas(64) pipe_counters {
    counter rx_packets, rx_bytes, tx_packets, tx_bytes;
    counter drop_loss, drop_queue, drop_red, drop_fifo, drop_tx;
    counter queue_packets, queue_bytes, fifo_packets;
    latency_histogram lateness;
};

struct alignas(64) port_counters {
    counter rx_packets, tx_packets, rx_unmatched, tx_dropped;
};

}  // namespace stasis::dataplane
