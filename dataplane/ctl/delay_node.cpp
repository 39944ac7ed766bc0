// Planning links onto workers, starting and stopping them, and applying runtime changes.
#include "delay_node.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <thread>

#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "eal.hpp"
#include "ports.hpp"

namespace stasis::dataplane {

namespace {

constexpr uint16_t rx_desc = 1024, tx_desc = 1024;
constexpr uint32_t default_mbuf_cap = 131071;

std::vector<unsigned> choose_lcores(const daemon_config &cfg, std::vector<std::string> &errors)
{
    std::vector<unsigned> lcores;
    if (cfg.worker_lcores.empty()) {
        unsigned l;
        RTE_LCORE_FOREACH_WORKER(l) lcores.push_back(l);
        if (lcores.empty())
            errors.push_back("no worker lcore: give EAL at least two lcores (e.g. -l 0,1); the main "
                             "lcore serves the control socket");
        return lcores;
    }
    for (unsigned l : cfg.worker_lcores) {
        if (l >= RTE_MAX_LCORE || !rte_lcore_is_enabled(l))
            errors.push_back("daemon.worker_lcores: lcore " + std::to_string(l) +
                             " is not enabled in EAL (see -l/--lcores)");
        else if (l == rte_get_main_lcore())
            errors.push_back("daemon.worker_lcores: lcore " + std::to_string(l) +
                             " is the main lcore, which serves the control socket");
        else
            lcores.push_back(l);
    }
    return lcores;
}

// Links that share a port must share a worker (a port has one RX and one TX queue, owned by one
// worker): the ports of a worker are a connected component of the port graph.
struct port_groups {
    std::map<uint16_t, uint16_t> parent;
    uint16_t find(uint16_t p) {
        auto [it, fresh] = parent.try_emplace(p, p);
        if (fresh || it->second == p)
            return p;
        return it->second = find(it->second);
    }
    void join(uint16_t a, uint16_t b) { parent[find(a)] = find(b); }
};

std::string join_lines(const std::vector<std::string> &v)
{
    std::string s;
    for (const auto &e : v)
        s += (s.empty() ? "" : "\n") + e;
    return s;
}

}  // namespace

delay_node::delay_node(const daemon_config &cfg, const node_clock &clock, const worker_options &opt)
    : _cfg(cfg), _clock(clock), _opt(opt)
{
    std::vector<std::string> errors;
    const std::vector<unsigned> lcores = choose_lcores(cfg, errors);

    struct ends {
        uint16_t a = 0, b = 0;
    };
    std::vector<ends> resolved(cfg.links.size());
    for (size_t i = 0; i < cfg.links.size(); i++) {
        const link_config &l = cfg.links[i];
        auto a = find_port(l.a.port), b = find_port(l.b.port);
        if (!a)
            errors.push_back(l.a.where + ": " + a.error());
        if (!b)
            errors.push_back(l.b.where + ": " + b.error());
        if (a && b) {
            resolved[i] = {*a, *b};
            if (*a == *b && l.a.vlan == l.b.vlan)
                errors.push_back(l.where + ": both ends are the same port and VLAN");
        }
    }
    if (cfg.links.empty())
        errors.push_back("the configuration has no link");
    if (!errors.empty())
        throw startup_error(join_lines(errors));

    port_groups groups;
    for (const auto &e : resolved)
        groups.join(e.a, e.b);

    // Each group goes to the least loaded worker (by links), in configuration order.
    for (unsigned l : lcores)
        _workers.push_back(std::make_unique<worker>(l, _clock, _opt, &_hold_from));
    std::map<uint16_t, size_t> group_worker;
    std::vector<size_t> load(_workers.size(), 0);
    std::vector<std::map<uint16_t, uint16_t>> port_index(_workers.size());
    for (size_t i = 0; i < cfg.links.size(); i++) {
        const link_config &l = cfg.links[i];
        const uint16_t g = groups.find(resolved[i].a);
        auto it = group_worker.find(g);
        if (it == group_worker.end())
            it = group_worker.emplace(g, size_t(std::min_element(load.begin(), load.end()) - load.begin())).first;
        const size_t w = it->second;
        load[w]++;
        worker &wk = *_workers[w];
        auto port_at = [&](uint16_t id) -> uint16_t {
            auto [pi, fresh] = port_index[w].try_emplace(id, uint16_t(wk.ports.size()));
            if (fresh) {
                wk.ports.emplace_back();
                wk.ports.back().port_id = id;
                _port_ids.push_back(id);
            }
            return pi->second;
        };
        const uint16_t pa = port_at(resolved[i].a), pb = port_at(resolved[i].b);
        auto add_pipe = [&](const pipe_params &p, uint16_t in, const endpoint &from, uint16_t out,
                            const endpoint &to) {
            const uint32_t idx = uint32_t(wk.pipes.size());
            wk.pipes.emplace_back(p);
            wk.pipes.back().egress = out;
            wk.pipes.back().egress_vlan = to.vlan ? int32_t(*to.vlan) : -1;
            uint32_t &slot = wk.ports[in].vlan_map[from.vlan ? *from.vlan : untagged_slot];
            if (slot != 0)
                errors.push_back(from.where + ": port '" + from.port + "' " +
                                 (from.vlan ? "VLAN " + std::to_string(*from.vlan) : "untagged") +
                                 " already carries another link");
            slot = idx + 1;
            return idx;
        };
        link_slot s;
        s.applied = l;
        s.worker = w;
        s.pipe_ab = add_pipe(l.a_to_b, pa, l.a, pb, l.b);
        s.pipe_ba = add_pipe(l.b_to_a, pb, l.b, pa, l.a);
        _links.push_back(std::move(s));
    }
    if (!errors.empty())
        throw startup_error(join_lines(errors));
}

delay_node::~delay_node()
{
    stop();
}

void delay_node::start()
{
    uint64_t need = 4096;
    for (const auto &w : _workers)
        for (const auto &p : w->pipes)
            need += p.fifo.capacity();
    need += uint64_t(_port_ids.size()) * (rx_desc + tx_desc + tx_pending_max);
    uint32_t n = _cfg.mbufs ? _cfg.mbufs : uint32_t(std::min<uint64_t>(need, default_mbuf_cap));
    // The pool is sized for every delay line full of mbufs, but a line holds what its link has in flight,
    // often far less. A stack hands out the mbufs freed last, so the mbufs in use stay those few, in the
    // cache and the TLB, where a ring (the default) cycles through all of them. The lcores' caches in
    // front of it take the stack's lock once per burst, not once per mbuf. If EAL did not load the
    // stack driver (librte_mempool_stack), the default ring does the same job, a little slower.
    _pool = rte_pktmbuf_pool_create_by_ops("stasis_mbufs", n, RTE_MEMPOOL_CACHE_MAX_SIZE, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                           int(rte_socket_id()), "stack");
    if (!_pool)
        _pool = rte_pktmbuf_pool_create("stasis_mbufs", n, RTE_MEMPOOL_CACHE_MAX_SIZE, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                        int(rte_socket_id()));
    if (!_pool)
        throw startup_error("cannot allocate " + std::to_string(n) + " mbufs: " + rte_error_text(rte_errno) +
                            " (more hugepages, EAL -m, or a smaller daemon.mbufs)");
    for (uint16_t id : _port_ids) {
        auto r = start_port(id, _pool, rx_desc, tx_desc);
        if (!r)
            throw startup_error(r.error());
    }
    for (auto &w : _workers) {
        const int rc = rte_eal_remote_launch(worker::launch, w.get(), w->lcore());
        if (rc != 0)
            throw startup_error("cannot launch a worker on lcore " + std::to_string(w->lcore()) + ": " +
                                rte_error_text(rc));
    }
    _running = true;
}

void delay_node::stop()
{
    if (_running) {
        for (size_t i = 0; i < _workers.size(); i++) {
            auto c = std::make_unique<command>();
            c->kind = command_kind::stop;
            (void)send(i, std::move(c));
        }
        for (auto &w : _workers)
            rte_eal_wait_lcore(w->lcore());
        _running = false;
    }
    for (uint16_t id : _port_ids)
        stop_port(id);
    for (auto &w : _workers) {
        for (auto &p : w->pipes)
            for (; !p.fifo.empty(); p.fifo.pop())
                rte_pktmbuf_free(p.fifo.front().pkt);
        for (auto &port : w->ports)
            for (; port.n_pending > 0; port.n_pending--)
                rte_pktmbuf_free(port.pending[port.n_pending - 1]);
    }
    if (_pool) {
        rte_mempool_free(_pool);
        _pool = nullptr;
    }
}

link_slot *delay_node::slot_named(const std::string &name)
{
    for (auto &l : _links)
        if (l.applied.name == name)
            return &l;
    return nullptr;
}

const link_slot *delay_node::find(const std::string &name) const
{
    return const_cast<delay_node *>(this)->slot_named(name);
}

std::expected<void, op_error> delay_node::send(size_t w, std::unique_ptr<command> c)
{
    worker &wk = *_workers[w];
    command *raw = c.get();
    if (!wk.inbox.push(raw))
        return std::unexpected(op_error{op_error::kind::failed, "the worker's command queue is full"});
    c.release();  // the worker holds it until it comes back through `done`
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    command *back = nullptr;
    while (!wk.done.pop(back)) {
        if (std::chrono::steady_clock::now() > deadline)
            return std::unexpected(op_error{op_error::kind::failed,
                                            "worker on lcore " + std::to_string(wk.lcore()) + " did not answer in 2 s"});
        std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
    std::unique_ptr<command> owned(back);  // frees any storage the worker swapped out
    if (!back->ok)
        return std::unexpected(op_error{op_error::kind::failed, "the worker refused the command"});
    return {};
}

std::expected<void, op_error> delay_node::set_link(const std::string &name, direction dir,
                                                   const pipe_params &ab, const pipe_params &ba)
{
    link_slot *l = slot_named(name);
    if (!l)
        return std::unexpected(op_error{op_error::kind::not_found, "no link named '" + name + "'"});
    auto apply = [&](uint32_t pipe, const pipe_params &old_p, const pipe_params &p) -> std::expected<void, op_error> {
        auto c = std::make_unique<command>();
        c->kind = command_kind::set_params;
        c->pipe = pipe;
        c->params = p;
        c->at_ns = _clock.now_ns();
        if (pipe_model::queue_capacity_for(p) > pipe_model::queue_capacity_for(old_p))
            c->spare = queue_storage(pipe_model::queue_capacity_for(p));
        if (fifo_capacity_for(p) > _workers[l->worker]->pipes[pipe].fifo.capacity())
            c->fifo_spare = departure_fifo<rte_mbuf *>(fifo_capacity_for(p));
        return send(l->worker, std::move(c));
    };
    if (dir != direction::b_to_a) {
        if (auto r = apply(l->pipe_ab, l->applied.a_to_b, ab); !r)
            return r;
        l->applied.a_to_b = ab;
    }
    if (dir != direction::a_to_b) {
        if (auto r = apply(l->pipe_ba, l->applied.b_to_a, ba); !r)
            return r;
        l->applied.b_to_a = ba;
    }
    return {};
}

std::expected<void, op_error> delay_node::park_all()
{
    for (size_t i = 0; i < _workers.size(); i++) {
        auto c = std::make_unique<command>();
        c->kind = command_kind::park;
        if (auto r = send(i, std::move(c)); !r) {
            for (size_t j = 0; j < i; j++) {
                auto u = std::make_unique<command>();
                u->kind = command_kind::unpark;
                (void)send(j, std::move(u));
            }
            return r;
        }
    }
    return {};
}

void delay_node::unpark_all()
{
    for (size_t i = 0; i < _workers.size(); i++) {
        auto c = std::make_unique<command>();
        c->kind = command_kind::unpark;
        (void)send(i, std::move(c));
    }
}

std::expected<int64_t, op_error> delay_node::freeze(int64_t at_ns)
{
    constexpr int64_t guard_ns = 200'000;
    const int64_t now = _clock.now_ns();
    if (frozen())
        return std::unexpected(op_error{op_error::kind::invalid,
                                        "already frozen at " + std::to_string(_hold_from.load()) + "; thaw first"});
    if (at_ns == 0)
        at_ns = now + guard_ns;
    else if (at_ns <= now)
        return std::unexpected(op_error{op_error::kind::invalid,
                                        "the freeze instant " + std::to_string(at_ns) + " is " +
                                            std::to_string(now - at_ns) +
                                            " ns in the past: frames may already have left after it"});
    for (auto &w : _workers)
        w->reset_noticed();
    _hold_from.store(at_ns, std::memory_order_relaxed);
    return at_ns;
}

std::expected<freeze_report, op_error> delay_node::freeze_status()
{
    if (!frozen())
        return std::unexpected(op_error{op_error::kind::invalid, "not frozen"});
    freeze_report r;
    r.freeze_ns = _hold_from.load(std::memory_order_relaxed);
    r.reached = _clock.now_ns() >= r.freeze_ns;
    if (auto p = park_all(); !p)
        return std::unexpected(p.error());
    for (const auto &w : _workers)
        r.workers.push_back({w->lcore(), w->noticed_ns()});
    for (const auto &l : _links) {
        auto &h = r.links.emplace_back();
        h.link = l.applied.name;
        const auto &w = *_workers[l.worker];
        for (bool ab : {true, false}) {
            const auto &fifo = w.pipes[ab ? l.pipe_ab : l.pipe_ba].fifo;
            uint64_t bytes = 0;
            for (uint32_t i = 0; i < fifo.size(); i++)
                bytes += rte_pktmbuf_pkt_len(fifo.at(i).pkt);
            (ab ? h.packets_ab : h.packets_ba) = fifo.size();
            (ab ? h.bytes_ab : h.bytes_ba) = bytes;
        }
    }
    unpark_all();
    return r;
}

std::expected<int64_t, op_error> delay_node::thaw(int64_t at_ns)
{
    constexpr int64_t guard_ns = 1'000'000;
    if (!frozen())
        return std::unexpected(op_error{op_error::kind::invalid, "not frozen"});
    const int64_t now = _clock.now_ns();
    const int64_t f = _hold_from.load(std::memory_order_relaxed);
    if (now < f) {  // a scheduled freeze that has not happened: cancel it, nothing was held
        _hold_from.store(INT64_MAX, std::memory_order_relaxed);
        return now;
    }
    if (at_ns == 0)
        at_ns = std::max(now, f) + guard_ns;
    else if (at_ns <= now)
        return std::unexpected(op_error{op_error::kind::invalid,
                                        "the resume instant " + std::to_string(at_ns) + " is in the past"});
    if (at_ns < f)
        return std::unexpected(op_error{op_error::kind::invalid, "the resume instant is before the freeze instant"});
    if (auto p = park_all(); !p)
        return std::unexpected(p.error());
    const int64_t delta = at_ns - f;
    for (auto &w : _workers) {
        for (auto &p : w->pipes) {
            p.fifo.shift(delta);
            p.model.shift(delta);
        }
        w->reset_noticed();
    }
    _hold_from.store(INT64_MAX, std::memory_order_relaxed);
    unpark_all();
    return at_ns;
}

const pipe_counters &delay_node::counters(const link_slot &l, bool a_to_b) const
{
    return *_workers[l.worker]->pipes[a_to_b ? l.pipe_ab : l.pipe_ba].ctr;
}

const port_counters &delay_node::counters_of_port(uint16_t port_id) const
{
    for (const auto &w : _workers)
        for (const auto &p : w->ports)
            if (p.port_id == port_id)
                return *p.ctr;
    static const port_counters none;
    return none;
}

}  // namespace stasis::dataplane
