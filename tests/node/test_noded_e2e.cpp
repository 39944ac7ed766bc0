// stasis-noded with one real TCG guest (icount, frozen mode, a qcow2 disk), driven by the real controller:
// `stasis checkpoint`, `stasis swapout`, a new daemon, `stasis swapin EXP c1`. The guest's clock monitor
// must not see the cuts (< 1 ms), and the disk must travel in time: what was written before c1 is there
// after the swap-in of c1, what was written after it is not.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fcntl.h>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "guest_env.hpp"
#include "run_command.hpp"
#include "stasis/node/guest_agent.hpp"
#include "stasis/node/qmp_client.hpp"

namespace stasis::node {
namespace {

using json = nlohmann::json;
using ms = std::chrono::milliseconds;
using test::ms_ns;
using test::now_ns;
namespace fs = std::filesystem;

int64_t num(const json &j)
{
    return j.is_string() ? std::stoll(j.get<std::string>()) : j.is_number() ? j.get<int64_t>() : 0;
}

// A daemon of the test: killed (SIGTERM, then SIGKILL) by its PID when the test ends, and by the kernel
// if the test dies (PR_SET_PDEATHSIG).
class daemon_process {
public:
    daemon_process(const std::vector<std::string> &argv, const std::string &log)
    {
        const pid_t parent = getpid();
        _pid = fork();
        if (_pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            if (getppid() != parent)
                _exit(127);
            const int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
            dup2(out, 1);
            dup2(out, 2);
            std::vector<char *> args;
            for (const auto &a : argv)
                args.push_back(const_cast<char *>(a.c_str()));
            args.push_back(nullptr);
            execv(args[0], args.data());
            _exit(127);
        }
    }
    ~daemon_process() { stop(); }
    // Waits up to `timeout` for it to exit by itself; its exit status, or -1.
    int wait_exit(ms timeout)
    {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (_pid > 0 && std::chrono::steady_clock::now() < deadline) {
            int status = 0;
            if (waitpid(_pid, &status, WNOHANG) == _pid) {
                _pid = 0;
                return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            }
            std::this_thread::sleep_for(ms(20));
        }
        return -1;
    }
    void stop()
    {
        if (_pid <= 0)
            return;
        kill(_pid, SIGTERM);
        if (wait_exit(ms(15'000)) < 0) {
            kill(_pid, SIGKILL);
            waitpid(_pid, nullptr, 0);
            _pid = 0;
        }
    }
    pid_t pid() const { return _pid; }

private:
    pid_t _pid = 0;
};

bool wait_for_line(const std::string &log, const std::string &text, ms timeout)
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        std::ifstream in(log);
        std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (all.find(text) != std::string::npos)
            return true;
        std::this_thread::sleep_for(ms(50));
    }
    return false;
}

// Kills a QEMU left behind by a daemon that was killed itself (its -pidfile).
void kill_leftover_qemu(const std::string &pidfile)
{
    std::ifstream in(pidfile);
    int pid = 0;
    if (in >> pid && pid > 0 && kill(pid, 0) == 0)
        kill(pid, SIGKILL);
}

class noded_e2e : public ::testing::Test {
protected:
    void SetUp() override
    {
        _image = test::image_from_env();
        noded = getenv("STASIS_NODED") ? getenv("STASIS_NODED") : "";
        cli = getenv("STASIS_CLI") ? getenv("STASIS_CLI") : "";
        if (_image.kernel.empty() || noded.empty() || cli.empty())
            GTEST_SKIP() << "STASIS_GUEST_KERNEL/INITRD, STASIS_NODED, STASIS_CLI not set (meson test sets them)";
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
        std::ofstream(dir + "/demo.exp") << "name: \"demo\"\ncatalog: \"catalog.db\"\ntimeout_ms: 30000\ntries: 2\n"
                                         << "agent {\n  name: \"n1\"\n  role: NODE\n  endpoint: \"ipc://" << dir
                                         << "/noded.sock\"\n  snapshot_dir: \"snaps\"\n}\n";
    }
    void TearDown() override
    {
        _daemon.reset();
        kill_leftover_qemu(run_dir + "/qemu.pid");
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
        ASSERT_TRUE(wait_for_line(log, "stasis-noded: ready", ms(30'000))) << "see " << log;
    }

    // `stasis COMMAND demo.exp ARGS --json`: the OpReport; the command must succeed.
    json controller(const std::string &command, std::vector<std::string> args = {})
    {
        std::vector<std::string> argv{cli, command, dir + "/demo.exp"};
        argv.insert(argv.end(), args.begin(), args.end());
        argv.push_back("--json");
        const int64_t t0 = now_ns();
        auto out = run_command(argv);
        EXPECT_TRUE(out);
        if (!out)
            return {};
        std::printf("[stasis %s] %.0f ms, exit %d\n%s", command.c_str(), (now_ns() - t0) / 1e6, out->exit_status,
                    out->err.c_str());
        EXPECT_EQ(out->exit_status, 0) << out->out << out->err;
        return json::parse(out->out, nullptr, false);
    }

    // The guest's disk through its QEMU's block layer (HMP qemu-io on a second QMP monitor of the test).
    // QEMU prints qemu-io's report on its own output, which goes to qemu.log: the new part is the answer.
    std::string qemu_io(const std::string &command)
    {
        auto qmp = qmp_client::connect(test_qmp, ms(10'000));
        EXPECT_TRUE(qmp) << qmp.error().message;
        if (!qmp)
            return "no QMP";
        const std::string log = run_dir + "/qemu.log";
        std::error_code ec;
        const auto before = fs::exists(log, ec) ? fs::file_size(log, ec) : 0;
        auto r = qmp->execute("human-monitor-command", {{"command-line", "qemu-io virtio0 \"" + command + "\""}});
        EXPECT_TRUE(r) << r.error().message;
        std::ifstream in(log);
        in.seekg(std::streamoff(before));
        std::string out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        return out + (r && r->is_string() ? r->get<std::string>() : "");
    }
    bool reads(int pattern, int block)
    {
        const std::string out = qemu_io("read -P " + std::to_string(pattern) + " " + std::to_string(block * 65536) +
                                        " 65536");
        return out.find("read 65536/65536") != std::string::npos &&
               out.find("Pattern verification failed") == std::string::npos;
    }
    std::string live_disk()
    {
        auto qmp = qmp_client::connect(test_qmp, ms(10'000));
        if (!qmp)
            return {};
        auto blocks = qmp->execute("query-block");
        for (const auto &b : blocks ? *blocks : json::array())
            if (b.value("device", "") == "virtio0")
                return b["inserted"].value("file", "");
        return {};
    }

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
    static void print_report(const char *what, const json &rep)
    {
        std::string phases;
        for (const auto &p : rep.value("phases", json::array()))
            phases += " " + p.value("name", "") + " " + std::to_string(num(p["duration_ns"]) / 1'000'000) + " ms";
        std::printf("[%s] %s:%s\n", what, rep.value("message", "").c_str(), phases.c_str());
        for (const auto &a : rep.value("agents", json::array()))
            std::printf("[%s] agent %s: freeze skew %+.3f ms, artifact %s (%.1f MiB), state %s\n", what,
                        a.value("agent", "").c_str(), num(a["freeze_skew_ns"]) / 1e6, a.value("artifact", "").c_str(),
                        num(a["artifact_bytes"]) / 1048576.0, a.value("state", "").c_str());
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
    print_report("checkpoint c1", c1);
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
    print_report("swapout c2", out);
    EXPECT_EQ(daemon().wait_exit(ms(20'000)), 0) << "stasis-noded exits after the release";
    std::ifstream pidfile(run_dir + "/qemu.pid");
    int qemu_pid = 0;
    if (pidfile >> qemu_pid) {
        EXPECT_NE(kill(qemu_pid, 0), 0) << "QEMU " << qemu_pid << " is still there after the swap-out";
    }

    start_daemon(false);
    const json in = controller("swapin", {"c1"});
    print_report("swapin c1", in);
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
    const std::string live = live_disk();
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
