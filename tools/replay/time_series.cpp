// Doubling-width time bins.
#include "stasis/replay/time_series.hpp"

#include <algorithm>

namespace stasis::replay {

void series_bin::merge(const series_bin &o)
{
    out_packets += o.out_packets;
    out_bytes += o.out_bytes;
    q_samples += o.q_samples;
    q_sum_packets += o.q_sum_packets;
    q_max_packets = std::max(q_max_packets, o.q_max_packets);
    q_sum_bytes += o.q_sum_bytes;
    q_max_bytes = std::max(q_max_bytes, o.q_max_bytes);
}

time_series::time_series(int64_t initial_bin_ns, size_t max_bins)
    : _bin_ns(std::max<int64_t>(initial_bin_ns, 1)), _max_bins(std::max<size_t>(max_bins, 2))
{
}

series_bin &time_series::at(int64_t t_ns)
{
    t_ns = std::max<int64_t>(t_ns, 0);
    while (uint64_t(t_ns / _bin_ns) >= _max_bins) {
        const size_t n = (_bins.size() + 1) / 2;
        for (size_t i = 0; i < n; i++) {
            series_bin b = _bins[2 * i];
            if (2 * i + 1 < _bins.size())
                b.merge(_bins[2 * i + 1]);
            _bins[i] = b;
        }
        _bins.resize(n);
        _bin_ns *= 2;
    }
    const size_t i = size_t(t_ns / _bin_ns);
    if (i >= _bins.size())
        _bins.resize(i + 1);
    return _bins[i];
}

void time_series::add_departure(int64_t t_ns, uint32_t len)
{
    series_bin &b = at(t_ns);
    b.out_packets++;
    b.out_bytes += len;
}

void time_series::add_queue_sample(int64_t t_ns, uint64_t packets, uint64_t bytes)
{
    series_bin &b = at(t_ns);
    b.q_samples++;
    b.q_sum_packets += packets;
    b.q_max_packets = std::max(b.q_max_packets, packets);
    b.q_sum_bytes += bytes;
    b.q_max_bytes = std::max(b.q_max_bytes, bytes);
}

}  // namespace stasis::replay
