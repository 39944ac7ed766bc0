// stasis-noded with one real TCG guest (icount, frozen mode, a qcow2 disk), driven by the real controller:
// `stasis checkpoint`, `stasis swapout`, a new daemon, `stasis swapin EXP c1`. The guest's clock monitor
// must not see the cuts (< 1 ms), and the disk must travel in time: what was written before c1 is there
// after the swap-in of c1, what was written after it is not.
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "noded_harness.hpp"
#include "stasis/node/guest_agent.hpp"

namespace stasis::node {
namespace {

using json = nlohmann::json;
using ms = std::chrono::milliseconds;
using test::daemon_process;
using test::ms_ns;
using test::now_ns;
using test::num;
namespace fs = std::filesystem;

class noded_e2e : public ::testing::Test {
protected:
    void SetUp() override
    {
        _image = test::image_from_env();
        noded = getenv("STASIS_NODED") ? getenv("STASIS_NODED") : "";
        cli = getenv("STASIS_CLI") ? getenv("STASIS_CLI") : "";
        if (_image.kernel.empty() || noded.empty() || cli.empty())
            GTEST_FAIL() << "STASIS_GUEST_KERNEL/INITRD, STASIS_NODED, STASIS_CLI not set (meson test sets them)";
        _tmp = std::make_unique<test::temp_dir>();
        dir = _tmp->path();
        ASSERT_FALSE(dir.empty());
        ASSERT_TRUE(run_checked({"qemu-img", "create", "-q", "-f", "raw", dir + "/base.raw", "16M"}));
        run_dir = dir + "/state/run/g1";
        test_qmp = dir + "/test-qmp.sock";
        std::ofstream(dir + "/node.conf")
            << "name: \"n1\"\ncontrol: \"ipc://" << dir << "/noded.sock\"\nstate_dir: \"state\"\n"
            << "guest {\n  name: \"g1\"\n  kernel: \"" << _image.kernel << "\"\n  initrd: \"" << _image.initrd
            << "\"\n  append: \"console=ttyS0 panic=-1 tsc=reliable stasis.name=g1\"\n  memory_mb: 256\n"
            << "  disk_base: \"base.raw\"\n  time_mode: FROZEN\n  icount: \"shift=auto,sleep=on\"\n"
            << "  extra_arg: \"-qmp\"\n  extra_arg: \"unix:" << test_qmp << ",server=on,wait=off\"\n}\n";
        std::ofstream(dir + "/demo.exp") << "name: \"demo\"\ncatalog: \"catalog.db\"\ntimeout_ms: 1000\ntries: 2\n"
                                         << "agent {\n  name: \"n1\"\n  role: NODE\n  endpoint: \"ipc://" << dir
                                         << "/noded.sock\"\n  snapshot_dir: \"snaps\"\n}\n";
    }
    void TearDown() override
    {
        _daemon.reset();
        test::kill_leftover_qemu(run_dir + "/qemu.pid");
    }

    void start_daemon(bool boot)
    {
        std::vector<std::string> argv{noded, "--config", dir + "/node.conf", "--plain"};
        if (boot)
            argv.push_back("--start");
        _daemon.reset();
        fs::remove(test_qmp);
        const std::string log = dir + "/noded.log";
        std::ofstream(log, std::ios::app) << "---\n";
        _daemon = std::make_unique<daemon_process>(argv, log);
        ASSERT_TRUE(test::wait_for_line(log, "stasis-noded: ready", ms(30'000))) << "see " << log;
    }

    // `stasis COMMAND demo.exp ARGS --json`: the OpReport; the command must succeed.
    json controller(const std::string &command, std::vector<std::string> args = {})
    {
        auto r = test::run_cli(cli, command, dir + "/demo.exp", std::move(args));
        EXPECT_EQ(r.exit_status, 0) << r.report.dump() << r.progress;
        return r.report;
    }
    test::test_monitor monitor() const { return {test_qmp, run_dir + "/qemu.log"}; }
    std::string qemu_io(const std::string &command) { return monitor().qemu_io(command); }
    bool reads(int pattern, int block) { return monitor().reads(pattern, block); }

    static void expect_no_gap(const json &clock, const char *what)
    {
        const double mono_ms = num(clock["max_mono"]["step_ns"]) / 1e6;
        const double real_ms = num(clock["max_real"]["step_ns"]) / 1e6;
        std::printf("[%s] guest clock over %.3f s: max step mono %.3f ms real %.3f ms; steps > 1 ms: mono %lld "
                    "real %lld\n",
                    what, num(clock["duration_ns"]) / 1e9, mono_ms, real_ms,
                    (long long)num(clock["mono_steps_over_1ms"]), (long long)num(clock["real_steps_over_1ms"]));
        EXPECT_LT(mono_ms, 1.0) << what;
        EXPECT_LT(real_ms, 1.0) << what;
        EXPECT_EQ(num(clock["mono_steps_over_1ms"]), 0) << what;
    }
    std::string dir, run_dir, test_qmp, noded, cli;

private:
    test::guest_image _image;
    std::unique_ptr<test::temp_dir> _tmp;
    std::unique_ptr<daemon_process> _daemon;

protected:
    daemon_process &daemon() { return *_daemon; }
};

TEST_F(noded_e2e, checkpoint_swapout_and_swapin_of_an_older_checkpoint)
{
    start_daemon(true);
    const int64_t t0 = now_ns();
    auto agent = guest_agent::connect(run_dir + "/agent.sock", ms(120'000));
    ASSERT_TRUE(agent) << agent.error().message;
    ASSERT_TRUE(agent->call("hello"));
    std::printf("[boot] guest agent answers %.1f s after the daemon was ready\n", (now_ns() - t0) / 1e9);
    ASSERT_TRUE(agent->set_clock(now_ns()));
    ASSERT_TRUE(agent->clock_start());

    EXPECT_NE(qemu_io("write -P 0x22 65536 65536").find("wrote 65536/65536"), std::string::npos);
    ASSERT_TRUE(reads(0x22, 1));

    // c1: freeze, save (disk snapshot + state), resume in place.
    const json c1 = controller("checkpoint", {"--message", "before"});
    ASSERT_TRUE(c1.is_object());
    test::print_report("checkpoint c1", c1);
    ASSERT_EQ(c1.value("checkpoint", ""), "c1");
    ASSERT_EQ(c1["agents"].size(), 1u);
    const int64_t skew_ns = num(c1["agents"][0]["freeze_skew_ns"]);
    EXPECT_GE(skew_ns, 0);
    EXPECT_LT(skew_ns, 50 * ms_ns) << "the guest stopped within 50 ms of F";
    EXPECT_TRUE(fs::exists(dir + "/snaps/demo/c1/n1/manifest.json"));
    EXPECT_TRUE(fs::exists(dir + "/snaps/demo/c1/n1/g1.state"));
    std::this_thread::sleep_for(ms(1500));
    auto across_c1 = agent->clock_stats();
    ASSERT_TRUE(across_c1) << across_c1.error().message;
    expect_no_gap((*across_c1)["clock"], "across checkpoint c1 (resumed in place)");

    // After c1: these writes must not survive the time travel back to c1.
    EXPECT_NE(qemu_io("write -P 0x33 65536 65536").find("wrote"), std::string::npos);
    EXPECT_NE(qemu_io("write -P 0x44 131072 65536").find("wrote"), std::string::npos);
    ASSERT_TRUE(reads(0x33, 1));

    const json out = controller("swapout");
    test::print_report("swapout c2", out);
    EXPECT_EQ(daemon().wait_exit(ms(20'000)), 0) << "stasis-noded exits after the release";
    std::ifstream pidfile(run_dir + "/qemu.pid");
    int qemu_pid = 0;
    if (pidfile >> qemu_pid) {
        EXPECT_NE(kill(qemu_pid, 0), 0) << "QEMU " << qemu_pid << " is still there after the swap-out";
    }

    start_daemon(false);
    const json in = controller("swapin", {"c1"});
    test::print_report("swapin c1", in);
    EXPECT_EQ(in.value("branch", ""), "b1");

    std::this_thread::sleep_for(ms(1500));
    agent = guest_agent::connect(run_dir + "/agent.sock", ms(20'000));  // the new QEMU's socket
    ASSERT_TRUE(agent) << agent.error().message;
    auto across_swap = agent->clock_stats();
    ASSERT_TRUE(across_swap) << across_swap.error().message;
    // The window started before c1; the guest state is c1's, so it spans c1's cut and the swap-in's.
    expect_no_gap((*across_swap)["clock"], "across swapin of c1");

    EXPECT_TRUE(reads(0x22, 1)) << "written before c1: must be there";
    EXPECT_FALSE(reads(0x33, 1)) << "written after c1: must not be there";
    EXPECT_TRUE(reads(0x00, 2)) << "written after c1: must not be there";

    // The disk is a new branch on c1's snapshot, which stands on the first layer's file over the base.
    const std::string live = monitor().live_disk();
    auto chain_out = run_checked({"qemu-img", "info", "-U", "--output=json", "--backing-chain", live});
    ASSERT_TRUE(chain_out) << chain_out.error().message;
    std::vector<std::string> chain;
    for (const auto &l : json::parse(*chain_out))
        chain.push_back(fs::path(l.value("filename", "")).filename().string());
    EXPECT_EQ(chain, (std::vector<std::string>{fs::path(live).filename().string(), "g1.1.qcow2", "base.raw"}));
    std::printf("[disk] after swapin of c1: %s\n", [&] {
        std::string s;
        for (const auto &c : chain)
            s += (s.empty() ? "" : " -> ") + c;
        return s;
    }().c_str());
}

}  // namespace
}  // namespace stasis::node
