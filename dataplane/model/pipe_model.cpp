// The per-packet model: loss -> AQM -> queue limit -> bandwidth server -> delay line with jitter.
#include "stasis/dataplane/pipe_model.hpp"

#include <algorithm>

#include "compiled.hpp"

namespace stasis::dataplane {

struct pipe_model::compiled : model::compiled_params {};

pipe_model::pipe_model(const pipe_params &params)
    : _params(params), _c(std::make_unique<compiled>()), _ring(queue_capacity_for(params))
{
    static_cast<model::compiled_params &>(*_c) = model::compile(params);
    _s.rng = model::seed_rng(params.seed);
}

pipe_model::~pipe_model() = default;
pipe_model::pipe_model(pipe_model &&) noexcept = default;
pipe_model &pipe_model::operator=(pipe_model &&) noexcept = default;

// The queue and bandwidth server as admit() works on them: copied out of the members for a burst
// (stores to the queue's slots and to the verdicts could alias the members).
struct pipe_model::burst_state {
    queued_packet *slots;
    size_t cap, head, count;
    uint64_t bytes;
    int64_t server_end_ns;
    uint64_t server_rem;
    int64_t last_depart_ns;
};

// Removes from the queue's head the packets whose service ended by t.
inline void pop_ended(const queued_packet *slots, size_t mask, size_t &head, size_t &count, uint64_t &bytes,
                      int64_t t) noexcept
{
    while (count != 0 && slots[head].service_end_ns <= t) {
        bytes -= slots[head].len_bytes;
        head = (head + 1) & mask;
        count--;
    }
}

// The queue and server as a burst starts, and back when it ends.
pipe_model::burst_state pipe_model::load_state() const noexcept
{
    return {_ring._slots.get(), _ring._cap, _head, _count, _bytes, _s.server_end_ns, _s.server_rem, _s.last_depart_ns};
}

void pipe_model::store_state(const burst_state &b) noexcept
{
    _head = b.head;
    _count = b.count;
    _bytes = b.bytes;
    _s.server_end_ns = b.server_end_ns;
    _s.server_rem = b.server_rem;
    _s.last_depart_ns = b.last_depart_ns;
}

// Most links draw nothing: no loss, no AQM, no jitter.
bool pipe_model::plain() const noexcept
{
    return _c->loss.kind == loss_kind::none && _c->red.kind == aqm_kind::droptail && _c->jitter.scale_ns == 0;
}

// One instant for the whole burst: the parameters, the arrival time and the state are read once.
void pipe_model::arrive_burst(int64_t arrival_ns, const uint32_t *len_bytes, uint32_t n, verdict *out) noexcept
{
    const int64_t t = std::max(arrival_ns, _s.last_arrival_ns);
    _s.last_arrival_ns = t;
    if (plain()) {
        if (_c->queue_bytes != 0)
            arrive_plain<true>(t, len_bytes, n, out);
        else
            arrive_plain<false>(t, len_bytes, n, out);
        return;
    }
    burst_state b = load_state();
    for (uint32_t i = 0; i < n; i++)
        out[i] = admit<false>(*_c, b, t, len_bytes[i]);
    store_state(b);
}

// The common link (no loss, droptail, no jitter), written out with its state in locals:
// admit<true> step by step, with the same answers (Determinism.BurstsEqualOneByOne checks it against
// arrive()). Three things make it cheaper:
// - The queue is emptied of what ended by t once, before the burst. Its service ends rise, so after
//   that none has ended, and a packet served in this burst ends after t unless its serialization
//   rounds to 0 ns at an idle server, or the rate is unlimited (`stale`: then the next packet pops
//   it, as admit() would).
// - The server's step for a packet length is computed once per run of equal lengths
//   (serve_stepped()).
// - The queue limit is one comparison (Bytes: the byte limit, else slots; the ring bounds both).
template <bool Bytes>
void pipe_model::arrive_plain(int64_t t, const uint32_t *len_bytes, uint32_t n, verdict *out) noexcept
{
    const compiled &c = *_c;
    queued_packet *const slots = _ring._slots.get();
    const size_t mask = _ring._cap - 1;
    size_t head = _head, count = _count;
    uint64_t bytes = _bytes;
    int64_t end = _s.server_end_ns, last = _s.last_depart_ns;
    uint64_t rem = _s.server_rem;
    const uint64_t limit = Bytes ? c.queue_bytes : std::min<uint64_t>(c.queue_slots, _ring._cap);
    const int64_t delay = std::max<int64_t>(c.delay_ns, 0);
    model::rate_step step;
    bool stale = true;
    for (uint32_t i = 0; i < n; i++) {
        const uint32_t len = len_bytes[i];
        if (stale) [[unlikely]]
            pop_ended(slots, mask, head, count, bytes, t);
        if (Bytes ? bytes + len > limit || count == _ring._cap : count >= limit) [[unlikely]] {
            out[i] = {drop_reason::queue, 0};
            stale = false;  // nothing was served: what is queued ends after t, as before
            continue;
        }
        model::serve_stepped(c.rate, t, len, end, rem, step);
        stale = end <= t;
        slots[(head + count) & mask] = queued_packet{end, len};
        count++;
        bytes += len;
        last = std::max(end + delay, last);
        out[i] = {drop_reason::none, last};
    }
    _head = head;
    _count = count;
    _bytes = bytes;
    _s.server_end_ns = end;
    _s.server_rem = rem;
    _s.last_depart_ns = last;
}

// Order, as Dummynet's dn_enqueue: loss, then RED/GRED, then the queue limit (so RED's average also
// moves on arrivals the tail would drop). Every decision uses the queue as it is at the arrival
// instant t: packets whose service ended at or before it are gone.
// Plain: no loss, droptail, no jitter.
template <bool Plain>
inline verdict pipe_model::admit(const compiled &c, burst_state &b, int64_t t, uint32_t len_bytes) noexcept
{
    if (!Plain && model::lose(c.loss, _s.rng, _s.ge_bad))
        return {drop_reason::loss, 0};

    const size_t mask = b.cap - 1;
    pop_ended(b.slots, mask, b.head, b.count, b.bytes, t);

    if (!Plain && c.red.kind != aqm_kind::droptail) {
        const uint64_t q = c.red.bytes ? b.bytes : b.count;
        // Empty since the last service ended (server_end_ns is that end's floor).
        const int64_t idle_ns = t - b.server_end_ns;
        if (model::red_drop(c.red, _s.red_avg_q32, _s.red_count, q, b.count == 0, idle_ns, _s.rng))
            return {drop_reason::red, 0};
    }

    // A byte queue admits a packet only if it fits whole (bytes + len <= limit; Dummynet compares the
    // bytes already queued, letting one packet overshoot). A slot queue counts the one in service.
    const bool full = c.queue_bytes != 0 ? b.bytes + len_bytes > c.queue_bytes : b.count >= c.queue_slots;
    if (full || b.count == b.cap)  // the ring bounds a byte queue of tiny packets
        return {drop_reason::queue, 0};

    model::serve(c.rate, t, len_bytes, b.server_end_ns, b.server_rem);
    b.slots[(b.head + b.count) & mask] = queued_packet{b.server_end_ns, len_bytes};
    b.count++;
    b.bytes += len_bytes;

    int64_t delay = c.delay_ns;
    if (!Plain && c.jitter.scale_ns != 0)
        delay += model::jitter_sample(c.jitter, model::next(_s.rng));
    if (delay < 0)
        delay = 0;  // never before its serialization ends
    const int64_t depart = std::max(b.server_end_ns + delay, b.last_depart_ns);  // never reorders
    b.last_depart_ns = depart;
    return {drop_reason::none, depart};
}

// One packet through the general step (admit<>), never the burst loops: the reference that
// arrive_burst() is tested against.
verdict pipe_model::arrive(int64_t arrival_ns, uint32_t len_bytes) noexcept
{
    const int64_t t = std::max(arrival_ns, _s.last_arrival_ns);
    _s.last_arrival_ns = t;
    burst_state b = load_state();
    const verdict v = plain() ? admit<true>(*_c, b, t, len_bytes) : admit<false>(*_c, b, t, len_bytes);
    store_state(b);
    return v;
}

// The RNG stream and the RED/GE memory carry over (the seed is only read at construction). A new rate
// drops the sub-ns remainder of the current server end: the next service starts at its floor.
// at_ns is not needed: the model has no timers, parameters apply to the arrivals that follow.
bool pipe_model::set_params(const pipe_params &params, int64_t at_ns, queue_storage *spare) noexcept
{
    (void)at_ns;
    const size_t need = queue_capacity_for(params);
    if (need > _ring._cap) {
        if (spare == nullptr || spare->_cap < need)
            return false;
        for (size_t i = 0; i < _count; i++)
            spare->_slots[i] = _ring._slots[(_head + i) & (_ring._cap - 1)];
        std::swap(_ring, *spare);
        _head = 0;
    }
    if (params.rate_bps != _params.rate_bps)
        _s.server_rem = 0;
    _params = params;
    static_cast<model::compiled_params &>(*_c) = model::compile(params);
    return true;
}

occupancy pipe_model::occupancy_at(int64_t t) const noexcept
{
    occupancy o{uint32_t(_count), _bytes};
    const size_t mask = _ring._cap - 1;
    for (size_t i = 0; i < _count; i++) {  // service ends are non-decreasing: gone ones lead
        const queued_packet &p = _ring._slots[(_head + i) & mask];
        if (p.service_end_ns > t)
            break;
        o.packets--;
        o.bytes -= p.len_bytes;
    }
    return o;
}

}  // namespace stasis::dataplane
