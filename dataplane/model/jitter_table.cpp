// Builds the jitter tables from the distributions' formulas (netem's definitions), at midpoints of
// 4096 equal-probability cells.
#include "jitter_table.hpp"

#include <algorithm>
#include <cmath>

namespace stasis::dataplane::model {

namespace {

using dtable = std::array<double, jitter_table_size>;

double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

double normal_quantile(double p)
{
    double lo = -12, hi = 12;
    for (int i = 0; i < 80; i++) {  // bisection: slow, simple, runs once
        const double mid = (lo + hi) / 2;
        (normal_cdf(mid) < p ? lo : hi) = mid;
    }
    return (lo + hi) / 2;
}

// N(0, 1), rescaled so the table itself has unit variance (the cells cut the tails a little).
dtable normal_values()
{
    dtable t;
    double sq = 0;
    for (size_t k = 0; k < t.size(); k++) {
        t[k] = normal_quantile((double(k) + 0.5) / double(t.size()));
        sq += t[k] * t[k];
    }
    const double rms = std::sqrt(sq / double(t.size()));
    for (auto &v : t)
        v /= rms;
    return t;
}

// netem's pareto: X = U^(-1/3) (shape 3, scale 1), centred on its mean 1.5, times 4/3, clamped at 4
// (netem's table is 16-bit at scale 8192, so it stops just below 4).
dtable pareto_values()
{
    dtable t;
    for (size_t k = 0; k < t.size(); k++) {
        const double u = 1.0 - (double(k) + 0.5) / double(t.size());
        t[k] = std::min((std::pow(u, -1.0 / 3.0) - 1.5) * (4.0 / 3.0), 4.0);
    }
    return t;
}

jitter_table to_fixed(const dtable &d)
{
    jitter_table t;
    for (size_t k = 0; k < t.size(); k++)
        t[k] = int32_t(std::lround(std::ldexp(d[k], jitter_scale_bits)));
    return t;
}

struct tables {
    jitter_table normal, pareto, paretonormal;
};

tables build()
{
    const dtable n = normal_values(), p = pareto_values();
    dtable pn;
    for (size_t k = 0; k < pn.size(); k++)
        pn[k] = 0.25 * n[k] + 0.75 * p[k];  // netem: .25*normal + .75*pareto, quantile by quantile
    return tables{to_fixed(n), to_fixed(p), to_fixed(pn)};
}

}  // namespace

const int32_t *jitter_table_of(jitter_dist d) noexcept
{
    static const tables t = build();
    switch (d) {
    case jitter_dist::uniform:
        return nullptr;
    case jitter_dist::normal:
        return t.normal.data();
    case jitter_dist::pareto:
        return t.pareto.data();
    case jitter_dist::paretonormal:
        return t.paretonormal.data();
    }
    return nullptr;
}

jitter_consts compile_jitter(const pipe_params &p) noexcept
{
    return jitter_consts{std::max<int64_t>(p.jitter_ns, 0), jitter_table_of(p.jitter)};
}

}  // namespace stasis::dataplane::model
