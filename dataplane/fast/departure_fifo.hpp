// Fixed-capacity FIFO of packets waiting for their departure instant, preallocated at configuration.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>

namespace stasis::dataplane {

// Departures are non-decreasing within a pipe (the model guarantees it), so a plain ring ordered by
// arrival is also ordered by departure: the head is always the next packet to leave.
template <typename Packet>
class departure_fifo {
public:
    // 32 bytes: two entries a cache line. The length is kept here so that counting a departure
    // does not touch the packet, which is cold after a delay line's worth of other packets.
    struct entry {
        Packet pkt;
        int64_t depart_ns;
        int64_t arrival_ns;  // kept for snapshots and pcap export of frozen packets
        uint32_t len;
    };

    departure_fifo() = default;
    explicit departure_fifo(uint32_t capacity_pow2)
        : _slots(new entry[capacity_pow2]), _mask(capacity_pow2 - 1) {}

    uint32_t capacity() const noexcept { return _slots ? _mask + 1 : 0; }
    uint32_t size() const noexcept { return uint32_t(_tail - _head); }
    bool empty() const noexcept { return _tail == _head; }
    bool full() const noexcept { return size() == capacity(); }

    // Returns false (the caller counts a drop) when full.
    bool push(Packet pkt, int64_t depart_ns, int64_t arrival_ns, uint32_t len) noexcept {
        if (full())
            return false;
        _slots[_tail++ & _mask] = entry{pkt, depart_ns, arrival_ns, len};
        return true;
    }

    const entry &front() const noexcept { return _slots[_head & _mask]; }
    const entry &at(uint32_t i) const noexcept { return _slots[(_head + i) & _mask]; }
    entry &at(uint32_t i) noexcept { return _slots[(_head + i) & _mask]; }
    void pop() noexcept { _head++; }

    // Every instant of every held entry moves by delta_ns (thaw at R of a freeze at F: R - F).
    void shift(int64_t delta_ns) noexcept {
        for (uint64_t i = _head; i != _tail; i++) {
            _slots[i & _mask].depart_ns += delta_ns;
            _slots[i & _mask].arrival_ns += delta_ns;
        }
    }

    // Moves every entry, in order, into `bigger` (preallocated off the fast path) and swaps storage
    // with it, so the old storage is freed by whoever owns `bigger` now. False if it does not fit.
    bool grow_into(departure_fifo &bigger) noexcept {
        if (bigger.capacity() < size())
            return false;
        bigger._head = bigger._tail = 0;
        for (uint64_t i = _head; i != _tail; i++)
            bigger._slots[bigger._tail++ & bigger._mask] = _slots[i & _mask];
        std::swap(_slots, bigger._slots);
        std::swap(_mask, bigger._mask);
        std::swap(_head, bigger._head);
        std::swap(_tail, bigger._tail);
        return true;
    }

private:
    std::unique_ptr<entry[]> _slots;
    uint32_t _mask = 0;
    uint64_t _head = 0, _tail = 0;
};

}  // namespace stasis::dataplane
