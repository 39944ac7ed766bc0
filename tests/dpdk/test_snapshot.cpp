// Save a frozen delay node, restore it into a fresh one on other ports, resume: nothing lost, every
// held departure shifted by exactly R - F; and failures (full disk, damaged file, missing link) lose
// nothing.
#include <cstdio>
#include <fstream>
#include <map>
#include <sys/mount.h>
#include <unistd.h>

#include <rte_mbuf.h>

#include "node_fixture.hpp"

namespace stasis::test {
namespace {

using dataplane::pipe_params;
constexpr int64_t ms = 1'000'000, us = 1'000;

struct temp_dir {
    std::string path;
    bool mounted = false;
    temp_dir() {
        char t[] = "/tmp/stasis-snap-XXXXXX";
        path = mkdtemp(t);
    }
    ~temp_dir() {
        if (mounted)
            umount(path.c_str());
        std::system(("rm -rf " + path).c_str());
    }
};

// Sends n frames of 200 bytes 100 us apart from a, freezes at F while frames are in flight, and
// returns the send instants (the first few frames have left before F).
std::vector<int64_t> fill_and_freeze(ring_port &a, ring_port &b, dataplane::delay_node &node, int64_t &f,
                                     std::map<uint32_t, int64_t> &got)
{
    std::vector<int64_t> sent;
    for (uint32_t i = 0; i < 40; i++) {
        sent.push_back(realtime_ns());
        EXPECT_TRUE(a.inject(make_frame(200, i)));
        const int64_t until = realtime_ns() + 100 * us;
        while (realtime_ns() < until)
            if (rte_mbuf *m = b.take()) {
                got.emplace(frame_seq(m), realtime_ns());
                rte_pktmbuf_free(m);
            }
        if (i == 30) {
            f = realtime_ns() + 200 * us;
            EXPECT_TRUE(node.freeze(f).has_value());
        }
    }
    const int64_t until = realtime_ns() + 20 * ms;
    while (realtime_ns() < until)
        if (rte_mbuf *m = b.take()) {
            got.emplace(frame_seq(m), realtime_ns());
            rte_pktmbuf_free(m);
        }
    return sent;
}

TEST_F(node_test, save_restore_elsewhere_and_resume_loses_nothing)
{
    ring_port &a = add_port("a"), &b = add_port("b");
    pipe_params p;
    p.delay_ns = 3 * ms;
    p.rate_bps = 10'000'000;  // 200-byte frames: 160 us each, so the queue builds up too
    p.queue_slots = 100;
    start({make_link("lan0", a, b, p)});
    int64_t f = 0;
    std::map<uint32_t, int64_t> got;
    const auto sent = fill_and_freeze(a, b, *node, f, got);
    ASSERT_GT(got.size(), 0u);
    ASSERT_LT(got.size(), sent.size()) << "nothing was in flight at F";

    temp_dir dir;
    const std::string file = dir.path + "/lan0.stasis";
    auto saved = node->save(file);
    ASSERT_TRUE(saved.has_value()) << saved.error().message;
    EXPECT_EQ(saved->packets, sent.size() - got.size());
    EXPECT_EQ(saved->bytes, saved->packets * 200);
    EXPECT_EQ(saved->freeze_ns, f);

    // A fresh node on other ports, with other parameters: the snapshot's apply.
    node.reset();
    ring_port &c = add_port("c"), &d = add_port("d");
    start({make_link("lan0", c, d, pipe_params{})});
    auto loaded = node->load(file);
    ASSERT_TRUE(loaded.has_value()) << loaded.error().message;
    EXPECT_EQ(loaded->packets, saved->packets);
    EXPECT_TRUE(node->frozen());
    EXPECT_EQ(node->find("lan0")->applied.a_to_b, p);

    const int64_t r = realtime_ns() + 10 * ms;
    ASSERT_TRUE(node->thaw(r).has_value());
    const int64_t until = realtime_ns() + 500 * ms;
    while (got.size() < sent.size() && realtime_ns() < until)
        if (rte_mbuf *m = d.take()) {
            const uint32_t seq = frame_seq(m);
            EXPECT_FALSE(got.count(seq)) << "frame " << seq << " duplicated";
            got.emplace(seq, realtime_ns());
            EXPECT_GE(realtime_ns(), r) << "frame " << seq << " left before R";
            EXPECT_EQ(rte_pktmbuf_pkt_len(m), 200u);
            rte_pktmbuf_free(m);
        }
    ASSERT_EQ(got.size(), sent.size()) << "frames lost across save and restore";
    // The last frame's departure, shifted: arrival + queueing + serialization + delay - F + R.
    const int64_t span_after_r = got.rbegin()->second - r;
    EXPECT_GT(span_after_r, 0);
    EXPECT_LT(span_after_r, 20 * ms);
}

TEST_F(node_test, a_full_disk_keeps_the_node_frozen_and_a_later_save_succeeds)
{
    ring_port &a = add_port("a"), &b = add_port("b");
    pipe_params p;
    p.delay_ns = 50 * ms;
    p.queue_slots = 2000;
    start({make_link("lan0", a, b, p)});
    int64_t f = 0;
    std::map<uint32_t, int64_t> got;
    fill_and_freeze(a, b, *node, f, got);

    temp_dir full;
    ASSERT_EQ(mount("tmpfs", full.path.c_str(), "tmpfs", 0, "size=4k"), 0) << "mount a 4 KiB tmpfs";
    full.mounted = true;
    auto r = node->save(full.path + "/x.stasis");
    ASSERT_FALSE(r.has_value()) << "saved 40 frames into 4 KiB";
    EXPECT_NE(r.error().message.find("No space left on device"), std::string::npos) << r.error().message;
    EXPECT_TRUE(node->frozen());

    temp_dir ok;
    auto again = node->save(ok.path + "/x.stasis");
    ASSERT_TRUE(again.has_value()) << again.error().message;
    EXPECT_EQ(again->packets, 40u - got.size()) << "the failed save lost frames";
}

TEST_F(node_test, a_damaged_snapshot_or_a_missing_link_changes_nothing)
{
    ring_port &a = add_port("a"), &b = add_port("b");
    pipe_params p;
    p.delay_ns = 50 * ms;
    start({make_link("lan0", a, b, p)});
    int64_t f = 0;
    std::map<uint32_t, int64_t> got;
    fill_and_freeze(a, b, *node, f, got);
    temp_dir dir;
    const std::string file = dir.path + "/s.stasis";
    ASSERT_TRUE(node->save(file).has_value());
    node.reset();

    ring_port &c = add_port("c"), &d = add_port("d");
    start({make_link("other", c, d, pipe_params{})});
    auto missing = node->load(file);
    ASSERT_FALSE(missing.has_value());
    EXPECT_NE(missing.error().message.find("no link 'lan0'"), std::string::npos) << missing.error().message;
    EXPECT_FALSE(node->frozen());

    node.reset();
    ring_port &e = add_port("e"), &g = add_port("g");
    start({make_link("lan0", e, g, pipe_params{})});
    {
        std::fstream io(file, std::ios::in | std::ios::out | std::ios::binary);
        io.seekp(200);
        io.put('\x5a');
    }
    auto damaged = node->load(file);
    ASSERT_FALSE(damaged.has_value());
    EXPECT_NE(damaged.error().message.find(file), std::string::npos) << damaged.error().message;
    EXPECT_FALSE(node->frozen());
    EXPECT_EQ(node->find("lan0")->applied.a_to_b, pipe_params{}) << "a failed load changed the link";
}

}  // namespace
}  // namespace stasis::test
