// The report's parts: histogram percentiles, time bins, the JSON shape, and detection of a wrong link.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "run_replay.hpp"
#include "stasis/replay/plot.hpp"

namespace stasis::replay::test {
namespace {

TEST(Report, HistogramExactBelow1024AndCloseAbove)
{
    histogram h;
    for (int64_t v = 1; v <= 1000; v++)
        h.add(v);
    EXPECT_EQ(h.percentile(0.5), 500);
    EXPECT_EQ(h.percentile(0.99), 990);
    EXPECT_EQ(h.percentile(1.0), 1000);
    EXPECT_EQ(h.percentile(0.0), 1);
    histogram big;
    for (int64_t v = 0; v < 100'000; v++)
        big.add(7'000'000 + v * 97);
    const double p50 = 7'000'000 + 49'999.0 * 97;
    EXPECT_NEAR(double(big.percentile(0.5)), p50, p50 / 1024);
    EXPECT_EQ(big.max(), 7'000'000 + 99'999 * 97);
    histogram s;
    for (int64_t v : {-5000, -3, 0, 0, 2, 4000})
        s.add(v);
    EXPECT_NEAR(double(s.percentile(1.0 / 6)), -5000, 5);
    EXPECT_EQ(s.percentile(0.5), 0);
    EXPECT_EQ(s.zeros(), 2u);
    const auto cdf = s.cdf();
    ASSERT_EQ(cdf.size(), 5u);
    EXPECT_DOUBLE_EQ(cdf.back().second, 1.0);
}

TEST(Report, TimeBinsDoubleAndKeepTotals)
{
    time_series ts(1'000, 8);
    uint64_t bytes = 0;
    for (int64_t t = 0; t < 100'000; t += 700) {
        ts.add_departure(t, 100);
        ts.add_queue_sample(t, uint64_t(t / 1000), 0);
        bytes += 100;
    }
    EXPECT_LE(ts.bins().size(), 8u);
    EXPECT_EQ(ts.bin_ns(), 16'000);  // 1000 doubled until 8 bins cover 100 us
    uint64_t total = 0, max_q = 0;
    for (const series_bin &b : ts.bins()) {
        total += b.out_bytes;
        max_q = std::max(max_q, b.q_max_packets);
    }
    EXPECT_EQ(total, bytes);
    EXPECT_EQ(max_q, 99u);
}

TEST(Report, JsonHasTheDocumentedFields)
{
    const auto in = random_trace(5, 3'000, 800 * us);
    auto p = link(10'000'000, 7 * ms, 20);
    const auto r = replay_packets(in, p, 100 * ms, 5 * ms);
    replay_options o;
    o.in_path = "in.pcap";
    o.out_path = "out.pcap";
    o.params = p;
    const std::string j = r.report->json(o, r.summary);
    for (const char *key : {"\"input\"", "\"output\"", "\"link\"", "\"exact\": true", "\"counts\"",
                            "\"drops\"", "\"delay_ns\"", "\"reference_delay_ns\"", "\"delay_error_ns\"",
                            "\"throughput\"",
                            "\"busy_ratio\"", "\"loss\"", "\"ci99\"", "\"reorderings\": 0", "\"queue\"",
                            "\"series\"", "\"checkpoint\"", "\"held_packets\"", "\"rate\":\"10Mbit\""})
        EXPECT_NE(j.find(key), std::string::npos) << key << "\n" << j.substr(0, 3000);
    const std::string t = r.report->text(o, r.summary);
    EXPECT_NE(t.find("EXACT"), std::string::npos) << t;
}

TEST(Report, DetectsADepartureOffByOneNanosecond)
{
    // The report's verdict must be able to say no: feed it a link that is 1 ns late once.
    const auto p = link(12'000'000, 1 * ms);
    fidelity_report rep(p);
    rep.on_arrival({1, epoch, 1500, 64, dataplane::drop_reason::none, {}});
    rep.on_arrival({2, epoch, 1500, 64, dataplane::drop_reason::none, {1, 1500}});
    rep.on_departure({1, epoch, 1500, epoch + 2 * ms, epoch + 2 * ms});
    rep.on_departure({2, epoch, 1500, epoch + 3 * ms + 1, epoch + 3 * ms + 1});
    EXPECT_FALSE(rep.exact());
    EXPECT_EQ(rep.delay_errors().max(), 1);
    EXPECT_EQ(rep.reorderings(), 0u);

    fidelity_report wrong_queue(p);
    wrong_queue.on_arrival({1, epoch, 1500, 64, dataplane::drop_reason::none, {0, 0}});
    wrong_queue.on_arrival({2, epoch, 1500, 64, dataplane::drop_reason::none, {0, 0}});  // should be 1
    EXPECT_EQ(wrong_queue.queue_mismatches(), 1u);
    EXPECT_FALSE(wrong_queue.exact());
}

TEST(Report, CountsReorderings)
{
    fidelity_report rep(link(0, 1 * ms));
    rep.on_arrival({1, epoch, 100, 64, dataplane::drop_reason::none, {}});
    rep.on_arrival({2, epoch, 100, 64, dataplane::drop_reason::none, {}});
    rep.on_departure({1, epoch, 100, epoch + 2 * ms, epoch + 2 * ms});
    rep.on_departure({2, epoch, 100, epoch + 1 * ms, epoch + 1 * ms});
    EXPECT_EQ(rep.reorderings(), 1u);
    EXPECT_FALSE(rep.exact());
}

// PATH set for the scope of a test.
class path_env {
public:
    explicit path_env(const char *value) : _old(std::getenv("PATH") ? std::getenv("PATH") : "")
    {
        ::setenv("PATH", value, 1);
    }
    ~path_env() { ::setenv("PATH", _old.c_str(), 1); }

private:
    std::string _old;
};

TEST(Report, PlotsArePngsOrAClearError)
{
    const auto r = replay_packets(random_trace(6, 2'000, 800 * us), link(10'000'000, 7 * ms, 20));
    temp_dir dir;
    {
        path_env none("/nonexistent");
        try {
            write_plots(dir / "plots", *r.report, link(10'000'000, 7 * ms, 20));
            ADD_FAILURE() << "plotting without gnuplot in PATH was not refused";
        } catch (const replay_error &e) {
            EXPECT_NE(std::string(e.what()).find("--plot needs gnuplot"), std::string::npos) << e.what();
        }
    }
    // scripts/bootstrap installs gnuplot-nox; without it this test fails with the tool's own message.
    require_gnuplot();
    write_plots(dir / "plots", *r.report, link(10'000'000, 7 * ms, 20));
    for (const char *png : {"delay_cdf.png", "throughput.png", "queue.png"}) {
        std::ifstream f(dir / "plots" + "/" + png, std::ios::binary);
        char magic[8] = {};
        f.read(magic, 8);
        EXPECT_EQ(std::string(magic + 1, 3), "PNG") << png;
        EXPECT_GT(std::filesystem::file_size(dir / "plots" + "/" + png), 10'000u) << png;
    }
}

}  // namespace
}  // namespace stasis::replay::test
