// The replay loop: arrivals in file order, departures released in order before each later arrival.
#include "stasis/replay/replay.hpp"

#include <pcap/pcap.h>

#include <deque>
#include <limits>

#include "freeze.hpp"

namespace stasis::replay {

namespace {

class replay_run {
public:
    replay_run(const replay_options &o, replay_observer *obs)
        : _o(o), _obs(obs), _in(o.in_path), _out(o.out_path, DLT_EN10MB, _in.snaplen()), _model(o.params)
    {
    }

    replay_summary run();

private:
    void arrive(const pcap_record &r);
    void release_until(int64_t t);  // writes every held packet departing at or before t
    void checkpoint();
    void note(const pcap_record &r);

    const replay_options &_o;
    replay_observer *_obs;
    pcap_reader _in;
    pcap_writer _out;
    dataplane::pipe_model _model;
    std::deque<held_packet> _held;
    std::optional<int64_t> _freeze_ns;  // pending checkpoint
    int64_t _shift_ns = 0;              // the pause, once resumed
    replay_summary _sum;
};

replay_summary replay_run::run()
{
    pcap_record r;
    while (_in.next(r)) {
        note(r);
        if (_freeze_ns && r.ts_ns >= *_freeze_ns)
            checkpoint();
        arrive(r);
    }
    if (_sum.packets_in == 0)
        throw replay_error(_o.in_path + ": no packets");
    if (_freeze_ns)  // the instant comes after the last arrival: packets may still be in flight
        checkpoint();
    release_until(std::numeric_limits<int64_t>::max());
    _out.commit();
    return _sum;
}

void replay_run::note(const pcap_record &r)
{
    if (_sum.packets_in == 0) {
        _sum.first_arrival_ns = r.ts_ns;
        if (_o.checkpoint_after_ns)
            _freeze_ns = r.ts_ns + *_o.checkpoint_after_ns;
    } else if (r.ts_ns < _sum.last_arrival_ns) {
        throw replay_error(_o.in_path + ": packet " + std::to_string(r.number) + " (offset " +
                           std::to_string(r.offset) + "): timestamp " + std::to_string(r.ts_ns) +
                           " ns goes back " + std::to_string(_sum.last_arrival_ns - r.ts_ns) +
                           " ns before packet " + std::to_string(r.number - 1) +
                           "'s; replay needs a capture in time order");
    }
    _sum.last_arrival_ns = r.ts_ns;
    _sum.packets_in++;
    _sum.bytes_in += r.len;
}

void replay_run::arrive(const pcap_record &r)
{
    const int64_t t = r.ts_ns + _shift_ns;
    release_until(t);
    const dataplane::occupancy queue = _model.occupancy_at(t);
    const dataplane::verdict v = _model.arrive(t, r.len);
    if (_obs)
        _obs->on_arrival({r.number, r.ts_ns, r.len, r.caplen, v.drop, queue});
    if (v.drop != dataplane::drop_reason::none)
        return;
    _held.push_back({v.depart_ns, r.ts_ns, r.number, r.len, std::vector<uint8_t>(r.data, r.data + r.caplen)});
    _sum.max_in_flight = std::max(_sum.max_in_flight, _held.size());
}

void replay_run::release_until(int64_t t)
{
    while (!_held.empty() && _held.front().depart_ns <= t) {
        const held_packet &h = _held.front();
        _out.write(h.depart_ns, h.len, h.bytes);
        _sum.packets_out++;
        _sum.bytes_out += h.len;
        if (_obs) {
            // Departures after the resume are all at or after freeze + pause, earlier ones before the
            // freeze: experiment time is the written time with the pause taken out.
            const bool after = _sum.checkpoint && h.depart_ns >= _sum.checkpoint->freeze_ns;
            const int64_t experiment_ns = after ? h.depart_ns - _shift_ns : h.depart_ns;
            _obs->on_departure({h.number, h.arrival_ns, h.len, experiment_ns, h.depart_ns});
        }
        _held.pop_front();
    }
}

// Departures before the freeze instant leave; the rest is frozen, restored from bytes, and resumes the
// pause later: every later instant (held departures, arrivals) moves by the pause.
void replay_run::checkpoint()
{
    const int64_t freeze = *_freeze_ns;
    _freeze_ns.reset();
    release_until(freeze - 1);
    checkpoint_info info;
    info.freeze_ns = freeze;
    info.pause_ns = _o.pause_ns;
    info.held_packets = _held.size();
    for (const held_packet &h : _held)
        info.held_bytes += h.len;
    info.image_bytes = freeze_and_resume(_model, _held, _o.params, _o.pause_ns);
    _shift_ns = _o.pause_ns;
    _sum.checkpoint = info;
    if (_obs)
        _obs->on_checkpoint(info);
}

}  // namespace

replay_summary run_replay(const replay_options &options, replay_observer *observer)
{
    replay_run run(options, observer);
    return run.run();
}

}  // namespace stasis::replay
