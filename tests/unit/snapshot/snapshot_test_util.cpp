// The sample snapshot: three links whose pipes cover every parameter kind, model states produced by
// running the real model at absolute times before F, and packets with random frames.
#include "snapshot_test_util.hpp"

#include "stasis/dataplane/pipe_model.hpp"

namespace stasis::snapshot::test {

namespace dp = stasis::dataplane;

namespace {

dp::pipe_params lan0_ab()
{
    dp::pipe_params p;
    p.delay_ns = 10'000'000;
    p.jitter_ns = 1'000'000;
    p.jitter = dp::jitter_dist::normal;
    p.rate_bps = 100'000'000;
    p.queue_slots = 100;
    p.loss = dp::loss_kind::bernoulli;
    p.plr = 0.01;
    p.ge = {0.2, 0.6, 0.1, 0.9};  // kept though the loss is Bernoulli: must survive too
    p.seed = 0x0123456789abcdefull;
    return p;
}

dp::pipe_params lan0_ba()
{
    dp::pipe_params p;
    p.delay_ns = 2'500'000;
    p.rate_bps = 1'000'000'000;
    p.queue_bytes = 65'536;
    p.loss = dp::loss_kind::gilbert_elliott;
    p.ge = {0.01, 0.3, 0.001, 0.75};
    p.aqm = dp::aqm_kind::red;
    p.red = {5'000, 30'000, 0.002, 10};
    p.seed = 42;
    return p;
}

dp::pipe_params lan1(bool ab)
{
    dp::pipe_params p;
    p.delay_ns = ab ? 123'457 : 1;
    p.jitter_ns = ab ? 50'000 : 0;
    p.jitter = ab ? dp::jitter_dist::pareto : dp::jitter_dist::paretonormal;
    p.rate_bps = ab ? 56'000 : 10'000'000'000;
    p.queue_slots = 1'000;
    p.aqm = dp::aqm_kind::gred;
    p.red = {0.1, 500.25, 1.0 / 3, 7};
    p.fifo_slots = 4096;
    p.seed = dp::default_seed("lan1", ab);
    return p;
}

// Runs the model over arrivals before F and returns its state, instants relative to F.
dp::pipe_state run_model(const dp::pipe_params &params, std::mt19937_64 &rng)
{
    dp::pipe_model m(params);
    int64_t t = freeze_ns - 50'000'000;
    for (int i = 0; i < 2'000; i++) {
        t += int64_t(rng() % 40'000);
        m.arrive(t, uint32_t(64 + rng() % 1'451));
    }
    return shifted(m.save(), -freeze_ns);
}

pipe_data pipe(direction dir, const dp::pipe_params &params, unsigned packets, std::mt19937_64 &rng)
{
    pipe_data d;
    d.pipe.dir = dir;
    d.pipe.params = params;
    d.pipe.state = run_model(params, rng);
    d.pipe.counters = {rng() % 1000, rng(), rng() % 1000, rng(), 1, 2, 3, 4, 5};
    int64_t depart = int64_t(rng() % 1'000);
    for (unsigned i = 0; i < packets; i++) {
        depart += int64_t(rng() % 200'000);
        const size_t len = i == 3 ? 9'000 : 60 + rng() % 1'455;  // one jumbo frame
        d.packets.push_back({depart - params.delay_ns - int64_t(rng() % 1'000'000), depart,
                             frame_bytes(rng, len)});
    }
    return d;
}

dp::link_config link(std::string name, std::optional<uint16_t> vlan, dp::pipe_params ab,
                     dp::pipe_params ba)
{
    dp::link_config l;
    l.name = std::move(name);
    l.a = {"net_ring0", vlan, ""};
    l.b = {"net_ring1", vlan, ""};
    l.a_to_b = ab;
    l.b_to_a = ba;
    return l;
}

}  // namespace

snapshot_data sample(unsigned packets_per_pipe, uint64_t seed)
{
    std::mt19937_64 rng(seed);
    snapshot_data s;
    s.header.created_realtime_ns = freeze_ns + 3'000'000'000;
    s.header.freeze_realtime_ns = freeze_ns;
    s.header.agent = "stasis-delayd";
    s.header.host = "pc42.testbed";
    s.header.software_version = "test";
    s.header.config.worker_lcores = {1, 2};
    s.header.config.links = {
        link("lan0", std::nullopt, lan0_ab(), lan0_ba()),
        link("lan1", 10, lan1(true), lan1(false)),
        link("wan", 20, dp::pipe_params{}, dp::pipe_params{}),
    };
    s.header.config.links[2].a_to_b.seed = dp::default_seed("wan", true);
    s.header.config.links[2].b_to_a.seed = dp::default_seed("wan", false);
    for (const dp::link_config &l : s.header.config.links) {
        link_data &ld = s.links.emplace_back();
        ld.link = link_info::of(l);
        // wan's b_to_a holds no packet: an empty pipe must work too.
        const bool empty = l.name == "wan";
        ld.pipes[0] = pipe(direction::a_to_b, l.a_to_b, packets_per_pipe, rng);
        ld.pipes[1] = pipe(direction::b_to_a, l.b_to_a, empty ? 0 : packets_per_pipe, rng);
    }
    return s;
}

}  // namespace stasis::snapshot::test
