// CRC-32C: the standard check value, the fast path against the table at every length and
// alignment that takes a different branch, and combining.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "stasis/snapshot/crc32c.hpp"

namespace stasis::snapshot {
namespace {

TEST(Crc32c, CheckValue)
{
    EXPECT_EQ(crc32c(0, "123456789", 9), 0xe3069283u);
    EXPECT_EQ(crc32c_portable(0, "123456789", 9), 0xe3069283u);
    EXPECT_EQ(crc32c(0, "", 0), 0u);
    // RFC 3720 B.4: 32 bytes of zeros.
    const std::vector<unsigned char> zeros(32, 0);
    EXPECT_EQ(crc32c(0, zeros.data(), zeros.size()), 0x8a9136aau);
}

TEST(Crc32c, FastMatchesTable)
{
    std::mt19937_64 rng(1);
    std::vector<unsigned char> buf(3 * 65536 + 64);
    for (auto &b : buf)
        b = static_cast<unsigned char>(rng());
    // Short tails, the three-lane threshold (3 * 4096) and around it, large odd sizes.
    const size_t lengths[] = {0,     1,     7,     8,     9,     63,   4095,
                              12287, 12288, 12289, 12295, 40000, 3 * 65536 + 17};
    for (size_t off : {0, 1, 3, 5}) {
        for (size_t n : lengths) {
            if (off + n > buf.size())
                continue;
            EXPECT_EQ(crc32c(0x12345678, buf.data() + off, n),
                      crc32c_portable(0x12345678, buf.data() + off, n))
                << "offset " << off << " length " << n;
        }
    }
}

TEST(Crc32c, ExtendAndCombine)
{
    std::mt19937_64 rng(2);
    std::vector<unsigned char> buf(100'000);
    for (auto &b : buf)
        b = static_cast<unsigned char>(rng());
    const uint32_t whole = crc32c(0, buf.data(), buf.size());
    for (size_t cut : {size_t(0), size_t(1), size_t(20'000), size_t(99'999), buf.size()}) {
        const uint32_t a = crc32c(0, buf.data(), cut);
        const uint32_t b = crc32c(0, buf.data() + cut, buf.size() - cut);
        EXPECT_EQ(crc32c(a, buf.data() + cut, buf.size() - cut), whole) << cut;
        EXPECT_EQ(crc32c_combine(a, b, buf.size() - cut), whole) << cut;
    }
}

}  // namespace
}  // namespace stasis::snapshot
