// Sizes of the preallocated rings: the model's queue and the runtime's departure FIFO.
#include <algorithm>
#include <bit>

#include "prob.hpp"
#include "stasis/dataplane/pipe_model.hpp"

namespace stasis::dataplane {

namespace {

// DPDK lengths exclude the FCS: the smallest Ethernet frame on a wire is 60 bytes (FIFO sizing).
constexpr uint64_t min_frame_bytes = 60;
// A byte queue must never refuse a frame for want of ring slots, and captures or veth ports deliver
// unpadded frames (a 54-byte TCP ACK): count its bytes in bare Ethernet headers.
constexpr uint64_t min_queued_bytes = 14;
constexpr uint64_t derived_cap = uint64_t(1) << 20;  // a byte queue or a derived FIFO stops here
constexpr uint64_t min_cap = 64;
constexpr uint64_t unlimited_bps = 10'000'000'000;   // the FIFO of an unlimited pipe: 10 Gbit/s ...
constexpr uint64_t unlimited_frame_bytes = 64;       // ... of 64-byte frames
constexpr int64_t jitter_span = 4;                   // no table value exceeds 4 (jitter_table.cpp)

uint64_t pow2_at_least(uint64_t n) noexcept { return std::bit_ceil(std::max(n, min_cap)); }

// Packets the queue can hold: its slots, or its bytes in minimum frames.
uint64_t queue_packets_max(const pipe_params &p) noexcept
{
    if (p.queue_bytes == 0)
        return p.queue_slots;
    return std::min((p.queue_bytes + min_queued_bytes - 1) / min_queued_bytes, derived_cap);
}

}  // namespace

queue_storage::queue_storage(size_t capacity)
    : _slots(std::make_unique_for_overwrite<queued_packet[]>(std::bit_ceil(std::max<size_t>(capacity, 1)))),
      _cap(std::bit_ceil(std::max<size_t>(capacity, 1)))
{
}

size_t pipe_model::queue_capacity_for(const pipe_params &params) noexcept
{
    return size_t(pow2_at_least(queue_packets_max(params)));
}

uint32_t fifo_capacity_for(const pipe_params &params) noexcept
{
    if (params.fifo_slots != 0)
        return uint32_t(pow2_at_least(std::min<uint64_t>(params.fifo_slots, uint64_t(1) << 31)));
    const uint64_t rate = params.rate_bps != 0 ? params.rate_bps : unlimited_bps;
    const uint64_t frame = params.rate_bps != 0 ? min_frame_bytes : unlimited_frame_bytes;
    const int64_t span_ns = std::max<int64_t>(params.delay_ns, 0) + jitter_span * std::max<int64_t>(params.jitter_ns, 0);
    // frames leaving the server within the delay line's span, plus one at each end
    const model::u128 in_flight = model::u128(uint64_t(span_ns)) * rate / (frame * 8'000'000'000) + 2;
    const model::u128 total = in_flight + queue_packets_max(params);
    return uint32_t(pow2_at_least(uint64_t(std::min<model::u128>(total, derived_cap))));
}

}  // namespace stasis::dataplane
