// What every agent answers alike: Hello (who it is, what it can do, its clock) and ClockProbe (its
// clock on receipt and on reply), over CLOCK_REALTIME, the time base of F and R across hosts.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string_view>

#include "stasis/control.pb.h"
#include "stasis/realtime.hpp"

namespace stasis::control {

using stasis::realtime_ns;  // CLOCK_REALTIME in nanoseconds

// `agent` ("stasis-delayd"), this build's version, the capabilities, and the agent's clock now.
Reply hello_reply(std::string_view agent, std::initializer_list<std::string_view> capabilities);

// t2 and t3 of an NTP-style exchange: the clock read as the request is handled and as the reply leaves.
Reply clock_probe_reply();

}  // namespace stasis::control
