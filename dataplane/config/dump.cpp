// daemon_config -> Config message -> text, the exact inverse of parse_config.
#include <google/protobuf/text_format.h>

#include "stasis/dataplane/config.hpp"
#include "stasis/dataplane/units.hpp"

namespace stasis::dataplane {

namespace pb = stasis::config;

pb::Pipe to_proto(const pipe_params &p) {
    pb::Pipe out;
    out.set_delay(format_duration(p.delay_ns));
    out.set_jitter(format_duration(p.jitter_ns));
    out.set_jitter_dist(pb::JitterDist(p.jitter));
    out.set_rate(format_rate(p.rate_bps));
    out.set_queue_slots(p.queue_slots);
    out.set_queue_bytes(format_size(p.queue_bytes));  // "0": limited in slots
    out.set_plr(p.plr);
    // The block's presence is the loss kind, so it is written only for Gilbert-Elliott.
    if (p.loss == loss_kind::gilbert_elliott) {
        pb::GilbertElliott *g = out.mutable_gilbert_elliott();
        g->set_p(p.ge.p);
        g->set_r(p.ge.r);
        g->set_loss_good(p.ge.loss_good);
        g->set_loss_bad(p.ge.loss_bad);
    }
    out.set_aqm(pb::Aqm(p.aqm));
    pb::Red *r = out.mutable_red();
    r->set_thresh(p.red.thresh);
    r->set_maxthresh(p.red.maxthresh);
    r->set_q_weight(p.red.q_weight);
    r->set_linterm(p.red.linterm);
    out.set_seed(p.seed);
    out.set_fifo_slots(p.fifo_slots);
    return out;
}

namespace {

pb::Endpoint to_proto(const endpoint &e) {
    pb::Endpoint out;
    out.set_port(e.port);
    if (e.vlan) out.set_vlan(*e.vlan);
    return out;
}

}  // namespace

pb::Link to_proto(const link_config &link) {
    pb::Link out;
    out.set_name(link.name);
    *out.mutable_a() = to_proto(link.a);
    *out.mutable_b() = to_proto(link.b);
    *out.mutable_a_to_b() = to_proto(link.a_to_b);
    *out.mutable_b_to_a() = to_proto(link.b_to_a);
    return out;
}

pb::Config to_proto(const daemon_config &c) {
    pb::Config out;
    pb::Daemon *d = out.mutable_daemon();
    d->set_control(c.control);
    for (unsigned lcore : c.worker_lcores) d->add_worker_lcores(lcore);
    d->set_burst(c.burst);
    d->set_idle_sleep(format_duration(c.idle_sleep_ns));
    d->set_idle_turns(c.idle_turns);
    d->set_mbufs(c.mbufs);
    d->set_command_poll_turns(c.command_poll_turns);
    for (const link_config &l : c.links) *out.add_link() = to_proto(l);
    return out;
}

std::string dump_config(const daemon_config &c) {
    std::string text;
    google::protobuf::TextFormat::Printer printer;
    printer.PrintToString(to_proto(c), &text);  // doubles are printed so that they read back exactly
    return "# stasis-delayd configuration, as applied (every default written out)\n" + text;
}

}  // namespace stasis::dataplane
