// Human-readable numbers for the text summary.
#include "human.hpp"

#include <cmath>
#include <cstdio>

namespace stasis::replay {

namespace {

std::string fmt(double v, const char *unit)
{
    char buf[64];
    const double a = std::fabs(v);
    const int decimals = a >= 100 ? 1 : a >= 10 ? 2 : 3;
    std::snprintf(buf, sizeof buf, "%.*f%s", decimals, v, unit);
    return buf;
}

}  // namespace

std::string human_ns(double ns)
{
    const double a = std::fabs(ns);
    if (a < 1000) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.0fns", ns);
        return buf;
    }
    if (a < 1e6)
        return fmt(ns / 1e3, "us");
    if (a < 1e9)
        return fmt(ns / 1e6, "ms");
    return fmt(ns / 1e9, "s");
}

std::string human_bps(double bps)
{
    if (bps >= 1e9)
        return fmt(bps / 1e9, " Gbit/s");
    if (bps >= 1e6)
        return fmt(bps / 1e6, " Mbit/s");
    if (bps >= 1e3)
        return fmt(bps / 1e3, " kbit/s");
    return fmt(bps, " bit/s");
}

std::string human_bytes(double b)
{
    if (b >= 1e9)
        return fmt(b / 1e9, " GB");
    if (b >= 1e6)
        return fmt(b / 1e6, " MB");
    if (b >= 1e3)
        return fmt(b / 1e3, " kB");
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f B", b);
    return buf;
}

std::string percent(double fraction)
{
    char buf[32];
    const double p = fraction * 100;
    std::snprintf(buf, sizeof buf, p != 0 && std::fabs(p) < 0.01 ? "%.2g%%" : "%.3g%%", p);
    return buf;
}

}  // namespace stasis::replay
