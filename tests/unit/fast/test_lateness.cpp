// The lateness recording: the histogram of a drain's lateness, one update per bucket run, against a
// count of every frame by latency_histogram::index(). Both ways (AVX-512 and scalar) must give the
// same counts for every input a drain can hand them.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>

#include <sys/mman.h>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include "counters.hpp"

namespace stasis::dataplane {
namespace {

// Departures as the FIFO holds them: 16-byte entries, the departure in the second qword.
struct entries {
    std::vector<int64_t> q;
    explicit entries(const std::vector<int64_t> &depart) : q(2 * depart.size() + 1, -7)
    {
        for (size_t i = 0; i < depart.size(); i++)
            q[2 * i + 1] = depart[i];
    }
    const int64_t *departures() const { return q.data() + 1; }
};

std::vector<uint64_t> reference(const std::vector<int64_t> &depart, int64_t now)
{
    std::vector<uint64_t> c(latency_histogram::buckets);
    for (int64_t d : depart)
        c[latency_histogram::index(uint64_t(now - d))]++;
    return c;
}

using recorder = void (*)(latency_histogram &, const int64_t *, uint32_t, int64_t) noexcept;

std::vector<uint64_t> recorded(recorder f, const std::vector<int64_t> &depart, int64_t now)
{
    const entries e(depart);
    latency_histogram h;
    f(h, e.departures(), uint32_t(depart.size()), now);
    std::vector<uint64_t> c(latency_histogram::buckets);
    for (unsigned i = 0; i < latency_histogram::buckets; i++)
        c[i] = h.count(i);
    return c;
}

// Non-decreasing departures, all <= now, with lateness spread over `spread_ns` (ties included).
std::vector<int64_t> departures(std::mt19937_64 &rng, size_t n, int64_t now, int64_t spread_ns)
{
    std::vector<int64_t> d(n);
    std::uniform_int_distribution<int64_t> u(0, spread_ns);
    for (auto &x : d)
        x = now - u(rng);
    std::sort(d.begin(), d.end());
    return d;
}

// The vector way, its runs added at once.
void record_departures_avx512(latency_histogram &h, const int64_t *depart, uint32_t n, int64_t now) noexcept
{
    auto r = std::make_unique<lateness_runs>();
    list_runs_avx512(h, *r, depart, n, now);
    add_runs(h, *r);
}

// As the worker picks: AVX-512 if the CPU has it, else scalar.
void record_as_worker(latency_histogram &h, const int64_t *depart, uint32_t n, int64_t now) noexcept
{
    lateness_log log;
    log.record(h, depart, n, now);
    log.settle(h);
}

std::vector<recorder> recorders()
{
    std::vector<recorder> r = {record_departures_scalar, record_as_worker};
    if (cpu_has_avx512())
        r.push_back(record_departures_avx512);
    return r;
}

TEST(Lateness, EveryWayCountsEveryFrameInItsBucket)
{
    std::mt19937_64 rng(42);
    const int64_t now = 1'700'000'000'000'000'000;
    // Sizes around the vector width and the 256-frame pieces; spreads from ties only to the last bucket.
    for (size_t n : {0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 255, 256, 257, 511, 600, 1024})
        for (int64_t spread : {int64_t(0), int64_t(7), int64_t(20), int64_t(500), int64_t(100'000), int64_t(1) << 42}) {
            const auto d = departures(rng, n, now, spread);
            const auto want = reference(d, now);
            for (recorder f : recorders())
                ASSERT_EQ(recorded(f, d, now), want) << "n " << n << ", spread " << spread << " ns";
        }
}

TEST(Lateness, BucketEdgesAndTheLastBucket)
{
    const int64_t now = 5'000'000'000'000;
    std::vector<int64_t> d;
    // Lateness on both sides of every bucket edge, from 2^41 ns (the last bucket) down to 0.
    for (int i = int(latency_histogram::buckets) - 1; i >= 0; i--) {
        const int64_t lo = int64_t(latency_histogram::lower(unsigned(i)));
        for (int64_t v : {lo + 1, lo, lo - 1})
            if (v >= 0 && v <= now)
                d.push_back(now - v);
    }
    d.push_back(now - (int64_t(1) << 41));
    std::sort(d.begin(), d.end());
    const auto want = reference(d, now);
    EXPECT_EQ(want[latency_histogram::buckets - 1] > 0, true);
    for (recorder f : recorders())
        EXPECT_EQ(recorded(f, d, now), want);
}

// As the worker records a drain whose entries wrap around the ring: two segments listed, the runs added
// later; and more runs than the list holds (it adds what it has to the histogram first).
TEST(Lateness, ListedRunsAddedLaterCountTheSame)
{
    std::mt19937_64 rng(7);
    const int64_t now = 1'700'000'000'000'000'000;
    for (size_t n : {1, 9, 32, 100, 1000})
        for (int64_t spread : {int64_t(0), int64_t(600), int64_t(1) << 41}) {
            const auto d = departures(rng, n, now, spread);
            const auto want = reference(d, now);
            const entries e(d);
            const uint32_t first = uint32_t(n / 3);
            lateness_log log;
            latency_histogram h;
            log.record(h, e.departures(), first, now);
            log.record(h, e.departures() + 2 * first, uint32_t(n - first), now);
            log.settle(h);
            for (unsigned i = 0; i < latency_histogram::buckets; i++)
                ASSERT_EQ(h.count(i), want[i]) << "n " << n << ", spread " << spread << ", bucket " << i;
        }
    if (!cpu_has_avx512())
        return;  // lateness_log took the scalar path above; the list below is the vector path's own
    // Every bucket reached by runs of three frames (so that the list fills up inside a run), three times
    // over without adding in between: more than max_runs runs.
    std::vector<int64_t> d;
    for (int i = int(latency_histogram::buckets) - 1; i >= 0; i--)
        for (int k = 0; k < 3; k++)
            d.push_back(now - int64_t(latency_histogram::lower(unsigned(i))));
    const entries e(d);
    std::vector<uint64_t> want(latency_histogram::buckets);
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < want.size(); i++)
            want[i] += reference(d, now)[i];
    auto runs = std::make_unique<lateness_runs>();
    latency_histogram h;
    for (int k = 0; k < 3; k++)
        list_runs_avx512(h, *runs, e.departures(), uint32_t(d.size()), now);
    EXPECT_GT(h.count(latency_histogram::buckets - 1), 0u) << "the list overflowed into the histogram";
    add_runs(h, *runs);
    for (unsigned i = 0; i < latency_histogram::buckets; i++)
        ASSERT_EQ(h.count(i), want[i]) << "bucket " << i;
}

// The FIFO's entries hold mbuf pointers in the other qwords, and a run of entries can end at the
// end of the ring's allocation: the vector loads must read the last departure and nothing past it.
// The departures here end exactly where an inaccessible page begins, so a read past them faults.
TEST(Lateness, ReadsNothingPastTheLastDeparture)
{
    const size_t page = size_t(sysconf(_SC_PAGESIZE));
    void *mem = mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(mem, MAP_FAILED);
    ASSERT_EQ(mprotect(static_cast<char *>(mem) + page, page, PROT_NONE), 0);
    const int64_t now = 1'000'000;
    for (size_t n = 1; n <= 40; n++) {
        int64_t *q = reinterpret_cast<int64_t *>(static_cast<char *>(mem) + page) - (2 * n - 1);
        std::vector<int64_t> d(n);
        for (size_t i = 0; i < n; i++) {
            d[i] = now - int64_t(37 * (n - i));
            q[2 * i] = d[i];
            if (i + 1 < n)
                q[2 * i + 1] = int64_t(0x5a5a5a5a);  // an mbuf pointer's place
        }
        const auto want = reference(d, now);
        for (recorder f : recorders()) {
            latency_histogram h;
            f(h, q, uint32_t(n), now);
            for (unsigned i = 0; i < latency_histogram::buckets; i++)
                ASSERT_EQ(h.count(i), want[i]) << "n " << n << ", bucket " << i;
        }
    }
    munmap(mem, 2 * page);
}

}  // namespace
}  // namespace stasis::dataplane
