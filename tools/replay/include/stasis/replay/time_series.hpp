// Per-interval aggregates over a run of unknown length in bounded memory: the bins start at
// initial_bin_ns and double in width (merging pairs) whenever an instant falls past the last bin.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace stasis::replay {

struct series_bin {
    uint64_t out_packets = 0, out_bytes = 0;  // departures in the bin
    uint64_t q_samples = 0;                   // queue occupancy seen by the arrivals in the bin
    uint64_t q_sum_packets = 0, q_max_packets = 0;
    uint64_t q_sum_bytes = 0, q_max_bytes = 0;

    void merge(const series_bin &o);
};

class time_series {
public:
    explicit time_series(int64_t initial_bin_ns = 1'000'000, size_t max_bins = 1024);

    // t_ns: time since the first arrival (>= 0).
    void add_departure(int64_t t_ns, uint32_t len);
    void add_queue_sample(int64_t t_ns, uint64_t packets, uint64_t bytes);

    int64_t bin_ns() const noexcept { return _bin_ns; }
    const std::vector<series_bin> &bins() const noexcept { return _bins; }

private:
    series_bin &at(int64_t t_ns);

    int64_t _bin_ns;
    size_t _max_bins;
    std::vector<series_bin> _bins;
};

}  // namespace stasis::replay
