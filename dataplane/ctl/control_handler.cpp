// The delay node's control operations, in protobuf terms: links, stats, and the dispatch.
#include "control_handler.hpp"

#include "agent_reply.hpp"
#include "ports.hpp"
#include "stasis/control/agent_replies.hpp"
#include "stasis/dataplane/config.hpp"
#include "stasis/dataplane/realtime.hpp"

namespace stasis::dataplane {

namespace ctl = stasis::control;

namespace {


void fill(ctl::PipeCounters &out, const pipe_counters &c)
{
    out.set_rx_packets(c.rx_packets.get());
    out.set_rx_bytes(c.rx_bytes.get());
    out.set_tx_packets(c.tx_packets.get());
    out.set_tx_bytes(c.tx_bytes.get());
    out.set_drop_loss(c.drop_loss.get());
    out.set_drop_queue(c.drop_queue.get());
    out.set_drop_red(c.drop_red.get());
    out.set_drop_fifo(c.drop_fifo.get());
    out.set_drop_tx(c.drop_tx.get());
    out.set_queue_packets(uint32_t(c.queue_packets.get()));
    out.set_queue_bytes(c.queue_bytes.get());
    out.set_fifo_packets(uint32_t(c.fifo_packets.get()));
    for (unsigned i = 0; i < latency_histogram::buckets; i++) {
        if (const uint64_t n = c.lateness.count(i)) {
            auto *b = out.add_lateness();
            b->set_upper_ns(int64_t(latency_histogram::upper(i)));
            b->set_count(n);
        }
    }
    out.set_lateness_p50_ns(int64_t(c.lateness.quantile(0.50)));
    out.set_lateness_p99_ns(int64_t(c.lateness.quantile(0.99)));
    out.set_lateness_max_ns(int64_t(c.lateness.max()));
}

ctl::Reply link_show(delay_node &node, const ctl::LinkShow &q)
{
    ctl::Reply r;
    auto *list = r.mutable_links();
    for (const auto &l : node.links()) {
        if (!q.link().empty() && q.link() != l.applied.name)
            continue;
        auto *info = list->add_links();
        *info->mutable_link() = to_proto(l.applied);
        info->set_worker_lcore(node.workers()[l.worker]->lcore());
    }
    if (!q.link().empty() && list->links_size() == 0)
        return agent_fail(ctl::NOT_FOUND, "no link named '" + q.link() + "'");
    return r;
}

ctl::Reply link_set(delay_node &node, const ctl::LinkSet &q)
{
    const link_slot *l = node.find(q.link());
    if (!l)
        return agent_fail(ctl::NOT_FOUND, "no link named '" + q.link() + "'");
    const auto dir = q.direction() == ctl::LinkSet::A_TO_B   ? direction::a_to_b
                     : q.direction() == ctl::LinkSet::B_TO_A ? direction::b_to_a
                                                             : direction::both;
    auto ab = apply_changes(l->applied.a_to_b, q.changes());
    if (!ab)
        return agent_fail(ctl::INVALID_ARGUMENT, "link '" + q.link() + "' a_to_b: " + ab.error());
    auto ba = apply_changes(l->applied.b_to_a, q.changes());
    if (!ba)
        return agent_fail(ctl::INVALID_ARGUMENT, "link '" + q.link() + "' b_to_a: " + ba.error());
    if (auto r = node.set_link(q.link(), dir, *ab, *ba); !r)
        return agent_fail(op_status(r.error()), r.error().message);
    ctl::Reply r = link_show(node, [&] {
        ctl::LinkShow s;
        s.set_link(q.link());
        return s;
    }());
    r.set_message("link '" + q.link() + "' updated");
    return r;
}

ctl::Reply link_stats(delay_node &node, const ctl::LinkStats &q)
{
    ctl::Reply r;
    auto *st = r.mutable_stats();
    st->set_realtime_ns(realtime_ns());
    for (const auto &l : node.links()) {
        if (!q.link().empty() && q.link() != l.applied.name)
            continue;
        auto *lc = st->add_links();
        lc->set_link(l.applied.name);
        fill(*lc->mutable_a_to_b(), node.counters(l, true));
        fill(*lc->mutable_b_to_a(), node.counters(l, false));
    }
    if (!q.link().empty() && st->links_size() == 0)
        return agent_fail(ctl::NOT_FOUND, "no link named '" + q.link() + "'");
    for (uint16_t id : node.port_ids()) {
        const port_counters &c = node.counters_of_port(id);
        auto *pc = st->add_ports();
        pc->set_port(port_name(id));
        pc->set_rx_unmatched(c.rx_unmatched.get());
        pc->set_rx_packets(c.rx_packets.get());
        pc->set_tx_packets(c.tx_packets.get());
    }
    return r;
}

}  // namespace

ctl::Reply delay_agent::handle(const ctl::Request &req)
{
    switch (req.op_case()) {
    case ctl::Request::kHello:
        return ctl::hello_reply("stasis-delayd", {"link.show", "link.set", "link.stats", "freeze", "thaw", "save",
                                                  "load", "clock.probe", "prepare", "abort", "release", "events"});
    case ctl::Request::kClockProbe:
        return ctl::clock_probe_reply();
    case ctl::Request::kLinkShow:
        return link_show(_node, req.link_show());
    case ctl::Request::kLinkSet:
        return link_set(_node, req.link_set());
    case ctl::Request::kLinkStats:
        return link_stats(_node, req.link_stats());
    case ctl::Request::kFreeze: {
        ctl::Prepare p;
        p.set_freeze_ns(req.freeze().at_ns());
        return prepare(p);
    }
    case ctl::Request::kPrepare:
        return prepare(req.prepare());
    case ctl::Request::kFreezeStatus:
        return freeze_status();
    case ctl::Request::kThaw:
        return thaw(req.thaw());
    case ctl::Request::kAbort:
        return abort(req.abort());
    case ctl::Request::kSave:
        return save(req.save());
    case ctl::Request::kLoad:
        return load(req.load());
    case ctl::Request::kRelease:
        return release(req.release());
    case ctl::Request::kSubscribe:  // answered by the agent server, which knows the peer
        return agent_fail(ctl::BAD_REQUEST, "subscribe is handled by the server, not the node");
    case ctl::Request::OP_NOT_SET:
        break;
    }
    return agent_fail(ctl::BAD_REQUEST, "the request names no operation this agent knows");
}

}  // namespace stasis::dataplane
