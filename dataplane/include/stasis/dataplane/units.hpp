// Human units of the configuration ("10ms", "100Mbit", "64KiB") as exact integers, and back.
//
// Parsing is exact: the decimal is read as an integer and scaled, so "1.5ms" is 1'500'000 ns and
// "1.5ns" is an error, never a rounded value. Errors are values (std::expected), because the same
// parsers serve `stasis link set` at run time, where nothing a peer sends may throw. The unit table
// is in docs/CONFIG.md.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace stasis::dataplane {

// Durations: ns, us, ms, s (also nsec, usec, msec, sec), case-insensitive. A bare number must be 0.
std::expected<int64_t, std::string> parse_duration_ns(std::string_view text);

// Rates in bits per second: bit, kbit, Mbit, Gbit, Tbit, Kibit..Tibit; "bps" forms (kbps, Mbps...)
// are bits per second as in Emulab and ns, not tc's bytes. Prefixes are case-insensitive; "MBps"
// (capital B: bytes) is refused as ambiguous. A bare number is bit/s; "0" means unlimited.
std::expected<uint64_t, std::string> parse_rate_bps(std::string_view text);

// Sizes in bytes: B, KB, KiB, MB, MiB, GB, GiB, TB, TiB; prefixes case-insensitive, but the B must be
// a capital (a lowercase b means bits). A bare number is bytes.
std::expected<uint64_t, std::string> parse_size_bytes(std::string_view text);

// The shortest exact spelling that parses back to the same value ("1.5ms", "64KiB", "100Mbit");
// 0 is "0". format_duration writes a negative value with a '-' (for messages; it does not parse).
std::string format_duration(int64_t ns);
std::string format_rate(uint64_t bps);
std::string format_size(uint64_t bytes);

}  // namespace stasis::dataplane
