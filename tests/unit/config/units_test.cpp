// Units: exact parsing, clear errors, shortest exact formatting that parses back.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>

#include "stasis/dataplane/units.hpp"

namespace stasis::dataplane {
namespace {

// The error text, or a failure when the value parsed.
template <class Expected>
std::string error_of(const Expected &r) {
    if (r) {
        ADD_FAILURE() << "parsed as " << *r;
        return "";
    }
    return r.error();
}

TEST(Duration, ParsesEveryUnitExactly) {
    EXPECT_EQ(parse_duration_ns("10ms"), 10'000'000);
    EXPECT_EQ(parse_duration_ns("250us"), 250'000);
    EXPECT_EQ(parse_duration_ns("1.5s"), 1'500'000'000);
    EXPECT_EQ(parse_duration_ns("100ns"), 100);
    EXPECT_EQ(parse_duration_ns("0"), 0);
    EXPECT_EQ(parse_duration_ns("0ms"), 0);
    EXPECT_EQ(parse_duration_ns("1.000000001s"), 1'000'000'001);
    EXPECT_EQ(parse_duration_ns("0.000001ms"), 1);
    EXPECT_EQ(parse_duration_ns("1.500ms"), 1'500'000);  // trailing zeros are not precision
    EXPECT_EQ(parse_duration_ns("007ms"), 7'000'000);
}

TEST(Duration, AcceptsCaseSpacesAndLongNames) {
    EXPECT_EQ(parse_duration_ns("10MS"), 10'000'000);
    EXPECT_EQ(parse_duration_ns(" 10 ms "), 10'000'000);
    EXPECT_EQ(parse_duration_ns("2sec"), 2'000'000'000);
    EXPECT_EQ(parse_duration_ns("3msec"), 3'000'000);
    EXPECT_EQ(parse_duration_ns("4usec"), 4'000);
    EXPECT_EQ(parse_duration_ns("5nsec"), 5);
}

TEST(Duration, Limits) {
    EXPECT_EQ(parse_duration_ns("9223372036854775807ns"), std::numeric_limits<int64_t>::max());
    EXPECT_EQ(error_of(parse_duration_ns("9223372036854775808ns")),
              "duration '9223372036854775808ns' is out of range");
    EXPECT_EQ(error_of(parse_duration_ns("10000000000s")), "duration '10000000000s' is out of range");
    EXPECT_EQ(error_of(parse_duration_ns("1234567890123456789012345ns")),
              "duration '1234567890123456789012345ns' has too many digits");
}

TEST(Duration, ErrorsNameTheText) {
    EXPECT_EQ(error_of(parse_duration_ns("-5ms")), "negative duration '-5ms'");
    EXPECT_EQ(error_of(parse_duration_ns("1.5ns")),
              "duration '1.5ns' is not a whole number of nanoseconds");
    EXPECT_EQ(error_of(parse_duration_ns("0.0000001ms")),
              "duration '0.0000001ms' is not a whole number of nanoseconds");
    EXPECT_EQ(error_of(parse_duration_ns("10")), "duration '10' needs a unit (ns, us, ms or s)");
    EXPECT_EQ(error_of(parse_duration_ns("10xs")),
              "unknown unit 'xs' in duration '10xs' (use ns, us, ms or s)");
    EXPECT_EQ(error_of(parse_duration_ns("abc")), "malformed duration 'abc' (write e.g. '10ms')");
    EXPECT_EQ(error_of(parse_duration_ns("")), "empty duration");
    EXPECT_EQ(error_of(parse_duration_ns("1.ms")), "malformed duration '1.ms' (write e.g. '10ms')");
    EXPECT_EQ(error_of(parse_duration_ns(".5ms")), "malformed duration '.5ms' (write e.g. '10ms')");
    EXPECT_EQ(error_of(parse_duration_ns("1e3ms")),
              "unknown unit 'e3ms' in duration '1e3ms' (use ns, us, ms or s)");
    EXPECT_EQ(error_of(parse_duration_ns("+5ms")), "malformed duration '+5ms' (write e.g. '10ms')");
}

TEST(Rate, ParsesBitsPerSecond) {
    EXPECT_EQ(parse_rate_bps("100Mbit"), 100'000'000u);
    EXPECT_EQ(parse_rate_bps("1.5Gbit"), 1'500'000'000u);
    EXPECT_EQ(parse_rate_bps("64kbit"), 64'000u);
    EXPECT_EQ(parse_rate_bps("1000000"), 1'000'000u);
    EXPECT_EQ(parse_rate_bps("10Mbps"), 10'000'000u);  // bits, as Emulab and ns, not tc's bytes
    EXPECT_EQ(parse_rate_bps("10mbit"), 10'000'000u);
    EXPECT_EQ(parse_rate_bps("10MBIT"), 10'000'000u);
    EXPECT_EQ(parse_rate_bps("2Tbit"), 2'000'000'000'000u);
    EXPECT_EQ(parse_rate_bps("1Kibit"), 1024u);
    EXPECT_EQ(parse_rate_bps("1Mibit"), 1u << 20);
    EXPECT_EQ(parse_rate_bps("0"), 0u);
    EXPECT_EQ(parse_rate_bps("18446744073709551615"), std::numeric_limits<uint64_t>::max());
}

TEST(Rate, ErrorsNameTheText) {
    EXPECT_EQ(error_of(parse_rate_bps("10MBps")),
              "rate '10MBps': a capital B means bytes; rates are in bits per second "
              "(write e.g. '80Mbit' for 10 MB/s)");
    EXPECT_EQ(error_of(parse_rate_bps("1.5bit")), "rate '1.5bit' is not a whole number of bits per second");
    EXPECT_EQ(error_of(parse_rate_bps("-1Mbit")), "negative rate '-1Mbit'");
    EXPECT_EQ(error_of(parse_rate_bps("10Xbit")),
              "unknown unit 'Xbit' in rate '10Xbit' (use bit, kbit, Mbit, Gbit or Tbit)");
    EXPECT_EQ(error_of(parse_rate_bps("18446744073709551616")),
              "rate '18446744073709551616' is out of range");
}

TEST(Size, ParsesDecimalAndBinaryPrefixes) {
    EXPECT_EQ(parse_size_bytes("64KB"), 64'000u);
    EXPECT_EQ(parse_size_bytes("64kB"), 64'000u);
    EXPECT_EQ(parse_size_bytes("64KiB"), 65'536u);
    EXPECT_EQ(parse_size_bytes("64KIB"), 65'536u);
    EXPECT_EQ(parse_size_bytes("1500B"), 1'500u);
    EXPECT_EQ(parse_size_bytes("1500"), 1'500u);
    EXPECT_EQ(parse_size_bytes("1MB"), 1'000'000u);
    EXPECT_EQ(parse_size_bytes("1MiB"), 1u << 20);
    EXPECT_EQ(parse_size_bytes("2GB"), 2'000'000'000u);
    EXPECT_EQ(parse_size_bytes("1GiB"), 1u << 30);
    EXPECT_EQ(parse_size_bytes("1.5KiB"), 1'536u);
}

TEST(Size, ErrorsNameTheText) {
    EXPECT_EQ(error_of(parse_size_bytes("64kb")),
              "size '64kb': a lowercase b means bits; write B for bytes (e.g. '64KB')");
    EXPECT_EQ(error_of(parse_size_bytes("0.5B")), "size '0.5B' is not a whole number of bytes");
    EXPECT_EQ(error_of(parse_size_bytes("1.0001KiB")), "size '1.0001KiB' is not a whole number of bytes");
    EXPECT_EQ(error_of(parse_size_bytes("-1KB")), "negative size '-1KB'");
    EXPECT_EQ(error_of(parse_size_bytes("10 pages")),
              "unknown unit 'pages' in size '10 pages' (use B, KB, KiB, MB, MiB, GB or GiB)");
}

TEST(Format, PicksTheShortestExactSpelling) {
    EXPECT_EQ(format_duration(0), "0");
    EXPECT_EQ(format_duration(1'500'000), "1.5ms");
    EXPECT_EQ(format_duration(100), "100ns");  // ties go to the smaller unit, without a point
    EXPECT_EQ(format_duration(1'000'000'000), "1s");
    EXPECT_EQ(format_duration(10'000'000), "10ms");
    EXPECT_EQ(format_duration(500'000'000), "0.5s");
    EXPECT_EQ(format_duration(1'234'567), "1234567ns");
    EXPECT_EQ(format_duration(-5'000'000), "-5ms");
    EXPECT_EQ(format_rate(100'000'000), "100Mbit");
    EXPECT_EQ(format_rate(1'500'000'000), "1.5Gbit");
    EXPECT_EQ(format_rate(1'000), "1kbit");
    EXPECT_EQ(format_rate(1'024), "1Kibit");
    EXPECT_EQ(format_rate(7), "7bit");
    EXPECT_EQ(format_size(64'000), "64KB");
    EXPECT_EQ(format_size(65'536), "64KiB");
    EXPECT_EQ(format_size(1'500), "1500B");
    EXPECT_EQ(format_size(1'536), "1536B");
    EXPECT_EQ(format_size(1u << 30), "1GiB");
}

// Every formatted value parses back to itself, and is never longer than the plain base unit.
TEST(Format, RoundTripsExactly) {
    std::mt19937_64 rng(12345);
    std::vector<uint64_t> values = {1, 9, 10, 999, 1000, 1001, 1023, 1024, 1536, 65'536, 999'999'999,
                                    1'000'000'000, 1'000'000'001, uint64_t(1) << 40,
                                    std::numeric_limits<uint64_t>::max(),
                                    uint64_t(std::numeric_limits<int64_t>::max())};
    for (int i = 0; i < 2000; ++i) {
        const uint64_t v = rng() >> (rng() % 64);
        values.push_back(v);
        values.push_back(v / 1000 * 1000);  // values with round parts exercise the units
        values.push_back(v >> 20 << 20);
    }
    for (uint64_t v : values) {
        SCOPED_TRACE(v);
        EXPECT_EQ(parse_rate_bps(format_rate(v)), v) << format_rate(v);
        EXPECT_EQ(parse_size_bytes(format_size(v)), v) << format_size(v);
        EXPECT_LE(format_rate(v).size(), std::to_string(v).size() + 3);
        EXPECT_LE(format_size(v).size(), std::to_string(v).size() + 1);
        const int64_t ns = int64_t(v >> 1);
        EXPECT_EQ(parse_duration_ns(format_duration(ns)), ns) << format_duration(ns);
        EXPECT_LE(format_duration(ns).size(), std::to_string(ns).size() + 2);
    }
}

}  // namespace
}  // namespace stasis::dataplane
