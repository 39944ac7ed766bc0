// The link's deterministic part computed independently of dataplane/model, straight from its definition
// (ARCHITECTURE.md, "The link model"), to check the model's departures to the nanosecond:
//   service end = max(arrival, previous exact service end) + len*8/rate   (an exact rational)
//   departure   = floor(service end) + delay
// and the queue as seen at the arrival: admitted packets whose floor(service end) is after it; a slot
// queue admits while it holds fewer than queue_slots packets, a byte queue while bytes + len fit.
// Random decisions (loss, RED) are taken as given; jitter is left out (the report measures it).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>

#include "stasis/dataplane/pipe_params.hpp"

namespace stasis::replay {

class reference_link {
public:
    explicit reference_link(const dataplane::pipe_params &params);

    // A packet that passed the loss model and RED arrives at t (non-decreasing): its departure, or
    // nullopt when the queue limit refuses it.
    std::optional<int64_t> arrive(int64_t t, uint32_t len);

    // Packets and bytes in the queue just before a packet arriving at t (t not before the last arrival).
    uint64_t packets_at(int64_t t);
    uint64_t bytes_at(int64_t t);

private:
    __extension__ typedef __int128 i128;
    struct queued {
        int64_t end_ns;
        uint32_t len;
    };
    void drain(int64_t t);

    uint64_t _rate;
    int64_t _delay;
    uint64_t _slots, _bytes_limit;
    i128 _end_num = 0;  // exact end of the last service, in units of 1/rate ns (rate 0: ns)
    std::deque<queued> _queue;
    uint64_t _bytes = 0;
};

}  // namespace stasis::replay
