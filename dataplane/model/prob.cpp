// Conversion of configured probabilities (double) to the integer thresholds the fast path compares.
#include "prob.hpp"

#include <cmath>

namespace stasis::dataplane::model {

uint64_t threshold_of(double p) noexcept
{
    if (!(p > 0))
        return 0;
    const double x = std::round(std::ldexp(p, 64));  // exact scaling by a power of two
    if (x >= 18446744073709551616.0)                  // 2^64
        return UINT64_MAX;
    return uint64_t(x);
}

}  // namespace stasis::dataplane::model
