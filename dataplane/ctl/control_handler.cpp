// The delay node's control operations, in protobuf terms.
#include "control_handler.hpp"
#include "stasis/dataplane/realtime.hpp"

#include <ctime>

#include "ports.hpp"
#include "stasis/dataplane/config.hpp"

namespace stasis::dataplane {

namespace ctl = stasis::control;

namespace {


ctl::Reply fail(ctl::Status s, std::string msg)
{
    ctl::Reply r;
    r.set_status(s);
    r.set_message(std::move(msg));
    return r;
}

ctl::Status status_of(const op_error &e)
{
    switch (e.what) {
    case op_error::kind::not_found:
        return ctl::NOT_FOUND;
    case op_error::kind::invalid:
        return ctl::INVALID_ARGUMENT;
    case op_error::kind::failed:
        break;
    }
    return ctl::FAILED;
}

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
        return fail(ctl::NOT_FOUND, "no link named '" + q.link() + "'");
    return r;
}

ctl::Reply link_set(delay_node &node, const ctl::LinkSet &q)
{
    const link_slot *l = node.find(q.link());
    if (!l)
        return fail(ctl::NOT_FOUND, "no link named '" + q.link() + "'");
    const auto dir = q.direction() == ctl::LinkSet::A_TO_B   ? direction::a_to_b
                     : q.direction() == ctl::LinkSet::B_TO_A ? direction::b_to_a
                                                             : direction::both;
    auto ab = apply_changes(l->applied.a_to_b, q.changes());
    if (!ab)
        return fail(ctl::INVALID_ARGUMENT, "link '" + q.link() + "' a_to_b: " + ab.error());
    auto ba = apply_changes(l->applied.b_to_a, q.changes());
    if (!ba)
        return fail(ctl::INVALID_ARGUMENT, "link '" + q.link() + "' b_to_a: " + ba.error());
    if (auto r = node.set_link(q.link(), dir, *ab, *ba); !r)
        return fail(status_of(r.error()), r.error().message);
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
        return fail(ctl::NOT_FOUND, "no link named '" + q.link() + "'");
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

ctl::Reply freeze_reply(delay_node &node)
{
    auto rep = node.freeze_status();
    if (!rep)
        return fail(status_of(rep.error()), rep.error().message);
    ctl::Reply r;
    auto *f = r.mutable_freeze();
    f->set_frozen(true);
    f->set_freeze_ns(rep->freeze_ns);
    f->set_reached(rep->reached);
    for (const auto &w : rep->workers) {
        auto *n = f->add_workers();
        n->set_lcore(w.lcore);
        n->set_noticed_ns(w.noticed_ns == INT64_MAX ? 0 : w.noticed_ns);
    }
    for (const auto &h : rep->links) {
        auto *l = f->add_links();
        l->set_link(h.link);
        l->set_packets_a_to_b(h.packets_ab);
        l->set_bytes_a_to_b(h.bytes_ab);
        l->set_packets_b_to_a(h.packets_ba);
        l->set_bytes_b_to_a(h.bytes_ba);
    }
    return r;
}

ctl::Reply freeze(delay_node &node, const ctl::Freeze &q)
{
    auto f = node.freeze(q.at_ns());
    if (!f)
        return fail(status_of(f.error()), f.error().message);
    ctl::Reply r;
    r.mutable_freeze()->set_frozen(true);
    r.mutable_freeze()->set_freeze_ns(*f);
    r.set_message("freezing at " + std::to_string(*f));
    return r;
}

ctl::Reply thaw(delay_node &node, const ctl::Thaw &q)
{
    auto t = node.thaw(q.at_ns());
    if (!t)
        return fail(status_of(t.error()), t.error().message);
    ctl::Reply r;
    r.mutable_freeze()->set_frozen(false);
    r.mutable_freeze()->set_resume_ns(*t);
    r.set_message("resuming at " + std::to_string(*t));
    return r;
}

ctl::Reply snapshot_reply(const std::expected<save_report, op_error> &r, const char *verb)
{
    if (!r)
        return fail(status_of(r.error()), r.error().message);
    ctl::Reply reply;
    auto *s = reply.mutable_snapshot();
    s->set_path(r->path);
    s->set_freeze_ns(r->freeze_ns);
    s->set_packets(r->packets);
    s->set_bytes(r->bytes);
    s->set_file_bytes(r->file_bytes);
    reply.set_message(std::string(verb) + " " + r->path);
    return reply;
}

}  // namespace

ctl::Reply handle_request(delay_node &node, const ctl::Request &req)
{
    switch (req.op_case()) {
    case ctl::Request::kHello: {
        ctl::Reply r;
        auto *h = r.mutable_hello();
        h->set_agent("stasis-delayd");
        h->set_version(STASIS_VERSION);
        for (const char *cap : {"link.show", "link.set", "link.stats", "freeze", "thaw", "save", "load"})
            h->add_capabilities(cap);
        h->set_realtime_ns(realtime_ns());
        return r;
    }
    case ctl::Request::kLinkShow:
        return link_show(node, req.link_show());
    case ctl::Request::kLinkSet:
        return link_set(node, req.link_set());
    case ctl::Request::kLinkStats:
        return link_stats(node, req.link_stats());
    case ctl::Request::kFreeze:
        return freeze(node, req.freeze());
    case ctl::Request::kFreezeStatus:
        return freeze_reply(node);
    case ctl::Request::kThaw:
        return thaw(node, req.thaw());
    case ctl::Request::kSave:
        if (req.save().path().empty())
            return fail(ctl::BAD_REQUEST, "save: no path");
        return snapshot_reply(node.save(req.save().path()), "saved");
    case ctl::Request::kLoad:
        if (req.load().path().empty())
            return fail(ctl::BAD_REQUEST, "load: no path");
        return snapshot_reply(node.load(req.load().path()), "loaded");
    case ctl::Request::OP_NOT_SET:
        break;
    }
    return fail(ctl::BAD_REQUEST, "the request names no operation this agent knows");
}

}  // namespace stasis::dataplane
