// The delay-node test fixture.
#include "node_fixture.hpp"

#include <rte_cycles.h>
#include <rte_mbuf.h>

namespace stasis::test {

static int port_counter = 0;

ring_port &node_test::add_port(const std::string &tag)
{
    ports.push_back(std::make_unique<ring_port>("rp" + std::to_string(port_counter++) + tag));
    return *ports.back();
}

dataplane::link_config node_test::make_link(const std::string &name, const ring_port &a, const ring_port &b,
                                            const dataplane::pipe_params &p, std::optional<uint16_t> va,
                                            std::optional<uint16_t> vb)
{
    dataplane::link_config l;
    l.name = name;
    l.where = "test link '" + name + "'";
    l.a.port = a.name();
    l.a.vlan = va;
    l.a.where = l.where + " a";
    l.b.port = b.name();
    l.b.vlan = vb;
    l.b.where = l.where + " b";
    l.a_to_b = p;
    l.b_to_a = p;
    return l;
}

void node_test::start(std::vector<dataplane::link_config> links, std::vector<unsigned> lcores,
                      int64_t idle_sleep_ns)
{
    dataplane::daemon_config cfg;
    cfg.links = std::move(links);
    cfg.worker_lcores = std::move(lcores);
    cfg.mbufs = 16383;
    dataplane::worker_options wo = worker_opts;
    wo.idle_sleep_ns = idle_sleep_ns;
    wo.command_poll_turns = 16;
    node = std::make_unique<dataplane::delay_node>(cfg, dataplane::node_clock::calibrate(), wo);
    node->start();
}

std::vector<seen> node_test::collect(ring_port &port, size_t want, int64_t until_ns)
{
    std::vector<seen> out;
    while (out.size() < want && realtime_ns() < until_ns) {
        rte_mbuf *m = port.take();
        if (!m)
            continue;
        out.push_back({frame_seq(m), frame_vlan(m), rte_pktmbuf_pkt_len(m), realtime_ns()});
        rte_pktmbuf_free(m);
    }
    return out;
}

void node_test::TearDown()
{
    node.reset();  // stops workers and ports, frees queued mbufs
    ports.clear();
}

}  // namespace stasis::test
