// Dumping is the exact inverse of parsing: parse(dump(c)) == c, with every field written out.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "config_test_util.hpp"

namespace stasis::dataplane {
namespace {

namespace pb = stasis::config;

daemon_config round_trip(const daemon_config &c) { return parse_config(dump_config(c), "dump"); }

TEST(Dump, ExampleRoundTrips) {
    const daemon_config c = load_config_file(STASIS_SOURCE_ROOT "/dataplane/config/example.conf");
    EXPECT_EQ(round_trip(c), c);
    EXPECT_EQ(dump_config(round_trip(c)), dump_config(c));
}

TEST(Dump, EveryPipeFieldIsWritten) {
    pipe_params p;
    const pb::Pipe msg = to_proto(p);
    const auto *d = msg.GetDescriptor();
    for (int i = 0; i < d->field_count(); ++i) {
        const auto *f = d->field(i);
        // The Gilbert-Elliott block's presence is the loss kind; the default has none.
        EXPECT_EQ(msg.GetReflection()->HasField(msg, f), f->name() != "gilbert_elliott") << f->name();
    }
    EXPECT_TRUE(msg.red().has_thresh() && msg.red().has_maxthresh() && msg.red().has_q_weight() &&
                msg.red().has_linterm());
    EXPECT_EQ(msg.queue_bytes(), "0");
    p.loss = loss_kind::gilbert_elliott;
    const pb::Pipe ge = to_proto(p);
    EXPECT_TRUE(ge.gilbert_elliott().has_p() && ge.gilbert_elliott().has_r() &&
                ge.gilbert_elliott().has_loss_good() && ge.gilbert_elliott().has_loss_bad());
}

TEST(Dump, WritesHumanUnits) {
    daemon_config c;
    link_config l;
    l.name = "x";
    l.a.port = "p0";
    l.b = {"p1", 7, ""};
    l.a_to_b.delay_ns = 1'500'000;
    l.a_to_b.rate_bps = 100'000'000;
    l.a_to_b.queue_bytes = 65'536;
    c.links = {l};
    const std::string text = dump_config(c);
    EXPECT_NE(text.find("delay: \"1.5ms\""), std::string::npos) << text;
    EXPECT_NE(text.find("rate: \"100Mbit\""), std::string::npos) << text;
    EXPECT_NE(text.find("queue_bytes: \"64KiB\""), std::string::npos) << text;
    EXPECT_NE(text.find("idle_sleep: \"50us\""), std::string::npos) << text;
    EXPECT_NE(text.find("vlan: 7"), std::string::npos) << text;
}

TEST(Dump, TrickyValuesRoundTrip) {
    daemon_config c;
    c.control = "ipc:///run/stasis/delayd";
    c.worker_lcores = {7, 3, 5};  // order is kept
    c.idle_sleep_ns = 0;
    c.idle_turns = 0;
    c.mbufs = 4'294'967'295u;
    link_config l;
    l.name = "a.b-c_d";
    l.a = {"0", std::nullopt, ""};
    l.b = {"0", 4094, ""};
    pipe_params &p = l.a_to_b;
    p.delay_ns = 3600'000'000'000;  // the maximum
    p.jitter_ns = 1;
    p.jitter = jitter_dist::paretonormal;
    p.rate_bps = std::numeric_limits<uint64_t>::max();
    p.queue_bytes = 1u << 30;
    p.loss = loss_kind::bernoulli;
    p.plr = 1.0 / 3.0;
    p.aqm = aqm_kind::gred;
    p.red = {64.125, std::nextafter(1e9, 0.0), 1e-300, 4'294'967'295u};
    p.seed = std::numeric_limits<uint64_t>::max();
    p.fifo_slots = 1u << 24;
    pipe_params &q = l.b_to_a;
    q.delay_ns = 1'234'567'891;
    q.rate_bps = 1;
    q.queue_slots = 1;
    q.red = {0.25, 0.5, 1, 1};
    q.aqm = aqm_kind::red;
    q.loss = loss_kind::gilbert_elliott;
    q.plr = 0.1;  // kept, though the Gilbert-Elliott model replaces it
    q.ge = {0.1, 0, 1e-9, 0};
    q.seed = 0;
    c.links = {l};
    ASSERT_TRUE(check_pipe(p).empty() && check_pipe(q).empty());
    EXPECT_EQ(round_trip(c), c);
}

// Random valid configurations, with doubles at full precision.
class random_config {
public:
    explicit random_config(uint64_t seed) : _rng(seed) {}

    daemon_config make() {
        daemon_config c;
        c.control = pick({"tcp://127.0.0.1:6001", "tcp://*:7000", "ipc:///tmp/x", "inproc://t"});
        for (unsigned i = 0, n = below(4); i < n; ++i) c.worker_lcores.push_back(i * 2 + 1);
        c.burst = 1 + below(512);
        c.idle_sleep_ns = int64_t(below(1'000'000'001));
        c.idle_turns = uint32_t(_rng());
        c.mbufs = below(2) ? 0 : 1024 + below(1u << 20);
        c.command_poll_turns = 1 + below(1000);
        for (unsigned i = 0, n = below(4); i < n; ++i) c.links.push_back(link(i));
        return c;
    }

private:
    uint32_t below(uint32_t n) { return uint32_t(_rng() % n); }
    double unit() { return std::uniform_real_distribution<double>(0, 1)(_rng); }
    template <class T>
    T pick(std::initializer_list<T> xs) { return xs.begin()[below(uint32_t(xs.size()))]; }

    // Out of line: inlined string building here trips GCC 12's false -Wrestrict warning.
    [[gnu::noinline]] static std::string named(char prefix, unsigned n) {
        return prefix + std::to_string(n);
    }

    link_config link(unsigned i) {
        link_config l;
        l.name = named('l', i);
        l.a.port = named('p', 2 * i);
        l.b.port = named('p', 2 * i + 1);
        if (below(2)) l.a.vlan = uint16_t(1 + below(4094));
        if (below(2)) l.b.vlan = uint16_t(1 + below(4094));
        l.a_to_b = pipe();
        l.b_to_a = pipe();
        return l;
    }

    pipe_params pipe() {
        pipe_params p;
        p.delay_ns = int64_t(_rng() % 3600'000'000'001);
        p.jitter_ns = below(2) ? 0 : int64_t(_rng() % 1'000'000'000);
        p.jitter = jitter_dist(below(4));
        p.rate_bps = below(4) == 0 ? 0 : _rng() >> below(64);
        const bool bytes = below(2);
        p.queue_slots = 1 + below(1u << 20);
        p.queue_bytes = bytes ? 256 + _rng() % ((1u << 30) - 255) : 0;
        p.loss = loss_kind(below(3));
        p.plr = p.loss == loss_kind::none ? 0 : 1 - unit();  // (0, 1]
        if (p.loss == loss_kind::gilbert_elliott) p.ge = {unit(), unit(), unit(), unit()};
        p.aqm = aqm_kind(below(3));
        const double limit = bytes ? double(p.queue_bytes) : double(p.queue_slots);
        p.red.maxthresh = limit * (0.5 + unit() / 2);
        p.red.thresh = bytes ? 64 + (p.red.maxthresh - 64) * unit() * 0.99 : p.red.maxthresh * (0.01 + unit() * 0.98);
        p.red.q_weight = 1 - unit();  // (0, 1]
        p.red.linterm = 1 + below(1000);
        p.seed = _rng();
        p.fifo_slots = below(2) ? 0 : 1u << below(25);
        return p;
    }

    std::mt19937_64 _rng;
};

TEST(Dump, RandomConfigsRoundTrip) {
    random_config gen(2024);
    for (int i = 0; i < 300; ++i) {
        const daemon_config c = gen.make();
        SCOPED_TRACE(dump_config(c));
        daemon_config back;
        ASSERT_NO_THROW(back = round_trip(c));
        EXPECT_EQ(back, c);
    }
}

// The comparison round trips rely on does see a change in a pipe, an endpoint and the daemon.
TEST(Dump, EqualityNoticesDifferences) {
    const daemon_config c = load_config_file(STASIS_SOURCE_ROOT "/dataplane/config/example.conf");
    daemon_config d = c;
    d.links[1].b_to_a.ge.loss_bad = 0.99;
    EXPECT_NE(d, c);
    d = c;
    d.links[0].a.vlan = 5;
    EXPECT_NE(d, c);
    d = c;
    d.idle_turns = 1;
    EXPECT_NE(d, c);
    d = c;
    d.links[0].where = "elsewhere";  // provenance, not configuration
    EXPECT_EQ(d, c);
}

}  // namespace
}  // namespace stasis::dataplane
