// Header, link and pipe records: plain structs <-> snapshot.proto messages.
#include "codec.hpp"



namespace stasis::snapshot::codec {

namespace pb = stasis::config;
using dataplane::pipe_params;
using dataplane::pipe_state;

namespace {

std::string join(const std::vector<std::string> &lines)
{
    std::string out;
    for (const std::string &l : lines)
        out += (out.empty() ? "" : "; ") + l;
    return out;
}

std::expected<dataplane::endpoint, std::string> from_proto(const pb::Endpoint &m, const char *side)
{
    dataplane::endpoint e;
    e.port = m.port();
    if (m.has_vlan()) {
        if (m.vlan() < 1 || m.vlan() > 4094)
            return std::unexpected(std::string(side) + ".vlan " + std::to_string(m.vlan()) +
                                   " is not in 1..4094");
        e.vlan = uint16_t(m.vlan());
    }
    return e;
}

PipeState to_proto(const pipe_state &s)
{
    PipeState m;
    for (uint64_t w : s.rng)
        m.add_rng(w);
    m.set_ge_bad(s.ge_bad);
    m.set_red_avg_q32(s.red_avg_q32);
    m.set_red_count(s.red_count);
    m.set_server_end_rel_ns(s.server_end_ns);
    m.set_server_rem(s.server_rem);
    m.set_last_arrival_rel_ns(s.last_arrival_ns);
    m.set_last_depart_rel_ns(s.last_depart_ns);
    m.mutable_queue_service_end_rel_ns()->Reserve(int(s.queue.size()));
    m.mutable_queue_len_bytes()->Reserve(int(s.queue.size()));
    for (const dataplane::queued_packet &q : s.queue) {
        m.add_queue_service_end_rel_ns(q.service_end_ns);
        m.add_queue_len_bytes(q.len_bytes);
    }
    return m;
}

std::expected<pipe_state, std::string> from_proto(const PipeState &m)
{
    pipe_state s;
    if (m.rng_size() != int(s.rng.size()))
        return std::unexpected("state.rng has " + std::to_string(m.rng_size()) + " words, not 4");
    for (size_t i = 0; i < s.rng.size(); i++)
        s.rng[i] = m.rng(int(i));
    s.ge_bad = m.ge_bad();
    s.red_avg_q32 = m.red_avg_q32();
    s.red_count = m.red_count();
    s.server_end_ns = m.server_end_rel_ns();
    s.server_rem = m.server_rem();
    s.last_arrival_ns = m.last_arrival_rel_ns();
    s.last_depart_ns = m.last_depart_rel_ns();
    if (m.queue_service_end_rel_ns_size() != m.queue_len_bytes_size())
        return std::unexpected("state.queue: " + std::to_string(m.queue_service_end_rel_ns_size()) +
                               " instants for " + std::to_string(m.queue_len_bytes_size()) +
                               " lengths");
    s.queue.reserve(size_t(m.queue_len_bytes_size()));
    for (int i = 0; i < m.queue_len_bytes_size(); i++)
        s.queue.push_back({m.queue_service_end_rel_ns(i), m.queue_len_bytes(i)});
    return s;
}

Counters to_proto(const pipe_counters &c)
{
    Counters m;
    m.set_rx_packets(c.rx_packets);
    m.set_rx_bytes(c.rx_bytes);
    m.set_tx_packets(c.tx_packets);
    m.set_tx_bytes(c.tx_bytes);
    m.set_drop_loss(c.drop_loss);
    m.set_drop_queue(c.drop_queue);
    m.set_drop_red(c.drop_red);
    m.set_drop_fifo(c.drop_fifo);
    m.set_drop_tx(c.drop_tx);
    return m;
}

pipe_counters from_proto(const Counters &m)
{
    return {m.rx_packets(), m.rx_bytes(), m.tx_packets(), m.tx_bytes(), m.drop_loss(),
            m.drop_queue(), m.drop_red(),  m.drop_fifo(),  m.drop_tx()};
}

std::expected<pipe_params, std::string> params_from_proto(const Pipe &m)
{
    // The configuration's reading of a complete Pipe, over the defaults: same units, same rules.
    auto p = dataplane::apply_changes(pipe_params{}, m.params());
    if (!p)
        return std::unexpected("params: " + p.error());
    const pb::GilbertElliott &g = m.gilbert_elliott();
    p->ge = {g.p(), g.r(), g.loss_good(), g.loss_bad()};
    if (auto issues = dataplane::check_pipe(*p); !issues.empty())
        return std::unexpected("params: " + join(issues));
    return *p;
}

}  // namespace

Header to_proto(const header &h)
{
    Header m;
    m.set_created_realtime_ns(h.created_realtime_ns);
    m.set_freeze_realtime_ns(h.freeze_realtime_ns);
    m.set_agent(h.agent);
    m.set_host(h.host);
    m.set_software_version(h.software_version);
    m.set_config(dataplane::dump_config(h.config));
    return m;
}

std::expected<header, std::string> from_proto(const Header &m)
{
    header h;
    h.created_realtime_ns = m.created_realtime_ns();
    h.freeze_realtime_ns = m.freeze_realtime_ns();
    h.agent = m.agent();
    h.host = m.host();
    h.software_version = m.software_version();
    try {
        h.config = dataplane::parse_config(m.config(), "header.config");
    } catch (const std::exception &e) {
        return std::unexpected(std::string("the configuration does not read back: ") + e.what());
    }
    return h;
}

Link to_proto(const link_info &l)
{
    // The configuration's endpoint encoding, through its Link.
    dataplane::link_config lc;
    lc.name = l.name;
    lc.a = l.a;
    lc.b = l.b;
    const pb::Link full = dataplane::to_proto(lc);
    Link m;
    m.set_name(l.name);
    *m.mutable_a() = full.a();
    *m.mutable_b() = full.b();
    return m;
}

std::expected<link_info, std::string> from_proto(const Link &m)
{
    if (m.name().empty())
        return std::unexpected("link without a name");
    auto a = from_proto(m.a(), "a");
    if (!a)
        return std::unexpected(a.error());
    auto b = from_proto(m.b(), "b");
    if (!b)
        return std::unexpected(b.error());
    return link_info{m.name(), std::move(*a), std::move(*b)};
}

std::expected<Pipe, std::string> to_proto(const pipe_record &p)
{
    Pipe m;
    m.set_direction(p.dir == direction::a_to_b ? A_TO_B : B_TO_A);
    *m.mutable_params() = dataplane::to_proto(p.params);
    pb::GilbertElliott *g = m.mutable_gilbert_elliott();
    g->set_p(p.params.ge.p);
    g->set_r(p.params.ge.r);
    g->set_loss_good(p.params.ge.loss_good);
    g->set_loss_bad(p.params.ge.loss_bad);
    // What is stored must read back as it is: checked here, where the caller can still react.
    auto back = params_from_proto(m);
    if (!back)
        return std::unexpected(back.error());
    if (!(*back == p.params))
        return std::unexpected("params: the configuration encoding does not read back identical");
    *m.mutable_state() = to_proto(p.state);
    *m.mutable_counters() = to_proto(p.counters);
    return m;
}

std::expected<pipe_record, std::string> from_proto(const Pipe &m)
{
    pipe_record p;
    if (m.direction() != A_TO_B && m.direction() != B_TO_A)
        return std::unexpected("unknown direction " + std::to_string(int(m.direction())));
    p.dir = m.direction() == A_TO_B ? direction::a_to_b : direction::b_to_a;
    auto params = params_from_proto(m);
    if (!params)
        return std::unexpected(params.error());
    p.params = *params;
    auto state = from_proto(m.state());
    if (!state)
        return std::unexpected(state.error());
    p.state = std::move(*state);
    p.counters = from_proto(m.counters());
    return p;
}

}  // namespace stasis::snapshot::codec
