// Quantiles of the lateness histogram.
#include "counters.hpp"

#include <algorithm>

#include <immintrin.h>

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

// The first frame's bucket is the largest; each bucket's frames end where the departures pass the
// bucket's lower edge. One update per bucket reached.
void record_departures_scalar(latency_histogram &h, const int64_t *depart, uint32_t n, int64_t now) noexcept
{
    for (uint32_t i = 0; i < n;) {
        const unsigned b = latency_histogram::index(uint64_t(now - depart[2 * size_t(i)]));
        const int64_t last_in_bucket = now - int64_t(latency_histogram::lower(b));
        uint32_t j = i + 1;
        while (j < n && depart[2 * size_t(j)] <= last_in_bucket)
            j++;
        h.add(b, j - i);
        i = j;
    }
}

// GCC 12's AVX-512 intrinsics start from _mm512_undefined_epi32(), which -Wmaybe-uninitialized takes
// for a read of an uninitialized value.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

// A dozen or so buckets a burst, each ending at a data-dependent frame: the scalar scan mispredicts
// once a bucket, which cost about 2 ns a frame at 100 us in the benchmark (docs/BENCHMARKS.md). Here
// the buckets of eight frames come from one vector computation of latency_histogram::index(), the
// frames that start a new bucket are compressed into a list, and only that list is walked.
__attribute__((target("avx512f,avx512cd,avx512dq,avx512vl"))) void
list_runs_avx512(latency_histogram &h, lateness_runs &r, const int64_t *depart, uint32_t n, int64_t now) noexcept
{
    const __m512i vnow = _mm512_set1_epi64(now);
    const __m512i select = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);  // the departures of 8 entries
    const __m512i lane = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
    const __m512i sub = _mm512_set1_epi64(latency_histogram::sub), last = _mm512_set1_epi64(latency_histogram::buckets - 1);
    int64_t base = r.frames;  // list position of this call's first frame
    __m512i prev = _mm512_set1_epi64(-1);  // the first frame starts a run
    for (uint32_t p = 0; p < n; p += 8) {
        if (r.runs + 8 > lateness_runs::max_runs) [[unlikely]] {
            r.frames = uint32_t(base + p);
            add_runs(h, r);
            base = -int64_t(p);
            prev = _mm512_set1_epi64(-1);
        }
        const uint32_t left = n - p;
        // Entry k's departure is qword 2k; the last qword read is the last valid departure.
        const uint32_t qwords = left >= 8 ? 15 : 2 * left - 1;
        const __mmask8 lo = __mmask8(qwords >= 8 ? 0xff : (1u << qwords) - 1);
        const __mmask8 hi = __mmask8(qwords > 8 ? (1u << (qwords - 8)) - 1 : 0);
        const int64_t *q = depart + 2 * size_t(p);
        const __m512i a = _mm512_maskz_loadu_epi64(lo, q), b = _mm512_maskz_loadu_epi64(hi, q + 8);
        const __m512i v = _mm512_sub_epi64(vnow, _mm512_permutex2var_epi64(a, select, b));
        // latency_histogram::index(v), lane by lane.
        const __m512i e = _mm512_sub_epi64(_mm512_set1_epi64(63), _mm512_lzcnt_epi64(v));
        const __m512i mant = _mm512_and_si512(_mm512_srlv_epi64(v, _mm512_sub_epi64(e, _mm512_set1_epi64(3))),
                                              _mm512_set1_epi64(latency_histogram::sub - 1));
        __m512i bk = _mm512_add_epi64(_mm512_sub_epi64(_mm512_slli_epi64(e, 3), _mm512_set1_epi64(16)), mant);
        bk = _mm512_mask_mov_epi64(bk, _mm512_cmplt_epu64_mask(v, sub), v);
        bk = _mm512_mask_mov_epi64(bk, _mm512_cmpge_epi64_mask(e, _mm512_set1_epi64(40)), last);
        const __mmask8 valid = __mmask8(left >= 8 ? 0xff : (1u << left) - 1);
        // A frame starts a run when its bucket differs from the frame's before it.
        const __mmask8 starts = _mm512_mask_cmpneq_epi64_mask(valid, bk, _mm512_alignr_epi64(bk, prev, 7));
        // Compressed in registers and stored whole (lanes past the starts are overwritten next):
        // a compressing store to memory is microcoded on AMD Zen 4.
        _mm512_storeu_si512(r.start + r.runs, _mm512_maskz_compress_epi64(
                                                  starts, _mm512_add_epi64(lane, _mm512_set1_epi64(base + int64_t(p)))));
        _mm512_storeu_si512(r.bucket + r.runs, _mm512_maskz_compress_epi64(starts, bk));
        r.runs += unsigned(__builtin_popcount(starts));
        prev = bk;
    }
    r.frames = uint32_t(base + n);
}

#pragma GCC diagnostic pop

bool cpu_has_avx512() noexcept
{
    static const bool has = [] {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
               __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    }();
    return has;
}

void add_runs(latency_histogram &h, lateness_runs &r) noexcept
{
    r.start[r.runs] = r.frames;
    for (uint32_t i = 0; i < r.runs; i++)
        h.add(unsigned(r.bucket[i]), uint64_t(r.start[i + 1] - r.start[i]));
    r.runs = 0;
    r.frames = 0;
}

lateness_log::lateness_log() : _vector(cpu_has_avx512()), _runs(std::make_unique<lateness_runs>()) {}

void lateness_log::record(latency_histogram &h, const int64_t *depart, uint32_t n, int64_t now) noexcept
{
    if (_vector)
        list_runs_avx512(h, *_runs, depart, n, now);
    else
        record_departures_scalar(h, depart, n, now);
}

}  // namespace stasis::dataplane
