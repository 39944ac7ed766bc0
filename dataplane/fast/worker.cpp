// The per-packet loop: RX burst, stamp, model, departure FIFO, TX of everything due. No allocation,
// lock, log line or exception here; the only syscall is the idle sleep, taken when nothing is due.
#include "worker.hpp"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <ctime>
#include <memory>
#include <vector>
#include <sys/prctl.h>

#include <rte_byteorder.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

namespace stasis::dataplane {

namespace {

constexpr int64_t never = INT64_MAX;
// Wake this long before a departure and spin the rest: a sleep on a shared (virtual) machine
// overshoots by tens to a hundred microseconds even with 1 ns timer slack.
constexpr int64_t wake_margin_ns = 250'000;

// Puts the frame on the egress VLAN (or none). `tagged` says whether it carries a tag in its data.
inline bool retag(rte_mbuf *&m, bool tagged, int32_t egress_vlan) noexcept
{
    if (tagged && egress_vlan >= 0) {
        auto *vh = reinterpret_cast<rte_vlan_hdr *>(rte_pktmbuf_mtod(m, rte_ether_hdr *) + 1);
        vh->vlan_tci = rte_cpu_to_be_16(
            uint16_t((rte_be_to_cpu_16(vh->vlan_tci) & 0xf000) | uint16_t(egress_vlan)));
        return true;
    }
    if (tagged)
        return rte_vlan_strip(m) == 0;
    m->ol_flags &= ~(RTE_MBUF_F_RX_VLAN | RTE_MBUF_F_RX_VLAN_STRIPPED);
    if (egress_vlan >= 0) {
        m->vlan_tci = uint16_t(egress_vlan);
        return rte_vlan_insert(&m) == 0;
    }
    return true;
}

// Records the lateness of the n frames at the FIFO's head, all due at `now`, in one or two runs of
// contiguous entries (the ring may wrap). What the pipe's previous drain listed goes into the histogram
// first.
void record_lateness(rt_pipe &pipe, uint32_t n, int64_t now) noexcept
{
    using entry = departure_fifo<rte_mbuf *>::entry;
    static_assert(sizeof(entry) == 16 && offsetof(entry, depart_ns) == 8, "the lateness recording reads every other qword");
    latency_histogram &h = pipe.ctr->lateness;
    pipe.lateness.settle(h);
    if (n == 0)
        return;
    const auto &fifo = pipe.fifo;
    h.note(uint64_t(now - fifo.front().depart_ns));
    const uint32_t first = std::min(n, fifo.contiguous_from(0));
    pipe.lateness.record(h, &fifo.at(0).depart_ns, first, now);
    if (first < n)
        pipe.lateness.record(h, &fifo.at(first).depart_ns, n - first, now);
}

}  // namespace

inline rt_pipe *worker::classify(rt_port &port, rte_mbuf *m, bool &tagged) noexcept
{
    uint16_t vid = untagged_slot;
    tagged = false;
    if (m->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED) {
        vid = m->vlan_tci & 0xfff;
    } else if (rte_pktmbuf_data_len(m) >= sizeof(rte_ether_hdr) + sizeof(rte_vlan_hdr)) {
        const auto *eth = rte_pktmbuf_mtod(m, const rte_ether_hdr *);
        if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_VLAN)) {
            const auto *vh = reinterpret_cast<const rte_vlan_hdr *>(eth + 1);
            vid = rte_be_to_cpu_16(vh->vlan_tci) & 0xfff;
            tagged = true;
        }
    }
    const uint32_t slot = port.vlan_map[vid];
    if (slot == 0) {
        port.ctr->rx_unmatched.add();
        return nullptr;
    }
    return &pipes[slot - 1];
}

// Classifies a burst, then hands each run of frames bound for the same pipe to admit().
void worker::ingress(rt_port &port, rte_mbuf **rx, uint16_t n, int64_t arrival_ns) noexcept
{
    rt_pipe *pipe_of[max_burst];
    rte_mbuf *frames[max_burst];
    uint32_t len[max_burst];
    bool tagged[max_burst];
    uint16_t k = 0;
    for (uint16_t i = 0; i < n; i++) {
        pipe_of[k] = classify(port, rx[i], tagged[k]);
        if (!pipe_of[k]) {
            rte_pktmbuf_free(rx[i]);
            continue;
        }
        frames[k] = rx[i];
        // The link carries the frame as a dedicated link would: without the multiplexing tag.
        len[k] = rte_pktmbuf_pkt_len(rx[i]) - (tagged[k] ? sizeof(rte_vlan_hdr) : 0);
        k++;
    }
    for (uint16_t i = 0; i < k;) {
        uint16_t j = i + 1;
        while (j < k && pipe_of[j] == pipe_of[i])
            j++;
        admit(*pipe_of[i], frames + i, len + i, tagged + i, uint16_t(j - i), arrival_ns);
        i = j;
    }
}

// Runs the model over n frames of one pipe arriving together, and queues those it admits. Counters
// are added once per run.
void worker::admit(rt_pipe &pipe, rte_mbuf **frames, const uint32_t *len, const bool *tagged, uint16_t n,
                   int64_t arrival_ns) noexcept
{
    verdict *const v = _verdicts;
    pipe.model.arrive_burst(arrival_ns, len, n, v);
    uint64_t bytes = 0;
    uint32_t dropped[4] = {};  // by drop_reason; [none] counts the FIFO's drops
    auto fifo = pipe.fifo.begin_push();
    const int32_t egress_vlan = pipe.egress_vlan;
    for (uint16_t i = 0; i < n; i++) {
        bytes += len[i];
        rte_mbuf *m = frames[i];
        if (v[i].drop != drop_reason::none || !retag(m, tagged[i], egress_vlan) ||
            !fifo.push(m, v[i].depart_ns, arrival_ns)) {
            dropped[unsigned(v[i].drop)]++;
            rte_pktmbuf_free(m);
        }
    }
    pipe.fifo.end_push(fifo);
    pipe.ctr->rx_packets.add(n);
    pipe.ctr->rx_bytes.add(bytes);
    if (dropped[unsigned(drop_reason::loss)])
        pipe.ctr->drop_loss.add(dropped[unsigned(drop_reason::loss)]);
    if (dropped[unsigned(drop_reason::queue)])
        pipe.ctr->drop_queue.add(dropped[unsigned(drop_reason::queue)]);
    if (dropped[unsigned(drop_reason::red)])
        pipe.ctr->drop_red.add(dropped[unsigned(drop_reason::red)]);
    if (dropped[unsigned(drop_reason::none)])
        pipe.ctr->drop_fifo.add(dropped[unsigned(drop_reason::none)]);
}

// Sends what is due at `now`, except what departs at or after the freeze instant: `hold_from`
// (the freeze instant, or never) bounds the sends even when the worker notices the freeze late.
uint32_t worker::drain(rt_pipe &pipe, int64_t now, int64_t hold_from, int64_t &next_due) noexcept
{
    rt_port &port = ports[pipe.egress];
    auto &fifo = pipe.fifo;
    const uint32_t room = tx_pending_max - port.n_pending;  // a backed-up port keeps the rest queued, in order
    // The due frames go to the port's pending list as they are found: one pass over the FIFO.
    const int64_t last = std::min(now, hold_from - 1);
    const uint32_t limit = std::min(fifo.size(), room);
    rte_mbuf **out = port.pending.get() + port.n_pending;
    uint64_t bytes = 0;
    uint32_t n = 0;
    for (; n < limit; n++) {
        const auto &e = fifo.at(n);
        if (e.depart_ns > last)
            break;
        out[n] = e.pkt;
        bytes += rte_pktmbuf_pkt_len(e.pkt);
    }
    if (n < fifo.size() && n < room) {
        const int64_t d = fifo.at(n).depart_ns;
        if (d < hold_from)
            next_due = std::min(next_due, d);  // held frames are not due
    }
    record_lateness(pipe, n, now);
    fifo.pop(n);
    port.n_pending = uint16_t(port.n_pending + n);
    if (n) {
        pipe.ctr->tx_packets.add(n);
        pipe.ctr->tx_bytes.add(bytes);
    }
    return n;
}

void worker::flush(rt_port &port) noexcept
{
    if (port.n_pending == 0)
        return;
    const uint16_t n = rte_eth_tx_burst(port.port_id, 0, port.pending.get(), port.n_pending);
    port.ctr->tx_packets.add(n);
    if (n < port.n_pending)
        std::memmove(port.pending.get(), port.pending.get() + n, (port.n_pending - n) * sizeof(rte_mbuf *));
    port.n_pending = uint16_t(port.n_pending - n);
}

void worker::publish_occupancy(int64_t now) noexcept
{
    for (auto &p : pipes) {
        const occupancy o = p.model.occupancy_at(now);
        p.ctr->queue_packets.set(o.packets);
        p.ctr->queue_bytes.set(o.bytes);
        p.ctr->fifo_packets.set(p.fifo.size());
    }
}

// Returns false when the worker must stop.
bool worker::poll_commands(int64_t now) noexcept
{
    command *c;
    bool go_on = true;
    while (inbox.pop(c)) {
        switch (c->kind) {
        case command_kind::set_params: {
            if (c->pipe >= pipes.size()) {
                c->ok = false;
                break;
            }
            rt_pipe &p = pipes[c->pipe];
            c->ok = p.model.set_params(c->params, std::max(c->at_ns, now), &c->spare);
            if (c->ok && c->fifo_spare.capacity() > p.fifo.capacity())
                p.fifo.grow_into(c->fifo_spare);
            break;
        }
        case command_kind::stop:
            c->ok = true;
            go_on = false;
            break;
        case command_kind::park:
            c->ok = true;
            done.push(c);
            park();
            continue;
        case command_kind::unpark:
            c->ok = false;  // not parked
            break;
        }
        done.push(c);
    }
    return go_on;
}

// Parked, the worker touches nothing of its own but the command queue, so that the control thread may
// read and change pipes and FIFOs (snapshots, thaw) until it sends `unpark`. The queue's release and
// acquire order the control thread's changes before the worker's next turn.
void worker::park() noexcept
{
    for (auto &p : pipes)
        p.lateness.settle(p.ctr->lateness);  // the control thread may read the counters now
    for (;;) {
        command *c;
        if (inbox.pop(c)) {
            const bool leave = c->kind == command_kind::unpark;
            c->ok = leave;
            done.push(c);
            if (leave)
                return;
        }
        timespec ts{0, 20'000};
        nanosleep(&ts, nullptr);
    }
}

void worker::idle_wait(int64_t now, int64_t next_due) noexcept
{
    int64_t ns = _opt.idle_sleep_ns;
    if (next_due != never)
        ns = std::min(ns, next_due - now - wake_margin_ns);
    if (ns < 2'000)
        return;  // too close to a departure to sleep: keep polling
    timespec ts{0, long(ns)};
    nanosleep(&ts, nullptr);
}

int worker::run() noexcept
{
    // The default 50 us timer slack would be added to every idle sleep.
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    if (_opt.forward_only) {
        switch (_opt.hold) {
        case worker_options::hold_kind::none:
            forward_loop();
            break;
        case worker_options::hold_kind::mbufs:
            hold_mbufs_loop();
            break;
        case worker_options::hold_kind::copies:
            hold_copies_loop();
            break;
        }
        return 0;
    }
    uint32_t idle = 0;
    for (uint64_t turn = 1;; turn++) {
        bool busy = false;
        for (auto &port : ports) {
            port.n_rx = rte_eth_rx_burst(port.port_id, 0, port.rx.get(), _opt.burst);
            busy |= port.n_rx != 0;
        }
        if (busy) {
            // One stamp for the turn's arrivals, read once every port has been polled: a clock read
            // costs as much as the model for a few frames.
            const int64_t t = _clock.now_ns();
            for (auto &port : ports) {
                if (port.n_rx == 0)
                    continue;
                port.ctr->rx_packets.add(port.n_rx);
                ingress(port, port.rx.get(), port.n_rx, t);
            }
        }
        const int64_t now = _clock.now_ns();
        const int64_t hold_from = _hold_from->load(std::memory_order_relaxed);
        if (now >= hold_from && _noticed_ns.load(std::memory_order_relaxed) == never)
            _noticed_ns.store(now, std::memory_order_relaxed);
        int64_t next_due = never;
        for (auto &pipe : pipes)
            busy |= drain(pipe, now, hold_from, next_due) != 0;
        for (auto &port : ports)
            flush(port);

        if (turn % _opt.command_poll_turns == 0) {
            _turns.store(turn, std::memory_order_relaxed);
            publish_occupancy(now);
            if (!poll_commands(now))
                break;
        }
        if (busy) {
            idle = 0;
        } else if (++idle >= _opt.idle_turns && _opt.idle_sleep_ns > 0) {
            // A scheduled freeze is an event too: be awake when it comes, to report it on time.
            idle_wait(now, hold_from > now ? std::min(next_due, hold_from) : next_due);
        }
    }
    for (auto &port : ports)
        flush(port);
    for (auto &p : pipes)
        p.lateness.settle(p.ctr->lateness);
    return 0;
}

// The benchmark's baseline: the daemon's own loop with the emulation taken out. Frames are classified
// to their link and retagged exactly as in ingress(), then sent at once: no model, no delay line.
void worker::forward_loop() noexcept
{
    rte_mbuf *rx[max_burst];
    for (uint64_t turn = 1;; turn++) {
        for (auto &port : ports) {
            const uint16_t n = rte_eth_rx_burst(port.port_id, 0, rx, _opt.burst);
            if (n == 0)
                continue;
            port.ctr->rx_packets.add(n);
            for (uint16_t i = 0; i < n; i++) {
                rte_mbuf *m = rx[i];
                bool tagged = false;
                rt_pipe *pipe = classify(port, m, tagged);
                rt_port &out = ports[pipe ? pipe->egress : 0];
                if (!pipe || !retag(m, tagged, pipe->egress_vlan) || out.n_pending == tx_pending_max) {
                    rte_pktmbuf_free(m);
                    continue;
                }
                pipe->ctr->rx_packets.add();
                pipe->ctr->rx_bytes.add(rte_pktmbuf_pkt_len(m));
                out.pending[out.n_pending++] = m;
            }
        }
        for (auto &port : ports)
            flush(port);
        if (turn % _opt.command_poll_turns == 0) {
            _turns.store(turn, std::memory_order_relaxed);
            if (!poll_commands(_clock.now_ns()))
                break;
        }
    }
}

// The floors' rings: as many slots as the largest departure FIFO (the daemon's own sizing rule).
uint64_t worker::floor_ring_slots() const noexcept
{
    uint64_t n = 1024;
    for (const auto &p : pipes)
        n = std::max<uint64_t>(n, p.fifo.capacity());
    return n;
}

// The floors' loop: forward_loop()'s classify and retag, then `keep(m, egress, now)` takes each frame
// (false: it did not, and the frame is freed) and `send(port, now)` queues what is due on a port for
// its flush. Arrivals are stamped as in run(), once every port has been polled.
template <typename Keep, typename Send>
void worker::floor_loop(Keep &&keep, Send &&send) noexcept
{
    for (uint64_t turn = 1;; turn++) {
        for (auto &port : ports)
            port.n_rx = rte_eth_rx_burst(port.port_id, 0, port.rx.get(), _opt.burst);
        const int64_t now = _clock.now_ns();
        for (auto &port : ports) {
            for (uint16_t i = 0; i < port.n_rx; i++) {
                rte_mbuf *m = port.rx[i];
                bool tagged = false;
                rt_pipe *pipe = classify(port, m, tagged);
                if (!pipe || !retag(m, tagged, pipe->egress_vlan) || !keep(m, pipe->egress, now))
                    rte_pktmbuf_free(m);
            }
        }
        for (size_t p = 0; p < ports.size(); p++) {
            send(p, now);
            flush(ports[p]);
        }
        if (turn % _opt.command_poll_turns == 0) {
            _turns.store(turn, std::memory_order_relaxed);
            if (!poll_commands(now))
                return;
        }
    }
}

// The benchmark's first floor: forward_loop() with each frame held hold_ns in a plain ring of its egress
// port before it is sent. The least a delay line that holds the frames' mbufs can cost: what the
// emulated link does on top of it (the model, per-pipe runs, counters, the lateness histogram) is
// what separates the two in the benchmark's table. Its rings are allocated here, not per frame.
void worker::hold_mbufs_loop() noexcept
{
    struct held {
        rte_mbuf *m;
        int64_t due;
    };
    const uint64_t ring = floor_ring_slots(), mask = ring - 1;
    std::vector<std::unique_ptr<held[]>> q;
    std::vector<uint64_t> head(ports.size()), tail(ports.size());
    for (size_t i = 0; i < ports.size(); i++)
        q.push_back(std::make_unique<held[]>(ring));
    const int64_t hold = _opt.hold_ns;
    floor_loop(
        [&](rte_mbuf *m, uint16_t e, int64_t now) {
            if (tail[e] - head[e] == ring)
                return false;
            q[e][tail[e]++ & mask] = held{m, now + hold};
            return true;
        },
        [&](size_t p, int64_t now) {
            rt_port &out = ports[p];
            while (head[p] != tail[p] && out.n_pending < tx_pending_max && q[p][head[p] & mask].due <= now)
                out.pending[out.n_pending++] = q[p][head[p]++ & mask].m;
        });
    for (size_t p = 0; p < ports.size(); p++)
        for (; head[p] != tail[p]; head[p]++)
            rte_pktmbuf_free(q[p][head[p] & mask].m);
}

// The second floor: forward_loop() with frames of up to 64 bytes copied into a ring of 64-byte slots
// (the departure instant and length in rings beside it) and their mbufs kept in a stash, from which
// each departure takes the mbuf it is copied back into: the delay line holds 64 bytes a frame in
// sequential slots instead of three scattered lines of an mbuf.
void worker::hold_copies_loop() noexcept
{
    struct alignas(64) slot {
        uint8_t data[64];
    };
    const uint64_t ring = floor_ring_slots(), mask = ring - 1;
    std::vector<std::unique_ptr<slot[]>> q;
    std::vector<std::unique_ptr<int64_t[]>> due;
    std::vector<std::unique_ptr<uint16_t[]>> lens;
    std::vector<uint64_t> head(ports.size()), tail(ports.size());
    for (size_t i = 0; i < ports.size(); i++) {
        q.push_back(std::make_unique<slot[]>(ring));
        due.push_back(std::make_unique<int64_t[]>(ring));
        lens.push_back(std::make_unique<uint16_t[]>(ring));
    }
    constexpr uint32_t stash_max = 2048;
    rte_mbuf *stash[stash_max];
    uint32_t n_stash = 0;
    rte_mempool *pool = nullptr;
    const int64_t hold = _opt.hold_ns;
    floor_loop(
        [&](rte_mbuf *m, uint16_t e, int64_t now) {
            if (tail[e] - head[e] == ring || m->data_len > 64 || m->nb_segs != 1 || m->data_off + 64u > m->buf_len)
                return false;
            const uint64_t k = tail[e]++ & mask;
            std::memcpy(q[e][k].data, rte_pktmbuf_mtod(m, const uint8_t *), 64);
            due[e][k] = now + hold;
            lens[e][k] = m->data_len;
            pool = m->pool;
            if (n_stash == stash_max)
                return false;  // copied: the frame is freed, its bytes wait
            stash[n_stash++] = m;
            return true;
        },
        [&](size_t p, int64_t now) {
            rt_port &out = ports[p];
            while (head[p] != tail[p] && out.n_pending < tx_pending_max && due[p][head[p] & mask] <= now) {
                if (n_stash == 0) {
                    if (!pool || rte_pktmbuf_alloc_bulk(pool, stash, 32) != 0)
                        break;
                    n_stash = 32;
                }
                rte_mbuf *m = stash[--n_stash];
                const uint64_t k = head[p]++ & mask;
                m->data_off = RTE_PKTMBUF_HEADROOM;
                m->data_len = lens[p][k];
                m->pkt_len = lens[p][k];
                std::memcpy(rte_pktmbuf_mtod(m, uint8_t *), q[p][k].data, 64);
                out.pending[out.n_pending++] = m;
            }
        });
    for (uint32_t i = 0; i < n_stash; i++)
        rte_pktmbuf_free(stash[i]);
}

}  // namespace stasis::dataplane
