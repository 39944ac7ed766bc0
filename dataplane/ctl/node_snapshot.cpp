// Saving a frozen delay node to a snapshot file, and loading one into a running daemon.
#include <bit>
#include <cstring>

#include <rte_mbuf.h>

#include "delay_node.hpp"
#include "stasis/snapshot/reader.hpp"
#include "stasis/snapshot/writer.hpp"

namespace stasis::dataplane {

namespace {

snapshot::pipe_counters counters_of(const pipe_counters &c)
{
    snapshot::pipe_counters s;
    s.rx_packets = c.rx_packets.get();
    s.rx_bytes = c.rx_bytes.get();
    s.tx_packets = c.tx_packets.get();
    s.tx_bytes = c.tx_bytes.get();
    s.drop_loss = c.drop_loss.get();
    s.drop_queue = c.drop_queue.get();
    s.drop_red = c.drop_red.get();
    s.drop_fifo = c.drop_fifo.get();
    s.drop_tx = c.drop_tx.get();
    return s;
}

op_error failed(std::string m)
{
    return op_error{op_error::kind::failed, std::move(m)};
}

// A frame as a list of its segments' bytes (no copy).
void segments_of(const rte_mbuf *m, std::vector<std::span<const std::byte>> &out)
{
    out.clear();
    for (; m; m = m->next)
        out.emplace_back(rte_pktmbuf_mtod(m, const std::byte *), m->data_len);
}

}  // namespace

std::expected<save_report, op_error> delay_node::save(const std::string &path)
{
    if (!frozen())
        return std::unexpected(op_error{op_error::kind::invalid, "not frozen: freeze before saving"});
    const int64_t f = _hold_from.load(std::memory_order_relaxed);
    if (_clock.now_ns() < f)
        return std::unexpected(op_error{op_error::kind::invalid, "the freeze instant has not been reached yet"});
    if (auto p = park_all(); !p)
        return std::unexpected(p.error());

    snapshot::header hdr;
    hdr.freeze_realtime_ns = f;
    hdr.config = _cfg;
    hdr.config.links.clear();
    for (const auto &l : _links)
        hdr.config.links.push_back(l.applied);

    save_report rep;
    auto written = [&]() -> snapshot::result<uint64_t> {
        auto w = snapshot::snapshot_writer::create(path, hdr);
        if (!w)
            return std::unexpected(w.error());
        std::vector<std::span<const std::byte>> segs;
        for (const auto &l : _links) {
            if (auto r = w->begin_link(snapshot::link_info::of(l.applied)); !r)
                return std::unexpected(r.error());
            for (bool ab : {true, false}) {
                const rt_pipe &p = _workers[l.worker]->pipes[ab ? l.pipe_ab : l.pipe_ba];
                snapshot::pipe_record rec;
                rec.dir = ab ? snapshot::direction::a_to_b : snapshot::direction::b_to_a;
                rec.params = p.model.params();
                rec.state = snapshot::shifted(p.model.save(), -f);
                rec.counters = counters_of(*p.ctr);
                if (auto r = w->add_pipe(rec); !r)
                    return std::unexpected(r.error());
                for (uint32_t i = 0; i < p.fifo.size(); i++) {
                    const auto &e = p.fifo.at(i);
                    segments_of(e.pkt, segs);
                    if (auto r = w->add_packet(p.fifo.arrival_at(i) - f, e.depart_ns - f, segs); !r)
                        return std::unexpected(r.error());
                    rep.packets++;
                    rep.bytes += rte_pktmbuf_pkt_len(e.pkt);
                }
            }
        }
        if (auto r = w->commit(); !r)
            return std::unexpected(r.error());
        rep.content_crc = w->content_crc();
        return w->bytes_written();
    }();
    unpark_all();  // frozen still: the state is untouched whatever happened to the file
    if (!written)
        return std::unexpected(failed(written.error().message + " (the delay node stays frozen with its state; "
                                                                "save elsewhere or thaw)"));
    rep.path = path;
    rep.file_bytes = *written;
    rep.freeze_ns = f;
    return rep;
}

std::expected<save_report, op_error> delay_node::load(const std::string &path, bool discard_frozen)
{
    if (frozen() && !discard_frozen)
        return std::unexpected(op_error{op_error::kind::invalid,
                                        "frozen: thaw before loading a snapshot (or discard what the freeze holds)"});
    auto reader = snapshot::snapshot_reader::open(path);
    if (!reader)
        return std::unexpected(op_error{op_error::kind::invalid, reader.error().message});
    // Every link of the snapshot must exist here, by name (ports may differ).
    std::vector<link_slot *> targets;
    std::string missing;
    for (const auto &ls : reader->links()) {
        link_slot *t = slot_named(ls.link.name);
        if (!t)
            missing += (missing.empty() ? "" : ", ") + ("'" + ls.link.name + "'");
        targets.push_back(t);
    }
    if (!missing.empty())
        return std::unexpected(op_error{op_error::kind::not_found,
                                        path + ": this delay node has no link " + missing +
                                            " (links are matched by name; nothing was loaded)"});
    const int64_t f = reader->header().freeze_realtime_ns;

    // Build every FIFO off the workers first: a failure (no mbufs) leaves the node as it was.
    struct staged {
        departure_fifo<rte_mbuf *> fifo;
        pipe_model model;
        uint32_t len_total = 0;
    };
    std::vector<std::array<std::unique_ptr<staged>, 2>> stage(targets.size());
    for (size_t i = 0; i < targets.size(); i++)
        for (int d = 0; d < 2; d++) {
            const auto &ps = reader->links()[i].pipes[d];
            const uint32_t cap = std::max<uint32_t>(fifo_capacity_for(ps.pipe.params),
                                                    uint32_t(std::bit_ceil(ps.packets + 1)));
            stage[i][d] = std::make_unique<staged>(staged{departure_fifo<rte_mbuf *>(cap),
                                                          pipe_model::restore(ps.pipe.params,
                                                                              snapshot::shifted(ps.pipe.state, f)),
                                                          0});
        }
    std::string err;
    save_report rep;
    auto loaded = reader->for_each_packet([&](const snapshot::packet_ref &p) {
        rte_mbuf *m = rte_pktmbuf_alloc(_pool);
        char *dst = m ? rte_pktmbuf_append(m, uint16_t(p.frame.size())) : nullptr;
        if (!dst || p.frame.size() > UINT16_MAX) {
            if (m)
                rte_pktmbuf_free(m);
            err = "cannot hold frame " + std::to_string(rep.packets) + " (" + std::to_string(p.frame.size()) +
                  " bytes): mbuf pool exhausted or frame larger than an mbuf (daemon.mbufs)";
            return false;
        }
        std::memcpy(dst, p.frame.data(), p.frame.size());
        auto &s = *stage[p.link][p.dir == snapshot::direction::a_to_b ? 0 : 1];
        s.fifo.push(m, p.depart_rel_ns + f, p.arrival_rel_ns + f);
        rep.packets++;
        rep.bytes += p.frame.size();
        return true;
    });
    auto free_staged = [&] {
        for (auto &pair : stage)
            for (auto &s : pair)
                for (; !s->fifo.empty(); s->fifo.pop())
                    rte_pktmbuf_free(s->fifo.front().pkt);
    };
    if (!loaded) {
        free_staged();
        return std::unexpected(op_error{op_error::kind::invalid, err.empty() ? loaded.error().message : err});
    }
    if (auto p = park_all(); !p) {
        free_staged();
        return std::unexpected(p.error());
    }
    for (size_t i = 0; i < targets.size(); i++) {
        link_slot &l = *targets[i];
        for (int d = 0; d < 2; d++) {
            rt_pipe &p = _workers[l.worker]->pipes[d == 0 ? l.pipe_ab : l.pipe_ba];
            for (; !p.fifo.empty(); p.fifo.pop())  // what this node held before is replaced
                rte_pktmbuf_free(p.fifo.front().pkt);
            std::swap(p.fifo, stage[i][d]->fifo);
            std::swap(p.model, stage[i][d]->model);
            (d == 0 ? l.applied.a_to_b : l.applied.b_to_a) = p.model.params();
        }
    }
    for (auto &w : _workers)
        w->reset_noticed();
    _hold_from.store(f, std::memory_order_relaxed);  // frozen at the snapshot's F until resume
    unpark_all();
    rep.path = path;
    rep.freeze_ns = f;
    rep.file_bytes = reader->file().file_bytes;
    return rep;
}

}  // namespace stasis::dataplane
