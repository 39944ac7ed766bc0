// Numbers for people: durations, rates and sizes with a unit and a few significant digits.
#pragma once

#include <cstdint>
#include <string>

namespace stasis::replay {

std::string human_ns(double ns);       // "0ns", "850ns", "12.5us", "7.001ms", "3.2s"
std::string human_bps(double bps);     // "11.99 Mbit/s"
std::string human_bytes(double bytes); // "1500 B", "64.0 kB", "17.2 MB"
std::string percent(double fraction);  // "0.81%"

}  // namespace stasis::replay
