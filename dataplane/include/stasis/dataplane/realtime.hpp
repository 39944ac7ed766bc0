// CLOCK_REALTIME in nanoseconds, as the dataplane names it: the shared definition.
#pragma once

#include "stasis/realtime.hpp"

namespace stasis::dataplane {

using stasis::realtime_ns;

}  // namespace stasis::dataplane
