// The independent reference of the link's queue, server and delay line: exact rationals in 128 bits.
#include "stasis/replay/reference.hpp"

#include <algorithm>

namespace stasis::replay {

namespace {
constexpr int64_t bits_ns_per_byte = 8'000'000'000;  // 8 bit/byte * 1e9 ns/s
}

reference_link::reference_link(const dataplane::pipe_params &p)
    : _rate(p.rate_bps), _delay(p.delay_ns), _slots(p.queue_slots), _bytes_limit(p.queue_bytes)
{
}

void reference_link::drain(int64_t t)
{
    while (!_queue.empty() && _queue.front().end_ns <= t) {
        _bytes -= _queue.front().len;
        _queue.pop_front();
    }
}

uint64_t reference_link::packets_at(int64_t t)
{
    drain(t);
    return _queue.size();
}

uint64_t reference_link::bytes_at(int64_t t)
{
    drain(t);
    return _bytes;
}

std::optional<int64_t> reference_link::arrive(int64_t t, uint32_t len)
{
    drain(t);
    const bool full = _bytes_limit != 0 ? _bytes + len > _bytes_limit : _queue.size() >= _slots;
    if (full)
        return std::nullopt;
    int64_t end_ns = t;
    if (_rate != 0) {
        // In units of 1/rate ns: the arrival is t*rate, the service len*8e9.
        _end_num = std::max(i128(t) * i128(_rate), _end_num) + i128(len) * bits_ns_per_byte;
        end_ns = int64_t(_end_num / i128(_rate));  // floor: both are positive
    }
    _queue.push_back({end_ns, len});
    _bytes += len;
    return end_ns + _delay;
}

}  // namespace stasis::replay
