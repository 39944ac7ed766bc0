// Saving and reading back: parameters, model state, packets and header exactly as given; instants
// relative to F, so that a restore at R behaves as the original shifted by R - F.
#include <gtest/gtest.h>

#include "snapshot_test_util.hpp"
#include "stasis/dataplane/pipe_model.hpp"
#include "stasis/snapshot/reader.hpp"
#include "stasis/snapshot/writer.hpp"

namespace stasis::snapshot {
namespace {

namespace dp = stasis::dataplane;
using test::freeze_ns;

TEST(RoundTrip, EverythingComesBackExactly)
{
    test::temp_dir dir;
    const snapshot_data s = test::sample();
    const std::string path = dir.file("snap.stasis");
    ASSERT_TRUE(save_all(path, s)) << save_all(path, s).error().message;

    auto r = snapshot_reader::open(path);
    ASSERT_TRUE(r) << r.error().message;
    auto back = r->load_all();
    ASSERT_TRUE(back) << back.error().message;

    EXPECT_EQ(back->header, s.header);
    ASSERT_EQ(back->links.size(), s.links.size());
    for (size_t i = 0; i < s.links.size(); i++) {
        const link_data &want = s.links[i], &got = back->links[i];
        EXPECT_EQ(got.link, want.link) << want.link.name;
        for (size_t d = 0; d < 2; d++) {
            const pipe_data &wp = want.pipes[d], &gp = got.pipes[d];
            EXPECT_EQ(gp.pipe.dir, wp.pipe.dir);
            EXPECT_EQ(gp.pipe.params, wp.pipe.params) << want.link.name << " " << d;
            EXPECT_EQ(gp.pipe.state, wp.pipe.state) << want.link.name << " " << d;
            EXPECT_EQ(gp.pipe.counters, wp.pipe.counters);
            ASSERT_EQ(gp.packets.size(), wp.packets.size());
            for (size_t k = 0; k < wp.packets.size(); k++)
                ASSERT_EQ(gp.packets[k], wp.packets[k]) << want.link.name << " " << d << " #" << k;
        }
    }
    EXPECT_EQ(*back, s);
    // The sample has what it is meant to have.
    EXPECT_FALSE(s.links[0].pipes[0].pipe.state.queue.empty());
    EXPECT_NE(s.links[0].pipes[0].pipe.params.ge, dp::gilbert_elliott_params{});
    EXPECT_EQ(s.links[0].pipes[0].pipe.params.loss, dp::loss_kind::bernoulli);
}

TEST(RoundTrip, SummaryCountsWhatIsInFlight)
{
    test::temp_dir dir;
    const snapshot_data s = test::sample(25);
    const std::string path = dir.file("snap.stasis");
    ASSERT_TRUE(save_all(path, s));
    auto r = snapshot_reader::open(path);
    ASSERT_TRUE(r) << r.error().message;
    uint64_t packets = 0, bytes = 0;
    ASSERT_EQ(r->links().size(), 3u);
    for (size_t i = 0; i < s.links.size(); i++) {
        for (size_t d = 0; d < 2; d++) {
            const auto &want = s.links[i].pipes[d].packets;
            const pipe_summary &got = r->links()[i].pipes[d];
            uint64_t b = 0;
            for (const packet &p : want)
                b += p.frame.size();
            EXPECT_EQ(got.packets, want.size());
            EXPECT_EQ(got.bytes, b);
            if (!want.empty()) {
                EXPECT_EQ(got.oldest_depart_rel_ns, want.front().depart_rel_ns);
                EXPECT_EQ(got.newest_depart_rel_ns, want.back().depart_rel_ns);
            }
            packets += want.size();
            bytes += b;
        }
    }
    EXPECT_EQ(r->file().packets, packets);
    EXPECT_EQ(r->file().bytes, bytes);
    EXPECT_EQ(r->file().format_version, format::version);
    EXPECT_EQ(r->file().file_bytes, test::read_bytes(path).size());
}

// The model saved at absolute times, stored relative to F and restored at R, decides the next
// packets exactly as the original model shifted by R - F.
TEST(RoundTrip, RestoreAtRBehavesAsTheOriginalShifted)
{
    test::temp_dir dir;
    snapshot_data s = test::sample(5);
    dp::pipe_params params = s.links[0].pipes[1].pipe.params;  // GE loss, RED, byte queue
    dp::pipe_model original(params);
    std::mt19937_64 rng(3);
    int64_t t = freeze_ns - 20'000'000;
    for (int i = 0; i < 5'000; i++) {
        t += int64_t(rng() % 3'000);
        original.arrive(t, uint32_t(64 + rng() % 1'451));
    }
    s.links[0].pipes[1].pipe.state = shifted(original.save(), -freeze_ns);
    const std::string path = dir.file("snap.stasis");
    ASSERT_TRUE(save_all(path, s));

    auto back = test::load(path);
    ASSERT_TRUE(back) << back.error().message;
    const int64_t resume_ns = freeze_ns + 86'400'000'000'000;  // a day later
    const pipe_record &rec = back->links[0].pipes[1].pipe;
    dp::pipe_model restored = dp::pipe_model::restore(rec.params, shifted(rec.state, resume_ns));
    original.shift(resume_ns - freeze_ns);
    EXPECT_EQ(restored.save(), original.save());
    int64_t tr = resume_ns;
    for (int i = 0; i < 5'000; i++) {
        tr += int64_t(rng() % 3'000);
        const uint32_t len = uint32_t(64 + rng() % 1'451);
        const dp::verdict a = original.arrive(tr, len), b = restored.arrive(tr, len);
        ASSERT_EQ(a.drop, b.drop) << i;
        ASSERT_EQ(a.depart_ns, b.depart_ns) << i;
    }
}

TEST(RoundTrip, StreamingWriterAndReaderCallbacks)
{
    test::temp_dir dir;
    const snapshot_data s = test::sample(3);
    const std::string path = dir.file("snap.stasis");
    auto w = snapshot_writer::create(path, s.header);
    ASSERT_TRUE(w) << w.error().message;
    // The temporary is there until commit; the name is not.
    EXPECT_EQ(dir.entries().size(), 1u);
    EXPECT_TRUE(dir.entries()[0].starts_with(".snap.stasis.tmp-")) << dir.entries()[0];
    for (const link_data &l : s.links) {
        ASSERT_TRUE(w->begin_link(l.link));
        for (const pipe_data &p : l.pipes) {
            ASSERT_TRUE(w->add_pipe(p.pipe));
            for (const packet &pk : p.packets) {
                // A frame in two pieces, as a chained mbuf hands it over.
                const std::span<const std::byte> f(pk.frame);
                const std::span<const std::byte> pieces[] = {f.first(10), f.subspan(10)};
                ASSERT_TRUE(w->add_packet(pk.arrival_rel_ns, pk.depart_rel_ns, pieces));
            }
        }
    }
    ASSERT_TRUE(w->commit());
    EXPECT_EQ(dir.entries(), std::vector<std::string>{"snap.stasis"});
    EXPECT_EQ(w->bytes_written(), test::read_bytes(path).size());

    auto r = snapshot_reader::open(path);
    ASSERT_TRUE(r) << r.error().message;
    size_t seen = 0;
    auto ok = r->for_each_packet([&](const packet_ref &p) {
        const packet &want = s.links[p.link].pipes[size_t(p.dir)].packets[seen % 3];
        EXPECT_EQ(p.arrival_rel_ns, want.arrival_rel_ns);
        EXPECT_EQ(p.depart_rel_ns, want.depart_rel_ns);
        EXPECT_TRUE(std::ranges::equal(p.frame, want.frame));
        seen++;
        return true;
    });
    EXPECT_TRUE(ok) << ok.error().message;
    EXPECT_EQ(seen, 15u);  // wan's b_to_a is empty
    // A callback can stop the walk.
    auto stopped = r->for_each_packet([](const packet_ref &) { return false; });
    ASSERT_FALSE(stopped);
    EXPECT_EQ(stopped.error().code, errc::stopped);
}

TEST(RoundTrip, ChunksSplitLargeStates)
{
    // More than one chunk per pipe: 3000 frames of 1500 bytes are about 4.3 MiB.
    test::temp_dir dir;
    snapshot_data s = test::sample(0);
    std::mt19937_64 rng(5);
    for (int i = 0; i < 3'000; i++)
        s.links[1].pipes[0].packets.push_back({-i, i, test::frame_bytes(rng, 1'500)});
    const std::string path = dir.file("big.stasis");
    ASSERT_TRUE(save_all(path, s));
    const auto recs = test::records_of(test::read_bytes(path));
    const auto chunks =
        std::ranges::count(recs, uint32_t(format::record_type::packets), &test::record_at::type);
    EXPECT_EQ(chunks, 2);
    auto back = test::load(path);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(*back, s);
}

TEST(Writer, RefusesParametersThatWouldNotReadBack)
{
    test::temp_dir dir;
    snapshot_data s = test::sample(1);
    s.links[1].pipes[0].pipe.params.plr = 1.5;  // breaks the configuration's rules
    auto ok = save_all(dir.file("x.stasis"), s);
    ASSERT_FALSE(ok);
    EXPECT_EQ(ok.error().code, errc::invalid);
    EXPECT_NE(ok.error().message.find("link 'lan1' a_to_b: params: plr"), std::string::npos)
        << ok.error().message;
    EXPECT_TRUE(dir.entries().empty());  // the temporary is gone at once
}

TEST(Writer, CheckedOrder)
{
    test::temp_dir dir;
    const snapshot_data s = test::sample(1);
    const std::byte frame[64] = {};
    {
        auto w = snapshot_writer::create(dir.file("a"), s.header);
        ASSERT_TRUE(w);
        auto e = w->add_packet(0, 0, frame);
        ASSERT_FALSE(e);
        EXPECT_EQ(e.error().code, errc::usage);
        // The first error ends the snapshot.
        EXPECT_FALSE(w->begin_link(s.links[0].link));
        EXPECT_FALSE(w->commit());
        EXPECT_TRUE(dir.entries().empty());
    }
    {
        auto w = snapshot_writer::create(dir.file("b"), s.header);
        ASSERT_TRUE(w->begin_link(s.links[0].link));
        auto e = w->add_pipe(s.links[0].pipes[1].pipe);  // b_to_a first
        ASSERT_FALSE(e);
        EXPECT_NE(e.error().message.find("pipe b_to_a where a_to_b comes"), std::string::npos)
            << e.error().message;
    }
    {
        auto w = snapshot_writer::create(dir.file("c"), s.header);
        ASSERT_TRUE(w->begin_link(s.links[0].link));
        ASSERT_TRUE(w->add_pipe(s.links[0].pipes[0].pipe));
        EXPECT_FALSE(w->commit());  // b_to_a missing
    }
    {
        // Dropped without commit: nothing stays behind.
        auto w = snapshot_writer::create(dir.file("d"), s.header);
        ASSERT_TRUE(w->begin_link(s.links[0].link));
    }
    EXPECT_TRUE(dir.entries().empty());
}

TEST(Writer, ReplacesAnOlderFileOnlyOnCommit)
{
    test::temp_dir dir;
    const std::string path = dir.file("snap.stasis");
    const snapshot_data first = test::sample(2, 1), second = test::sample(4, 2);
    ASSERT_TRUE(save_all(path, first));
    {
        auto w = snapshot_writer::create(path, second.header);
        ASSERT_TRUE(w->begin_link(second.links[0].link));
        // abandoned
    }
    auto r = test::load(path);
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, first);
    ASSERT_TRUE(save_all(path, second));
    r = test::load(path);
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, second);
}

}  // namespace
}  // namespace stasis::snapshot
