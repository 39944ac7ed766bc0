// A packet the link has admitted and not yet released: what the replay holds in flight.
#pragma once

#include <cstdint>
#include <vector>

namespace stasis::replay {

struct held_packet {
    int64_t depart_ns;   // when it leaves, in the run's (shifted) time
    int64_t arrival_ns;  // input timestamp
    uint64_t number;
    uint32_t len;
    std::vector<uint8_t> bytes;  // the captured bytes (caplen)

    bool operator==(const held_packet &) const = default;
};

}  // namespace stasis::replay
