// CRC-32C: SSE4.2 over three interleaved lanes (the instruction has a latency of 3 cycles and a
// throughput of 1), joined by multiplication modulo the polynomial; a table where SSE4.2 is missing.
#include "stasis/snapshot/crc32c.hpp"

#include <array>
#include <cstring>

#if defined(__SSE4_2__)
#include <nmmintrin.h>
#endif

namespace stasis::snapshot {
namespace {

constexpr uint32_t poly = 0x82f63b78;  // reflected Castagnoli polynomial

constexpr std::array<uint32_t, 256> make_table()
{
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ poly : c >> 1;
        t[i] = c;
    }
    return t;
}
constexpr auto table = make_table();

// a * b modulo the polynomial, both reflected (bit 31 is x^0), as zlib's crc32_combine computes it.
uint32_t multmodp(uint32_t a, uint32_t b) noexcept
{
    uint32_t m = 1u << 31, p = 0;
    for (;;) {
        if (a & m) {
            p ^= b;
            if ((a & (m - 1)) == 0)
                break;
        }
        m >>= 1;
        b = b & 1 ? (b >> 1) ^ poly : b >> 1;
    }
    return p;
}

// x^(2^k) modulo the polynomial, k = 0..31.
constexpr std::array<uint32_t, 32> make_x2n()
{
    std::array<uint32_t, 32> t{};
    uint32_t p = 1u << 30;  // x^1
    for (auto &v : t) {
        v = p;
        // p = p * p mod poly (constexpr copy of multmodp)
        uint32_t a = p, b = p, m = 1u << 31, r = 0;
        for (;;) {
            if (a & m) {
                r ^= b;
                if ((a & (m - 1)) == 0)
                    break;
            }
            m >>= 1;
            b = b & 1 ? (b >> 1) ^ poly : b >> 1;
        }
        p = r;
    }
    return t;
}
constexpr auto x2n = make_x2n();

// x^(n * 2^k) modulo the polynomial: k = 3 makes n a number of bytes.
uint32_t x2nmodp(uint64_t n, unsigned k) noexcept
{
    uint32_t p = 1u << 31;  // x^0
    while (n) {
        if (n & 1)
            p = multmodp(x2n[k & 31], p);
        n >>= 1;
        k++;
    }
    return p;
}

// Raw register updates (no pre- or post-inversion).
uint32_t update_table(uint32_t c, const unsigned char *p, size_t n) noexcept
{
    while (n--)
        c = table[(c ^ *p++) & 0xff] ^ (c >> 8);
    return c;
}

#if defined(__SSE4_2__)
uint64_t load64(const unsigned char *p) noexcept
{
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
}

uint32_t update_hw(uint32_t c, const unsigned char *p, size_t n) noexcept
{
    // Three lanes pay off once the join (a few hundred cycles) is small against the bytes.
    constexpr size_t three_lanes_from = 3 * 4096;
    if (n >= three_lanes_from) {
        const size_t lane = n / 24 * 8;
        const unsigned char *p1 = p + lane, *p2 = p + 2 * lane;
        uint64_t c0 = c, c1 = 0, c2 = 0;
        for (size_t i = 0; i < lane; i += 8) {
            c0 = _mm_crc32_u64(c0, load64(p + i));
            c1 = _mm_crc32_u64(c1, load64(p1 + i));
            c2 = _mm_crc32_u64(c2, load64(p2 + i));
        }
        // The register is linear: state(s, a b) = s * x^(8|b|) + state(0, b).
        const uint32_t shift = x2nmodp(lane, 3);
        c = multmodp(shift, multmodp(shift, uint32_t(c0)) ^ uint32_t(c1)) ^ uint32_t(c2);
        p += 3 * lane;
        n -= 3 * lane;
    }
    uint64_t c64 = c;
    for (; n >= 8; p += 8, n -= 8)
        c64 = _mm_crc32_u64(c64, load64(p));
    c = uint32_t(c64);
    for (; n; p++, n--)
        c = _mm_crc32_u8(c, *p);
    return c;
}
#endif

}  // namespace

uint32_t crc32c(uint32_t crc, const void *data, size_t n) noexcept
{
    const auto *p = static_cast<const unsigned char *>(data);
#if defined(__SSE4_2__)
    return ~update_hw(~crc, p, n);
#else
    return ~update_table(~crc, p, n);
#endif
}

uint32_t crc32c_portable(uint32_t crc, const void *data, size_t n) noexcept
{
    return ~update_table(~crc, static_cast<const unsigned char *>(data), n);
}

uint32_t crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b) noexcept
{
    return multmodp(x2nmodp(len_b, 3), crc_a) ^ crc_b;
}

}  // namespace stasis::snapshot
