// Log-linear histogram, Welford statistics, Wilson interval.
#include "stasis/replay/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace stasis::replay {

namespace {
constexpr uint64_t sub = uint64_t(1) << histogram::sub_bits;  // 1024
constexpr uint64_t half = sub / 2;
}  // namespace

size_t histogram::index(uint64_t m)
{
    if (m < sub)
        return size_t(m);
    const unsigned e = unsigned(std::bit_width(m)) - 1;  // >= sub_bits
    const unsigned shift = e - sub_bits + 1;
    const uint64_t mant = m >> shift;  // in [half, sub)
    return size_t(sub + (e - sub_bits) * half + (mant - half));
}

std::pair<uint64_t, uint64_t> histogram::bounds(size_t i)
{
    if (i < sub)
        return {i, i};
    const uint64_t k = i - sub;
    const unsigned e = unsigned(k / half) + sub_bits;
    const unsigned shift = e - sub_bits + 1;
    const uint64_t lo = (half + k % half) << shift;
    return {lo, lo + ((uint64_t(1) << shift) - 1)};
}

void histogram::add(int64_t v)
{
    if (_count == 0)
        _min = _max = v;
    _min = std::min(_min, v);
    _max = std::max(_max, v);
    _count++;
    _sum += double(v);
    if (v == 0) {
        _zero++;
        return;
    }
    // |INT64_MIN| fits in uint64
    const uint64_t m = v < 0 ? uint64_t(0) - uint64_t(v) : uint64_t(v);
    std::vector<uint64_t> &side = v < 0 ? _neg : _pos;
    const size_t i = index(m);
    if (i >= side.size())
        side.resize(i + 1);
    side[i]++;
}

template <class F>
void histogram::walk(F &&f) const
{
    auto value = [this](size_t i, bool negative) {
        const auto [lo, hi] = bounds(i);
        const uint64_t mid = lo + (hi - lo) / 2;
        const int64_t v = negative ? -int64_t(mid) : int64_t(mid);
        return std::clamp(v, _min, _max);
    };
    for (size_t i = _neg.size(); i-- > 0;)
        if (_neg[i])
            f(value(i, true), _neg[i]);
    if (_zero)
        f(int64_t(0), _zero);
    for (size_t i = 0; i < _pos.size(); i++)
        if (_pos[i])
            f(value(i, false), _pos[i]);
}

int64_t histogram::percentile(double q) const
{
    if (_count == 0)
        return 0;
    const uint64_t rank = std::clamp<uint64_t>(uint64_t(std::ceil(q * double(_count))), 1, _count);
    uint64_t seen = 0;
    int64_t out = _max;
    bool found = false;
    walk([&](int64_t v, uint64_t n) {
        seen += n;
        if (!found && seen >= rank) {
            out = v;
            found = true;
        }
    });
    return out;
}

std::vector<std::pair<int64_t, double>> histogram::cdf() const
{
    std::vector<std::pair<int64_t, double>> out;
    uint64_t seen = 0;
    walk([&](int64_t v, uint64_t n) {
        seen += n;
        out.emplace_back(v, double(seen) / double(_count));
    });
    return out;
}

void running_stats::add(double x)
{
    _n++;
    const double d = x - _mean;
    _mean += d / double(_n);
    _m2 += d * (x - _mean);
}

double running_stats::stddev() const noexcept
{
    return _n > 1 ? std::sqrt(_m2 / double(_n - 1)) : 0.0;
}

std::pair<double, double> wilson_interval(uint64_t k, uint64_t n, double z)
{
    if (n == 0)
        return {0.0, 1.0};
    const double nn = double(n), p = double(k) / nn, z2 = z * z;
    const double denom = 1 + z2 / nn;
    const double center = (p + z2 / (2 * nn)) / denom;
    const double half_width = z * std::sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn)) / denom;
    return {std::max(0.0, center - half_width), std::min(1.0, center + half_width)};
}

}  // namespace stasis::replay
