// Streaming distribution of int64 values (delays, delay errors) in bounded memory: log-linear buckets,
// exact below 1024 and within 1/1024 (relative) above, with exact count, min, max and mean.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace stasis::replay {

class histogram {
public:
    static constexpr unsigned sub_bits = 10;  // 1024 exact values, then 512 buckets per power of two

    void add(int64_t v);

    uint64_t count() const noexcept { return _count; }
    int64_t min() const noexcept { return _min; }
    int64_t max() const noexcept { return _max; }
    double mean() const noexcept { return _count ? _sum / double(_count) : 0.0; }
    uint64_t zeros() const noexcept { return _zero; }

    // Nearest rank: the value of rank ceil(q*count) (q in [0, 1]); the bucket's middle for values
    // of 1024 and more, clamped to [min, max]. 0 when empty.
    int64_t percentile(double q) const;

    // (value, fraction of values <= it) for each non-empty bucket, ascending: the CDF to plot.
    std::vector<std::pair<int64_t, double>> cdf() const;

private:
    static size_t index(uint64_t magnitude);
    static std::pair<uint64_t, uint64_t> bounds(size_t index);  // [lo, hi] of a bucket's magnitudes
    template <class F>
    void walk(F &&f) const;  // f(representative value, bucket count), ascending

    std::vector<uint64_t> _neg, _pos;  // by magnitude; grown on demand
    uint64_t _zero = 0, _count = 0;
    int64_t _min = 0, _max = 0;
    double _sum = 0;
};

// Mean and standard deviation without storing the values (Welford).
class running_stats {
public:
    void add(double x);
    uint64_t count() const noexcept { return _n; }
    double mean() const noexcept { return _mean; }
    double stddev() const noexcept;

private:
    uint64_t _n = 0;
    double _mean = 0, _m2 = 0;
};

// Wilson score interval of a binomial proportion k/n at the two-sided confidence whose normal
// quantile is z (2.5758 for 99 %). {0, 1} when n == 0.
std::pair<double, double> wilson_interval(uint64_t k, uint64_t n, double z);

}  // namespace stasis::replay
