// The exact cut in virtual time, through a snapshot file: several links run a trace; at F every
// link's state and every frame not yet departed go to a file; fresh models restored from the file alone
// resume at R. Each frame's fate must equal the uninterrupted run's, its departure shifted by exactly
// R - F when it departs at or after F, unchanged otherwise.
#include <random>

#include <gtest/gtest.h>

#include "snapshot_test_util.hpp"
#include "stasis/dataplane/pipe_model.hpp"
#include "stasis/snapshot/reader.hpp"
#include "stasis/snapshot/writer.hpp"

namespace stasis::snapshot {
namespace {

namespace dp = stasis::dataplane;
constexpr int64_t ms = 1'000'000;

struct arrival {
    int64_t t;
    uint32_t len;
};
struct fate {
    dp::drop_reason drop;
    int64_t depart;
    bool operator==(const fate &) const = default;
};

std::vector<dp::pipe_params> link_kinds()
{
    std::vector<dp::pipe_params> v;
    dp::pipe_params p;
    p.delay_ns = 7 * ms;
    p.rate_bps = 12'000'000;
    p.queue_slots = 30;
    v.push_back(p);  // delay + rate + slot queue
    p.loss = dp::loss_kind::bernoulli;
    p.plr = 0.05;
    p.seed = 11;
    v.push_back(p);  // + Bernoulli loss
    p.loss = dp::loss_kind::gilbert_elliott;
    p.ge = {0.02, 0.3, 0.001, 0.5};
    v.push_back(p);  // Gilbert-Elliott
    p.loss = dp::loss_kind::none;  // as a configuration would say it: no plr, no GE values
    p.plr = 0;
    p.ge = {};
    p.aqm = dp::aqm_kind::red;
    p.red = {5, 20, 0.02, 10};
    v.push_back(p);  // RED
    p.aqm = dp::aqm_kind::gred;
    p.queue_bytes = 40'000;
    p.red = {6'000, 20'000, 0.02, 10};
    v.push_back(p);  // GRED on a byte queue
    dp::pipe_params j;
    j.delay_ns = 5 * ms;
    j.jitter_ns = 2 * ms;
    j.jitter = dp::jitter_dist::normal;
    j.rate_bps = 50'000'000;
    j.seed = 5;
    v.push_back(j);  // jitter that never reorders
    return v;
}

std::vector<arrival> trace(uint64_t seed, int64_t start, int n)
{
    std::mt19937_64 rng(seed);
    std::vector<arrival> v;
    int64_t t = start;
    for (int i = 0; i < n; i++) {
        t += (rng() % 4 == 0) ? 0 : int64_t(rng() % 2'000'000);  // bursts and gaps
        v.push_back({t, uint32_t(60 + rng() % 1'455)});
    }
    return v;
}

TEST(Cut, SeveralLinksThroughAFileResumeExactlyShifted)
{
    const auto kinds = link_kinds();
    const int64_t f = test::freeze_ns, r = f + 3'600'000'000'000 + 17;  // an hour and 17 ns later
    const int64_t pause = r - f;
    std::vector<std::vector<arrival>> traces;
    std::vector<std::vector<fate>> straight(kinds.size());
    for (size_t k = 0; k < kinds.size(); k++) {
        traces.push_back(trace(100 + k, f - 1'500 * ms, 3'000));
        dp::pipe_model m(kinds[k]);
        for (const arrival &a : traces[k]) {
            const dp::verdict v = m.arrive(a.t, a.len);
            straight[k].push_back({v.drop, v.depart_ns});
        }
    }

    // The checkpointed run: arrivals before F, then the cut.
    test::temp_dir dir;
    const std::string path = dir.file("cut.stasis");
    std::vector<std::vector<fate>> cut(kinds.size());
    std::vector<size_t> resume_at(kinds.size());
    {
        header h;
        h.freeze_realtime_ns = f;
        auto w = snapshot_writer::create(path, h);
        ASSERT_TRUE(w) << w.error().message;
        for (size_t k = 0; k < kinds.size(); k++) {
            dp::pipe_model m(kinds[k]);
            std::vector<std::pair<size_t, int64_t>> held;  // index, departure
            size_t i = 0;
            for (; i < traces[k].size() && traces[k][i].t < f; i++) {
                const dp::verdict v = m.arrive(traces[k][i].t, traces[k][i].len);
                cut[k].push_back({v.drop, v.depart_ns});
                if (v.drop == dp::drop_reason::none && v.depart_ns >= f)
                    held.push_back({i, v.depart_ns});
            }
            resume_at[k] = i;
            dp::link_config l;
            l.name = "l" + std::to_string(k);
            l.a.port = "0";
            l.b.port = "1";
            auto begun = w->begin_link(link_info::of(l));
            ASSERT_TRUE(begun) << begun.error().message;
            pipe_record rec;
            rec.params = kinds[k];
            rec.state = shifted(m.save(), -f);
            auto added = w->add_pipe(rec);
            ASSERT_TRUE(added) << added.error().message;
            for (const auto &[idx, depart] : held) {
                // The frame carries its trace index, so the restored run can tell which it is.
                std::vector<std::byte> frame(traces[k][idx].len);
                std::memcpy(frame.data(), &idx, sizeof idx);
                auto put = w->add_packet(traces[k][idx].t - f, depart - f, frame);
                ASSERT_TRUE(put) << put.error().message;
            }
            pipe_record back = rec;
            back.dir = direction::b_to_a;
            back.state = shifted(dp::pipe_model(kinds[k]).save(), -f);
            auto second = w->add_pipe(back);
            ASSERT_TRUE(second) << second.error().message;
        }
        auto done = w->commit();
        ASSERT_TRUE(done) << done.error().message;
    }

    // Fresh models from the file alone, resumed at R.
    auto reader = snapshot_reader::open(path);
    ASSERT_TRUE(reader) << reader.error().message;
    ASSERT_EQ(reader->links().size(), kinds.size());
    std::vector<dp::pipe_model> models;
    for (const auto &ls : reader->links())
        models.push_back(dp::pipe_model::restore(ls.pipes[0].pipe.params, shifted(ls.pipes[0].pipe.state, r)));
    size_t held_total = 0;
    ASSERT_TRUE(reader->for_each_packet([&](const packet_ref &p) {
        size_t idx;
        std::memcpy(&idx, p.frame.data(), sizeof idx);
        const fate want = straight[p.link][idx];
        EXPECT_EQ(p.depart_rel_ns + r, want.depart + pause) << "link " << p.link << " frame " << idx;
        EXPECT_EQ(p.arrival_rel_ns + f, traces[p.link][idx].t);
        held_total++;
        return true;
    }));
    EXPECT_GT(held_total, 20u) << "the cut should hold frames in the queues and delay lines";

    for (size_t k = 0; k < kinds.size(); k++) {
        for (size_t i = resume_at[k]; i < traces[k].size(); i++) {
            const dp::verdict v = models[k].arrive(traces[k][i].t + pause, traces[k][i].len);
            cut[k].push_back({v.drop, v.depart_ns});
        }
        ASSERT_EQ(cut[k].size(), straight[k].size());
        size_t after = 0;
        for (size_t i = 0; i < straight[k].size(); i++) {
            fate want = straight[k][i];
            if (want.drop == dp::drop_reason::none && (i >= resume_at[k] || want.depart >= f))
                want.depart += i >= resume_at[k] ? pause : 0;  // arrivals after F: shifted by the restore
            if (want.drop != dp::drop_reason::none)
                want.depart = cut[k][i].depart;  // a dropped frame has no departure
            ASSERT_EQ(cut[k][i].drop, straight[k][i].drop) << "link " << k << " frame " << i;
            ASSERT_EQ(cut[k][i].depart, want.depart) << "link " << k << " frame " << i;
            after += i >= resume_at[k];
        }
        EXPECT_GT(after, 100u);
    }
}

}  // namespace
}  // namespace stasis::snapshot
