// Message building without <format> (GCC 12 has none): cat("plr ", 1.5, " is not in [0, 1]").
#pragma once

#include <charconv>
#include <concepts>
#include <string>
#include <string_view>

namespace stasis::dataplane::detail {

inline void append(std::string &out, std::string_view s) { out += s; }
inline void append(std::string &out, char c) { out += c; }

template <std::integral Int>
    requires(!std::same_as<Int, char> && !std::same_as<Int, bool>)
void append(std::string &out, Int v) {
    char buf[24];
    out.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

// Shortest spelling that reads back as the same double.
inline void append(std::string &out, double v) {
    char buf[32];
    out.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

template <class... Parts>
std::string cat(const Parts &...parts) {
    std::string out;
    (append(out, parts), ...);
    return out;
}

// 'text' in quotes, as every message names the bad text.
inline std::string quoted(std::string_view s) { return cat("'", s, "'"); }

}  // namespace stasis::dataplane::detail
