// A worker lcore: owns some ports and every link on them, and runs the per-packet loop.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "command.hpp"
#include "counters.hpp"
#include "departure_fifo.hpp"
#include "node_clock.hpp"
#include "stasis/dataplane/pipe_model.hpp"

struct rte_mbuf;

namespace stasis::dataplane {

constexpr uint16_t untagged_slot = 4096;  // vlan_map index of frames without an 802.1Q tag
constexpr uint16_t max_burst = 512;
constexpr uint16_t tx_pending_max = 1024;

// One direction of a link as the runtime holds it: the model, its departure FIFO, where it leaves.
struct rt_pipe {
    explicit rt_pipe(const pipe_params &p) : model(p), fifo(fifo_capacity_for(p)) {}
    pipe_model model;
    departure_fifo<rte_mbuf *> fifo;
    uint16_t egress = 0;      // index into the worker's ports
    int32_t egress_vlan = -1; // -1: untagged
    std::unique_ptr<pipe_counters> ctr = std::make_unique<pipe_counters>();
    lateness_log lateness;  // its drains' lateness, into ctr->lateness a drain later
};

struct rt_port {
    uint16_t port_id = 0;
    // vlan id (or untagged_slot) -> 1 + index of the pipe that receives it; 0: no link
    std::unique_ptr<uint32_t[]> vlan_map = std::make_unique<uint32_t[]>(untagged_slot + 1);
    std::unique_ptr<rte_mbuf *[]> rx = std::make_unique<rte_mbuf *[]>(max_burst);  // this turn's burst
    uint16_t n_rx = 0;
    std::unique_ptr<rte_mbuf *[]> pending = std::make_unique<rte_mbuf *[]>(tx_pending_max);
    uint16_t n_pending = 0;
    std::unique_ptr<port_counters> ctr = std::make_unique<port_counters>();
};

struct worker_options {
    uint16_t burst = 32;
    int64_t idle_sleep_ns = 50'000;  // 0: always busy-poll
    uint32_t idle_turns = 256;
    uint32_t command_poll_turns = 64;
    bool forward_only = false;       // classify and send at once, no emulation: the benchmark's baseline
    // With forward_only, the benchmark's floors: every frame held hold_ns before it is sent, and nothing
    // else done (no model, no counters, no histogram). `mbufs`: the frames' mbufs wait in a ring, as in
    // the daemon; `copies`: frames of up to 64 bytes are copied into a ring of 64-byte slots and copied
    // back into recycled mbufs when they leave.
    enum class hold_kind : uint8_t { none, mbufs, copies };
    hold_kind hold = hold_kind::none;
    int64_t hold_ns = 0;
};

class worker {
public:
    // `hold_from` is the daemon's freeze instant (INT64_MAX: not frozen), shared by every worker and
    // read once a turn; it must outlive the worker.
    worker(unsigned lcore, const node_clock &clock, worker_options opt, const std::atomic<int64_t> *hold_from)
        : _lcore(lcore), _clock(clock), _opt(opt), _hold_from(hold_from) {}

    unsigned lcore() const noexcept { return _lcore; }
    std::vector<rt_port> ports;
    std::vector<rt_pipe> pipes;
    command_queue inbox, done;

    // The loop; returns when a stop command arrives. Runs on the worker's lcore.
    int run() noexcept;
    static int launch(void *self) { return static_cast<worker *>(self)->run(); }

    uint64_t turns() const noexcept { return _turns.load(std::memory_order_relaxed); }
    // The first instant this worker's loop saw the clock at or past the freeze instant (INT64_MAX:
    // not yet). Reset by the control thread while the worker is parked.
    int64_t noticed_ns() const noexcept { return _noticed_ns.load(std::memory_order_relaxed); }
    void reset_noticed() noexcept { _noticed_ns.store(INT64_MAX, std::memory_order_relaxed); }

private:
    // The pipe a frame belongs to (nullptr: none, counted), and whether its tag is in its data.
    [[gnu::always_inline]] inline rt_pipe *classify(rt_port &port, rte_mbuf *m, bool &tagged) noexcept;
    void ingress(rt_port &port, rte_mbuf **rx, uint16_t n, int64_t arrival_ns) noexcept;
    void admit(rt_pipe &pipe, rte_mbuf **frames, const uint32_t *len, const bool *tagged, uint16_t n,
               int64_t arrival_ns) noexcept;
    uint32_t drain(rt_pipe &pipe, int64_t now, int64_t hold_from, int64_t &next_due) noexcept;
    void park() noexcept;
    void flush(rt_port &port) noexcept;
    bool poll_commands(int64_t now) noexcept;
    void publish_occupancy(int64_t now) noexcept;
    void idle_wait(int64_t now, int64_t next_due) noexcept;
    void forward_loop() noexcept;
    uint64_t floor_ring_slots() const noexcept;
    template <typename Keep, typename Send>
    void floor_loop(Keep &&keep, Send &&send) noexcept;
    void hold_mbufs_loop() noexcept;
    void hold_copies_loop() noexcept;

    unsigned _lcore;
    node_clock _clock;
    worker_options _opt;
    std::atomic<uint64_t> _turns{0};
    const std::atomic<int64_t> *_hold_from;
    std::atomic<int64_t> _noticed_ns{INT64_MAX};
    verdict _verdicts[max_burst];  // admit()'s scratch: a member, not reinitialized on every call
};

}  // namespace stasis::dataplane
