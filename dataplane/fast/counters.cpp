// Quantiles of the lateness histogram.
#include "counters.hpp"

namespace stasis::dataplane {

uint64_t latency_histogram::quantile(double q) const noexcept
{
    uint64_t total = 0;
    for (unsigned i = 0; i < buckets; i++)
        total += count(i);
    if (total == 0)
        return 0;
    // The rank of the q-quantile, 1-based: the smallest value with at least q of the samples <= it.
    uint64_t rank = uint64_t(q * double(total) + 0.999999999);
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < buckets; i++) {
        seen += count(i);
        if (seen >= rank)
            return upper(i) < max() ? upper(i) : max();
    }
    return max();
}

}  // namespace stasis::dataplane
