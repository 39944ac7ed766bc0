// The link model of one pipe: loss -> bottleneck queue -> bandwidth server -> delay line.
//
// Every decision about a packet is made at its arrival, from the arrival time, its length, the
// parameters and the pipe's seeded RNG, so the departures are a pure function of the arrival trace
// and the seed (ARCHITECTURE.md, "The link model"). No DPDK here; the same model runs in virtual time
// (pcap replay, tests) and in real time (stasis-delayd).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "stasis/dataplane/pipe_params.hpp"

namespace stasis::dataplane {

// The model's answer for one arriving packet.
struct verdict {
    drop_reason drop = drop_reason::none;  // none: admitted
    int64_t depart_ns = 0;                 // when admitted: the instant the packet leaves the pipe
};

// An admitted packet that may still occupy the bottleneck queue (waiting or being serialized).
struct queued_packet {
    int64_t service_end_ns;  // floor of the exact instant its serialization ends
    uint32_t len_bytes;

    bool operator==(const queued_packet &) const = default;
};

// Queue occupancy at an instant: admitted packets whose serialization has not ended.
struct occupancy {
    uint32_t packets = 0;
    uint64_t bytes = 0;
};

// Fixed-capacity storage for the model's queue of service end times. Allocated off the fast path;
// handed to set_params() when new limits need more room than the model has.
class queue_storage {
public:
    queue_storage() = default;
    explicit queue_storage(size_t capacity);  // rounded up to a power of two
    size_t capacity() const noexcept { return _cap; }

private:
    friend class pipe_model;
    std::unique_ptr<queued_packet[]> _slots;
    size_t _cap = 0;
};

// Everything a pipe remembers besides its parameters: what a snapshot stores to resume it exactly.
struct pipe_state {
    std::array<uint64_t, 4> rng{};  // xoshiro256** state
    bool ge_bad = false;            // Gilbert-Elliott: in the bad state
    uint64_t red_avg_q32 = 0;       // RED average queue, fixed point (value * 2^32)
    int64_t red_count = -1;         // packets since the last RED drop (-1: avg below thresh)
    int64_t server_end_ns = 0;      // exact end of the last service: server_end_ns + server_rem/rate_bps
    uint64_t server_rem = 0;        // in units of 1/rate_bps ns, < rate_bps
    int64_t last_arrival_ns = 0;
    int64_t last_depart_ns = 0;     // departures never go backwards (jitter never reorders)
    std::vector<queued_packet> queue;  // oldest first

    bool operator==(const pipe_state &) const = default;
};

class pipe_model {
public:
    explicit pipe_model(const pipe_params &params);  // allocates; validates nothing (config does)
    // Defined where `compiled` is complete (pipe_model.cpp, as `= default`).
    ~pipe_model();
    pipe_model(pipe_model &&) noexcept;
    pipe_model &operator=(pipe_model &&) noexcept;

    // Runs the model for a packet of len_bytes arriving at arrival_ns. Arrival times must not go
    // backwards; an earlier one is treated as the last arrival time. No allocation, no exception.
    verdict arrive(int64_t arrival_ns, uint32_t len_bytes) noexcept;
    // arrive() for n packets arriving together: out[i] is what arrive(arrival_ns, len_bytes[i]) would
    // answer after the packets before it, for less work a packet.
    void arrive_burst(int64_t arrival_ns, const uint32_t *len_bytes, uint32_t n, verdict *out) noexcept;

    // New parameters from at_ns on. Packets already admitted keep their departures. Returns false,
    // changing nothing, when the new queue limit needs more room than the model has and `spare`
    // does not provide it; with a large enough `spare`, the model moves into it and leaves its old
    // storage in *spare, to be freed by the caller off the fast path.
    bool set_params(const pipe_params &params, int64_t at_ns, queue_storage *spare = nullptr) noexcept;

    const pipe_params &params() const noexcept { return _params; }

    // Queue occupancy at instant t (t not before the last arrival).
    occupancy occupancy_at(int64_t t) const noexcept;

    // Snapshot and restore: restore(params, save()) behaves exactly as the original from then on.
    pipe_state save() const;
    static pipe_model restore(const pipe_params &params, const pipe_state &state);

    // Every remembered instant t becomes t + delta_ns (restore at R of a freeze at F: delta = R - F).
    void shift(int64_t delta_ns) noexcept;

    // Capacity the queue storage needs for these limits.
    static size_t queue_capacity_for(const pipe_params &params) noexcept;

private:
    // derived from _params at construction/set_params (integer thresholds, RED constants...)
    struct compiled;
    struct burst_state;
    burst_state load_state() const noexcept;
    void store_state(const burst_state &b) noexcept;
    bool plain() const noexcept;
    template <bool Bytes>
    void arrive_plain(int64_t t, const uint32_t *len_bytes, uint32_t n, verdict *out) noexcept;
    template <bool Plain>
    verdict admit(const compiled &c, burst_state &b, int64_t t, uint32_t len_bytes) noexcept;

    pipe_params _params;
    std::unique_ptr<compiled> _c;
    pipe_state _s;  // _s.queue unused at run time; the ring below holds the queue
    queue_storage _ring;
    size_t _head = 0, _count = 0;
    uint64_t _bytes = 0;  // bytes of the packets in the ring
};

// Departure FIFO capacity the runtime should preallocate for these parameters (fifo_slots if set):
// the queue limit plus the packets the delay line can hold at the pipe's rate (or at 10 Gbit/s of
// 64-byte frames when the rate is unlimited), rounded up to a power of two, at least 64.
uint32_t fifo_capacity_for(const pipe_params &params) noexcept;

}  // namespace stasis::dataplane
