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

// Order, as Dummynet's dn_enqueue: loss, then RED/GRED, then the queue limit (so RED's average also
// moves on arrivals the tail would drop). Every decision uses the queue as it is at the arrival
// instant: packets whose service ended at or before it are gone.
verdict pipe_model::arrive(int64_t arrival_ns, uint32_t len_bytes) noexcept
{
    const compiled &c = *_c;
    const int64_t t = std::max(arrival_ns, _s.last_arrival_ns);
    _s.last_arrival_ns = t;

    if (model::lose(c.loss, _s.rng, _s.ge_bad))
        return {drop_reason::loss, 0};

    queued_packet *const slots = _ring._slots.get();
    const size_t mask = _ring._cap - 1;
    while (_count != 0 && slots[_head].service_end_ns <= t) {
        _bytes -= slots[_head].len_bytes;
        _head = (_head + 1) & mask;
        _count--;
    }

    if (c.red.kind != aqm_kind::droptail) {
        const uint64_t q = c.red.bytes ? _bytes : _count;
        // Empty since the last service ended (server_end_ns is that end's floor).
        const int64_t idle_ns = t - _s.server_end_ns;
        if (model::red_drop(c.red, _s.red_avg_q32, _s.red_count, q, _count == 0, idle_ns, _s.rng))
            return {drop_reason::red, 0};
    }

    // A byte queue admits a packet only if it fits whole (bytes + len <= limit; Dummynet compares the
    // bytes already queued, letting one packet overshoot). A slot queue counts the one in service.
    const bool full = c.queue_bytes != 0 ? _bytes + len_bytes > c.queue_bytes : _count >= c.queue_slots;
    if (full || _count == _ring._cap)  // the ring bounds a byte queue of tiny packets
        return {drop_reason::queue, 0};

    model::serve(c.rate, t, len_bytes, _s.server_end_ns, _s.server_rem);
    slots[(_head + _count) & mask] = queued_packet{_s.server_end_ns, len_bytes};
    _count++;
    _bytes += len_bytes;

    int64_t delay = c.delay_ns;
    if (c.jitter.scale_ns != 0)
        delay += model::jitter_sample(c.jitter, model::next(_s.rng));
    if (delay < 0)
        delay = 0;  // never before its serialization ends
    const int64_t depart = std::max(_s.server_end_ns + delay, _s.last_depart_ns);  // never reorders
    _s.last_depart_ns = depart;
    return {drop_reason::none, depart};
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
