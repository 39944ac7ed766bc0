// Fixed-capacity FIFO of packets waiting for their departure instant, preallocated at configuration.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <utility>

namespace stasis::dataplane {

// Departures are non-decreasing within a pipe (the model guarantees it), so a plain ring ordered by
// arrival is also ordered by departure: the head is always the next packet to leave.
template <typename Packet>
class departure_fifo {
public:
    // 16 bytes, four a cache line: what a departure reads. Arrival instants, needed only by snapshots
    // and pcap export, live in a parallel array that the fast path writes and never reads.
    struct entry {
        Packet pkt;
        int64_t depart_ns;
    };

    departure_fifo() = default;
    explicit departure_fifo(uint32_t capacity_pow2)
        : _slots(new entry[capacity_pow2]), _arrivals(new int64_t[capacity_pow2]), _mask(capacity_pow2 - 1) {}

    uint32_t capacity() const noexcept { return _slots ? _mask + 1 : 0; }
    uint32_t size() const noexcept { return uint32_t(_tail - _head); }
    bool empty() const noexcept { return _tail == _head; }
    bool full() const noexcept { return size() == capacity(); }

    // Pushes a run of frames: the ring's pointers and tail in locals until end_push(), so that the
    // stores of entries, which could alias the members, do not reload them for every frame. push()
    // returns false (the caller counts a drop) when full.
    struct pusher {
        entry *slots;
        int64_t *arrivals;
        uint64_t mask, tail, end;
        bool push(Packet pkt, int64_t depart_ns, int64_t arrival_ns) noexcept {
            if (tail == end)
                return false;
            slots[tail & mask] = entry{pkt, depart_ns};
            arrivals[tail & mask] = arrival_ns;
            tail++;
            return true;
        }
    };
    pusher begin_push() noexcept { return {_slots.get(), _arrivals.get(), _mask, _tail, _head + capacity()}; }
    void end_push(const pusher &p) noexcept { _tail = p.tail; }

    // One frame.
    bool push(Packet pkt, int64_t depart_ns, int64_t arrival_ns) noexcept {
        pusher p = begin_push();
        const bool ok = p.push(pkt, depart_ns, arrival_ns);
        end_push(p);
        return ok;
    }

    const entry &front() const noexcept { return _slots[_head & _mask]; }
    const entry &at(uint32_t i) const noexcept { return _slots[(_head + i) & _mask]; }
    // How many entries from the i-th on lie contiguous in memory, up to the ring's end.
    uint32_t contiguous_from(uint32_t i) const noexcept { return capacity() - uint32_t((_head + i) & _mask); }
    int64_t arrival_at(uint32_t i) const noexcept { return _arrivals[(_head + i) & _mask]; }
    void pop() noexcept { _head++; }
    void pop(uint32_t n) noexcept { _head += n; }

    // Every instant of every held entry moves by delta_ns (thaw at R of a freeze at F: R - F).
    void shift(int64_t delta_ns) noexcept {
        for (uint64_t i = _head; i != _tail; i++) {
            _slots[i & _mask].depart_ns += delta_ns;
            _arrivals[i & _mask] += delta_ns;
        }
    }

    // Moves every entry, in order and under the same sequence numbers, into `bigger` (preallocated
    // off the fast path) and swaps storage with it, so the old storage is freed by whoever owns
    // `bigger` now. False if it does not fit.
    bool grow_into(departure_fifo &bigger) noexcept {
        if (bigger.capacity() < size())
            return false;
        for (uint64_t i = _head; i != _tail; i++) {
            bigger._slots[i & bigger._mask] = _slots[i & _mask];
            bigger._arrivals[i & bigger._mask] = _arrivals[i & _mask];
        }
        bigger._head = _head;
        bigger._tail = _tail;
        std::swap(*this, bigger);
        return true;
    }

private:
    std::unique_ptr<entry[]> _slots;
    std::unique_ptr<int64_t[]> _arrivals;
    uint32_t _mask = 0;
    uint64_t _head = 0, _tail = 0;
};

}  // namespace stasis::dataplane
