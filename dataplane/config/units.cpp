// Exact parsing and shortest exact formatting of durations, rates and sizes.
#include "stasis/dataplane/units.hpp"

#include "text.hpp"

#include <algorithm>
#include <cctype>
#include <limits>
#include <optional>
#include <span>

namespace stasis::dataplane {
namespace {

using detail::cat;
using detail::quoted;
using u128 = unsigned __int128;

// Enough for any uint64 value at any unit with exact scaling in 128 bits: digits < 10^24 ~ 2^80,
// factors <= 2^40, so digits * factor < 2^120.
constexpr size_t max_digits = 24;
constexpr int max_format_fraction = 18;  // 10^18 * 2^64 < 2^128

struct unit_def {
    std::string_view name;  // lowercase for parsing tables; canonical spelling for formatting tables
    uint64_t factor;
};

struct quantity {
    std::string_view what;        // "duration", for messages
    std::string_view base;        // "nanoseconds"
    std::string_view hint;        // the units to suggest
    std::string_view example;     // a well-formed value
    std::span<const unit_def> parse_units;
    std::span<const unit_def> format_units;  // tie-break: earlier wins
    bool bare_is_base;            // a number without unit is in the base unit (else only 0 is)
    uint64_t max;
    // Refuses spellings that match the table case-insensitively but mean something else.
    std::optional<std::string> (*refuse)(std::string_view unit, std::string_view text);
};

constexpr uint64_t k10(int n) { return n == 0 ? 1 : 10 * k10(n - 1); }

constexpr unit_def duration_parse[] = {
    {"ns", 1}, {"nsec", 1}, {"us", k10(3)}, {"usec", k10(3)},
    {"ms", k10(6)}, {"msec", k10(6)}, {"s", k10(9)}, {"sec", k10(9)},
};
constexpr unit_def duration_format[] = {{"ns", 1}, {"us", k10(3)}, {"ms", k10(6)}, {"s", k10(9)}};

constexpr unit_def rate_parse[] = {
    {"bit", 1}, {"bps", 1}, {"kbit", k10(3)}, {"kbps", k10(3)}, {"mbit", k10(6)}, {"mbps", k10(6)},
    {"gbit", k10(9)}, {"gbps", k10(9)}, {"tbit", k10(12)}, {"tbps", k10(12)},
    {"kibit", 1ull << 10}, {"mibit", 1ull << 20}, {"gibit", 1ull << 30}, {"tibit", 1ull << 40},
};
constexpr unit_def rate_format[] = {
    {"bit", 1}, {"kbit", k10(3)}, {"Kibit", 1ull << 10}, {"Mbit", k10(6)}, {"Mibit", 1ull << 20},
    {"Gbit", k10(9)}, {"Gibit", 1ull << 30}, {"Tbit", k10(12)}, {"Tibit", 1ull << 40},
};

constexpr unit_def size_parse[] = {
    {"b", 1}, {"kb", k10(3)}, {"kib", 1ull << 10}, {"mb", k10(6)}, {"mib", 1ull << 20},
    {"gb", k10(9)}, {"gib", 1ull << 30}, {"tb", k10(12)}, {"tib", 1ull << 40},
};
constexpr unit_def size_format[] = {
    {"B", 1}, {"KB", k10(3)}, {"KiB", 1ull << 10}, {"MB", k10(6)}, {"MiB", 1ull << 20},
    {"GB", k10(9)}, {"GiB", 1ull << 30}, {"TB", k10(12)}, {"TiB", 1ull << 40},
};

std::optional<std::string> refuse_nothing(std::string_view, std::string_view) { return std::nullopt; }

// "MBps" would read as megabits case-insensitively, but a capital B usually means bytes.
std::optional<std::string> refuse_rate_bytes(std::string_view unit, std::string_view text) {
    if (unit.size() >= 3 && unit[unit.size() - 3] == 'B' && unit.ends_with("ps"))
        return cat("rate ", quoted(text), ": a capital B means bytes; rates are in bits per "
                   "second (write e.g. '80Mbit' for 10 MB/s)");
    return std::nullopt;
}

std::optional<std::string> refuse_size_bits(std::string_view unit, std::string_view text) {
    if (!unit.empty() && unit.back() == 'b')
        return cat("size ", quoted(text), ": a lowercase b means bits; write B for bytes "
                   "(e.g. '64KB')");
    return std::nullopt;
}

constexpr quantity duration_q{"duration", "nanoseconds", "ns, us, ms or s", "10ms", duration_parse,
                              duration_format, false,
                              uint64_t(std::numeric_limits<int64_t>::max()), refuse_nothing};
constexpr quantity rate_q{"rate", "bits per second", "bit, kbit, Mbit, Gbit or Tbit", "100Mbit",
                          rate_parse, rate_format, true, std::numeric_limits<uint64_t>::max(),
                          refuse_rate_bytes};
constexpr quantity size_q{"size", "bytes", "B, KB, KiB, MB, MiB, GB or GiB", "64KB",
                          size_parse, size_format, true, std::numeric_limits<uint64_t>::max(),
                          refuse_size_bits};

bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

std::string lower(std::string_view s) {
    std::string out(s);
    std::ranges::transform(out, out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

u128 pow10(size_t n) {
    u128 p = 1;
    while (n--) p *= 10;
    return p;
}

std::expected<uint64_t, std::string> parse_quantity(const quantity &q, std::string_view raw) {
    const std::string_view text = trim(raw);
    if (text.empty()) return std::unexpected(cat("empty ", q.what));
    std::string_view rest = text;
    if (rest.front() == '-') return std::unexpected(cat("negative ", q.what, " ", quoted(text)));
    // digits [ '.' digits ]
    auto take_digits = [&rest] {
        size_t n = 0;
        while (n < rest.size() && std::isdigit(static_cast<unsigned char>(rest[n]))) ++n;
        std::string_view d = rest.substr(0, n);
        rest.remove_prefix(n);
        return d;
    };
    std::string_view whole = take_digits(), frac;
    bool malformed = whole.empty();
    if (!rest.empty() && rest.front() == '.') {
        rest.remove_prefix(1);
        frac = take_digits();
        malformed = malformed || frac.empty();
    }
    if (malformed)
        return std::unexpected(
            cat("malformed ", q.what, " ", quoted(text), " (write e.g. ", quoted(q.example), ")"));
    const std::string_view unit = trim(rest);

    // The exact value is digits * factor / 10^fraction_digits.
    while (!whole.empty() && whole.front() == '0') whole.remove_prefix(1);
    while (!frac.empty() && frac.back() == '0') frac.remove_suffix(1);
    if (whole.size() + frac.size() > max_digits)
        return std::unexpected(cat(q.what, " ", quoted(text), " has too many digits"));
    u128 digits = 0;
    for (char c : whole) digits = digits * 10 + u128(c - '0');
    for (char c : frac) digits = digits * 10 + u128(c - '0');

    uint64_t factor = 1;
    if (unit.empty()) {
        if (!q.bare_is_base && digits != 0)
            return std::unexpected(
                cat(q.what, " ", quoted(text), " needs a unit (", q.hint, ")"));
    } else {
        if (auto why = q.refuse(unit, text)) return std::unexpected(*why);
        const std::string key = lower(unit);
        auto it = std::ranges::find(q.parse_units, key, &unit_def::name);
        if (it == q.parse_units.end())
            return std::unexpected(cat("unknown unit ", quoted(unit), " in ", q.what, " ",
                                       quoted(text), " (use ", q.hint, ")"));
        factor = it->factor;
    }
    const u128 scaled = digits * factor, denom = pow10(frac.size());
    if (scaled % denom != 0)
        return std::unexpected(
            cat(q.what, " ", quoted(text), " is not a whole number of ", q.base));
    if (scaled / denom > q.max)
        return std::unexpected(cat(q.what, " ", quoted(text), " is out of range"));
    return uint64_t(scaled / denom);
}

std::string to_decimal(u128 v) {
    std::string s;
    do {
        s.push_back(char('0' + int(v % 10)));
        v /= 10;
    } while (v != 0);
    std::ranges::reverse(s);
    return s;
}

// v / factor with the fewest fraction digits that make it exact, or nothing.
std::optional<std::string> spell(uint64_t v, const unit_def &u) {
    for (int d = 0; d <= max_format_fraction; ++d) {
        const u128 num = u128(v) * pow10(size_t(d));
        if (num % u.factor != 0) continue;
        // Built by appending: GCC 12 warns falsely (-Wrestrict) on string::insert here.
        std::string s = to_decimal(num / u.factor), out;
        if (d > 0 && s.size() <= size_t(d)) s = std::string(size_t(d) + 1 - s.size(), '0') + s;
        out.append(s, 0, s.size() - size_t(d));
        if (d > 0) out.append(".").append(s, s.size() - size_t(d));
        return out.append(u.name);
    }
    return std::nullopt;
}

std::string format_quantity(const quantity &q, uint64_t v) {
    if (v == 0) return "0";
    std::string best;
    for (const unit_def &u : q.format_units) {
        auto s = spell(v, u);
        if (s && (best.empty() || s->size() < best.size())) best = std::move(*s);
    }
    return best;
}

}  // namespace

std::expected<int64_t, std::string> parse_duration_ns(std::string_view text) {
    auto v = parse_quantity(duration_q, text);  // max is INT64_MAX, so the cast is exact
    if (!v) return std::unexpected(std::move(v.error()));
    return int64_t(*v);
}

std::expected<uint64_t, std::string> parse_rate_bps(std::string_view text) {
    return parse_quantity(rate_q, text);
}

std::expected<uint64_t, std::string> parse_size_bytes(std::string_view text) {
    return parse_quantity(size_q, text);
}

std::string format_duration(int64_t ns) {
    if (ns < 0) return cat("-", format_quantity(duration_q, uint64_t(0) - uint64_t(ns)));
    return format_quantity(duration_q, uint64_t(ns));
}

std::string format_rate(uint64_t bps) { return format_quantity(rate_q, bps); }

std::string format_size(uint64_t bytes) { return format_quantity(size_q, bytes); }

}  // namespace stasis::dataplane
