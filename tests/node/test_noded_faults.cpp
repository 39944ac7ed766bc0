// stasis-noded's failures, with real TCG guests, driven by the real controller: two node agents (n1 with
// guest g1 and a qcow2 disk, its checkpoints on a small tmpfs; n2 with guest g2) booted once for every case:
// a QEMU that does not stop at F (SIGSTOPped), a full disk during the save, QEMU SIGKILLed before F and
// during the save. Each must fail the checkpoint with an error naming the guest and what happened, resume
// the other agent at the one R of the abort, leave noded serving, and keep every committed checkpoint
// restorable (a time travel to it brings the guest's disk back as it was).
#include <dirent.h>
#include <sys/statvfs.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <optional>

#include "noded_harness.hpp"
#include "stasis/node/guest_agent.hpp"

namespace stasis::node {
namespace {

using test::daemon_process;
using test::json;
using test::ms;
using test::ms_ns;
using test::now_ns;
using test::num;
namespace fs = std::filesystem;

constexpr int64_t stop_timeout_ns = 2000 * ms_ns;  // the default stop_timeout_ms (docs/NODE.md)
constexpr int64_t resume_tolerance_ns = 100 * ms_ns;  // a TCG guest's cont lands a few ms after R

bool has(const std::string &text, const std::string &part) { return text.find(part) != std::string::npos; }

void sleep_until_ns(int64_t t)
{
    if (const int64_t left = t - now_ns(); left > 0)
        std::this_thread::sleep_for(std::chrono::nanoseconds(left));
}

// A stopped PID of ours: SIGCONT when it goes out of scope (a stopped QEMU must not outlive a
// failed assertion).
struct signalled {
    pid_t pid;
    ~signalled() { kill(pid, SIGCONT); }
};

// A tmpfs of the test, unmounted (lazily if busy) when it goes out of scope.
class tmpfs_mount {
public:
    tmpfs_mount(std::string dir, const std::string &size) : _dir(std::move(dir))
    {
        fs::create_directories(_dir);
        auto r = run_command({"mount", "-t", "tmpfs", "-o", "size=" + size, "stasis-faults", _dir});
        _mounted = r && r->exit_status == 0;
    }
    ~tmpfs_mount()
    {
        if (_mounted && !run_checked({"umount", _dir}))
            (void)run_command({"umount", "-l", _dir});
    }
    bool mounted() const { return _mounted; }

private:
    std::string _dir;
    bool _mounted = false;
};

// Unmounts the tmpfs of an earlier run that was killed (its PID in the directory name is gone).
void unmount_leftovers()
{
    std::ifstream mounts("/proc/mounts");
    std::string dev, where, rest;
    while (mounts >> dev >> where && std::getline(mounts, rest)) {
        int pid = 0;
        if (dev == "stasis-faults" && std::sscanf(where.c_str(), "/tmp/stasis-faults-%d-", &pid) == 1 &&
            kill(pid, 0) != 0)
            (void)run_command({"umount", "-l", where});
    }
}

// The guests, daemons, tmpfs and files of every case; torn down in reverse, whatever failed.
struct fault_lab {
    std::string dir, cli, noded;
    std::unique_ptr<tmpfs_mount> snaps;  // n1's snapshot_dir
    std::unique_ptr<daemon_process> n1, n2;

    std::string exp() const { return dir + "/demo.exp"; }
    std::string snap_dir() const { return dir + "/snap-n1"; }
    std::string run_dir(const char *g) const { return dir + "/" + (g[1] == '1' ? "n1" : "n2") + "/run/" + g; }
    std::string test_qmp(const char *g) const { return dir + "/" + g + "-test-qmp.sock"; }
    test::test_monitor monitor(const char *g) const { return {test_qmp(g), run_dir(g) + "/qemu.log"}; }
    pid_t qemu_pid(const char *g) const { return test::pid_in(run_dir(g) + "/qemu.pid"); }
    std::string noded_log(const char *n) const { return dir + "/" + n + ".log"; }

    void write_node(const char *n, const char *g, const test::guest_image &image, bool disk) const
    {
        std::ofstream(dir + "/" + n + ".conf")
            << "name: \"" << n << "\"\ncontrol: \"ipc://" << dir << "/" << n << ".sock\"\nstate_dir: \"" << n
            << "\"\nguest {\n  name: \"" << g << "\"\n  kernel: \"" << image.kernel << "\"\n  initrd: \""
            << image.initrd << "\"\n  append: \"console=ttyS0 panic=-1 tsc=reliable stasis.name=" << g << "\"\n"
            << (disk ? "  memory_mb: 256\n  disk_base: \"base.raw\"\n  icount: \"shift=auto,sleep=on\"\n"
                     : "  memory_mb: 128\n")
            << "  extra_arg: \"-qmp\"\n  extra_arg: \"unix:" << test_qmp(g) << ",server=on,wait=off\"\n}\n";
    }
    std::unique_ptr<daemon_process> start(const char *n) const
    {
        auto d = std::make_unique<daemon_process>(
            std::vector<std::string>{noded, "--config", dir + "/" + n + ".conf", "--plain", "--start"}, noded_log(n));
        EXPECT_TRUE(test::wait_for_line(noded_log(n), "stasis-noded: ready", ms(30'000))) << "see " << noded_log(n);
        return d;
    }
    ~fault_lab()
    {
        n1.reset();
        n2.reset();
        for (const char *g : {"g1", "g2"})
            test::kill_leftover_qemu(run_dir(g) + "/qemu.pid");
        snaps.reset();
        if (!dir.empty() && !std::getenv("STASIS_KEEP_RUN_DIR"))
            fs::remove_all(dir);
    }
};

class noded_faults : public ::testing::Test {
protected:
    static void SetUpTestSuite()
    {
        const auto image = test::image_from_env();
        const char *noded = std::getenv("STASIS_NODED");
        const char *cli = std::getenv("STASIS_CLI");
        if (image.kernel.empty() || !noded || !cli)
            return;  // each test fails, saying why
        if (geteuid() != 0)
            return;
        unmount_leftovers();
        lab = std::make_unique<fault_lab>();
        char tmpl[64];
        std::snprintf(tmpl, sizeof tmpl, "/tmp/stasis-faults-%d-XXXXXX", int(getpid()));
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        lab->dir = tmpl;
        lab->noded = noded;
        lab->cli = cli;
        // Room for three checkpoints of g1 (85-90 MiB each); the disk-full case fills the rest.
        lab->snaps = std::make_unique<tmpfs_mount>(lab->snap_dir(), "400m");
        ASSERT_TRUE(lab->snaps->mounted()) << "mount -t tmpfs on " << lab->snap_dir();
        ASSERT_TRUE(run_checked({"qemu-img", "create", "-q", "-f", "raw", lab->dir + "/base.raw", "16M"}));
        lab->write_node("n1", "g1", image, true);
        lab->write_node("n2", "g2", image, false);
        std::ofstream(lab->exp()) << "name: \"demo\"\ncatalog: \"catalog.db\"\ntimeout_ms: 20000\ntries: 2\n"
                                  << "agent {\n  name: \"n1\"\n  role: NODE\n  endpoint: \"ipc://" << lab->dir
                                  << "/n1.sock\"\n  snapshot_dir: \"snap-n1\"\n}\n"
                                  << "agent {\n  name: \"n2\"\n  role: NODE\n  endpoint: \"ipc://" << lab->dir
                                  << "/n2.sock\"\n  snapshot_dir: \"snap-n2\"\n}\n";
        const int64_t t0 = now_ns();
        lab->n1 = lab->start("n1");
        lab->n2 = lab->start("n2");
        auto agent = guest_agent::connect(lab->run_dir("g1") + "/agent.sock", ms(120'000));
        ASSERT_TRUE(agent) << agent.error().message;
        ASSERT_TRUE(agent->call("hello"));
        std::printf("[boot] g1's agent answers %.1f s after the daemons started\n", (now_ns() - t0) / 1e9);
        // c1: the checkpoint every case must keep. Block 1 holds 0x22 in it.
        ASSERT_TRUE(lab->monitor("g1").writes(0x22, 1));
        auto c1 = test::run_cli(lab->cli, "checkpoint", lab->exp(), {"--message", "c1"});
        test::print_report("checkpoint c1", c1.report);
        ASSERT_EQ(c1.exit_status, 0);
        ASSERT_EQ(c1.report.value("checkpoint", ""), "c1");
        ASSERT_EQ(lab->monitor("g1").wait_running(), "running");
        ASSERT_TRUE(lab->monitor("g1").writes(0x33, 1));  // after c1: gone when c1 comes back
    }
    static void TearDownTestSuite() { lab.reset(); }

    void SetUp() override
    {
        if (!lab)
            GTEST_FAIL() << "needs root (a tmpfs), and STASIS_GUEST_KERNEL/INITRD, STASIS_NODED, STASIS_CLI "
                            "(meson test sets them)";
        ASSERT_TRUE(lab->n1 && lab->n2);
        ASSERT_EQ(lab->monitor("g1").wait_running(), "running") << "g1 must run when a case starts";
    }

    // The checkpoint states of the catalog, by name.
    static std::map<std::string, std::string> checkpoints()
    {
        std::map<std::string, std::string> out;
        auto r = run_command({lab->cli, "checkpoints", lab->exp(), "--json"});
        const json tree = r ? json::parse(r->out, nullptr, false) : json();
        for (const auto &c : tree.is_object() ? tree.value("checkpoints", json::array()) : json::array())
            out[c.value("name", "")] = c.value("state", "");
        return out;
    }

    // The failed checkpoint's report: exit 1, both agents aborted at one R (R + each one's offset); each
    // guest's RESUME (seen on the test's own monitor) within the tolerance of R. Returns R.
    static int64_t expect_aborted(const test::cli_run &run, const char *what,
                                  std::map<std::string, std::optional<qmp_client>> &events)
    {
        test::print_report(what, run.report);
        EXPECT_EQ(run.exit_status, 1) << what;
        EXPECT_FALSE(run.report.value("ok", true)) << what;
        const int64_t r = num(run.report["resume_ns"]);
        EXPECT_GT(r, num(run.report["freeze_ns"])) << what << ": R after F";
        for (const auto &a : run.report.value("agents", json::array())) {
            EXPECT_EQ(a.value("state", ""), "aborted") << what << ": " << a.dump();
            EXPECT_EQ(num(a["resume_ns"]) - num(a["offset_ns"]), r) << what << ": " << a.value("agent", "")
                                                                    << " resumes at the common R";
        }
        EXPECT_EQ(checkpoints()[run.report.value("checkpoint", "?")], "aborted") << what;
        for (auto &[g, qmp] : events) {
            auto resumed = qmp->wait_event("RESUME", ms(10'000), r - 1000 * ms_ns);
            if (!resumed) {
                ADD_FAILURE() << what << ": no RESUME of " << g << ": " << resumed.error().message;
                continue;
            }
            const int64_t late = resumed->timestamp_ns - r;
            std::printf("[%s] %s resumed at R %+.3f ms\n", what, g.c_str(), late / 1e6);
            EXPECT_GE(late, -1 * ms_ns) << what << ": " << g << " resumed before R";
            EXPECT_LT(late, resume_tolerance_ns) << what << ": " << g << " resumed late";
        }
        return r;
    }

    // QMP connections to the test's monitors of these guests, opened before an operation so that they see
    // its events (one connection per monitor: close them before qemu_io).
    static std::map<std::string, std::optional<qmp_client>> watch(std::initializer_list<const char *> guests)
    {
        std::map<std::string, std::optional<qmp_client>> out;
        for (const char *g : guests) {
            auto q = qmp_client::connect(lab->test_qmp(g), ms(10'000));
            EXPECT_TRUE(q) << q.error().message;
            if (q)
                out[g].emplace(std::move(*q));
        }
        return out;
    }

    // Both daemons still run and answer (`stasis status`: reachable, nothing frozen).
    static void expect_serving(const char *what)
    {
        EXPECT_TRUE(lab->n1->running()) << what << ": n1 exited; see " << lab->noded_log("n1");
        EXPECT_TRUE(lab->n2->running()) << what << ": n2 exited";
        auto r = run_command({lab->cli, "status", lab->exp()});
        ASSERT_TRUE(r);
        std::printf("[%s] stasis status:\n%s", what, r->out.c_str());
        EXPECT_EQ(r->exit_status, 0) << r->err;
        EXPECT_TRUE(has(r->out, "n1 ") && has(r->out, "n2 ")) << r->out;
        EXPECT_FALSE(has(r->out, "down") || has(r->out, "frozen")) << what << ": " << r->out;
    }

    // `stasis checkpoint` in the background; F from its progress line "prepare: F = ... = NS ns".
    struct background_checkpoint {
        std::string out, err;
        std::unique_ptr<daemon_process> proc;
        int64_t freeze_ns = 0;

        explicit background_checkpoint(const std::string &tag, const std::string &lead_ms)
            : out(lab->dir + "/" + tag + ".json"), err(lab->dir + "/" + tag + ".progress")
        {
            proc = std::make_unique<daemon_process>(
                std::vector<std::string>{lab->cli, "checkpoint", lab->exp(), "--lead", lead_ms, "--json"}, out, err);
            const auto deadline = std::chrono::steady_clock::now() + ms(20'000);
            while (!freeze_ns && std::chrono::steady_clock::now() < deadline) {
                const std::string text = test::read_text(err);
                if (const auto at = text.find("prepare: F = "); at != std::string::npos)
                    if (const auto eq = text.find(" = ", at + 13); eq != std::string::npos)
                        freeze_ns = std::atoll(text.c_str() + eq + 3);
                std::this_thread::sleep_for(ms(2));
            }
        }
        test::cli_run finish()
        {
            test::cli_run r;
            r.exit_status = proc->wait_exit(ms(60'000));
            r.report = json::parse(test::read_text(out), nullptr, false);
            r.progress = test::read_text(err);
            std::printf("[stasis checkpoint, in the background] exit %d\n%s", r.exit_status, r.progress.c_str());
            return r;
        }
    };

    // A checkpoint in the background with QEMU `qemu` SIGSTOPped 100 ms before its F (left stopped).
    static test::cli_run checkpoint_stopping(pid_t qemu, const std::string &tag, const std::string &lead_ms,
                                             int64_t &f)
    {
        background_checkpoint ckpt(tag, lead_ms);
        f = ckpt.freeze_ns;
        EXPECT_GT(f, 0) << "no F in " << ckpt.err;
        if (f)
            sleep_until_ns(f - 100 * ms_ns);
        EXPECT_EQ(kill(qemu, SIGSTOP), 0);
        return ckpt.finish();
    }

    static std::unique_ptr<fault_lab> lab;
};

std::unique_ptr<fault_lab> noded_faults::lab;

// QEMU SIGSTOPped 100 ms before F: noded gives up after stop_timeout (2 s), reports FAILED naming g1 and
// its stopped process; the controller aborts; n2 and g1 resume at one R (g1 is SIGCONTed before R: its
// queued stop, then the cont at R). Then the same with QEMU still stopped at R: the cont is not answered
// either (reported), and once SIGCONTed QEMU runs the stop and the cont in order: g1 runs again.
TEST_F(noded_faults, a_guest_that_does_not_stop_is_thawed)
{
    const pid_t qemu = lab->qemu_pid("g1");
    ASSERT_GT(qemu, 0);
    {
        auto events = watch({"g1", "g2"});
        signalled cont{qemu};
        int64_t f = 0;
        const test::cli_run run = checkpoint_stopping(qemu, "stop-a", "600", f);
        const int64_t done_ns = now_ns();
        kill(qemu, SIGCONT);  // before R: the abort's resume finds it answering
        const std::string msg = run.report.value("message", "");
        EXPECT_TRUE(has(msg, "n1") && has(msg, "QEMU of g1 (pid " + std::to_string(qemu) + ") did not stop at F") &&
                    has(msg, "stopped by a signal (T)"))
            << msg;
        // FAILED comes stop_timeout after F; the controller aborts at once.
        std::printf("[stop] the controller ended F %+.0f ms\n", (done_ns - f) / 1e6);
        EXPECT_GE(done_ns - f, stop_timeout_ns);
        EXPECT_LT(done_ns - f, stop_timeout_ns + 1500 * ms_ns);
        expect_aborted(run, "stop, SIGCONT before R", events);
    }
    EXPECT_EQ(lab->monitor("g1").wait_running(), "running");

    // Still stopped at R: noded's cont gets no answer either; SIGCONT after that.
    {
        auto events = watch({"g2"});
        const size_t log_from = test::read_text(lab->noded_log("n1")).size();
        signalled cont{qemu};
        int64_t f = 0;
        const test::cli_run run = checkpoint_stopping(qemu, "stop-b", "300", f);
        expect_aborted(run, "stop, still stopped at R", events);
        const int64_t r = num(run.report["resume_ns"]);
        EXPECT_TRUE(test::wait_for_line(lab->noded_log("n1"), "did not go on at R", ms(10'000), log_from))
            << "n1 reports that g1 did not go on at R; see " << lab->noded_log("n1");
        std::printf("[stop] n1 gave up on g1's cont R %+.0f ms\n", (now_ns() - r) / 1e6);
        kill(qemu, SIGCONT);
        EXPECT_EQ(lab->monitor("g1").wait_running(), "running") << "after SIGCONT, QEMU ran the queued stop and cont";
    }
    auto agent = guest_agent::connect(lab->run_dir("g1") + "/agent.sock", ms(10'000));
    ASSERT_TRUE(agent) << agent.error().message;
    EXPECT_TRUE(agent->call("hello")) << "g1's guest runs";
    expect_serving("stop");
}

// n1's snapshot_dir nearly full (a ballast leaves 8 MiB): the migration fails with ENOSPC; the checkpoint
// is aborted, nothing partial is left, g1 runs on with a working disk, c1 stays; with the ballast gone the
// next checkpoint succeeds.
TEST_F(noded_faults, a_full_disk_fails_the_save_and_keeps_c1)
{
    struct statvfs vfs {};
    ASSERT_EQ(statvfs(lab->snap_dir().c_str(), &vfs), 0);
    const int64_t free_bytes = int64_t(vfs.f_bavail) * int64_t(vfs.f_frsize);
    const std::string ballast = lab->snap_dir() + "/ballast";
    ASSERT_GT(free_bytes, 16 << 20);
    ASSERT_TRUE(run_checked({"fallocate", "-l", std::to_string(free_bytes - (8 << 20)), ballast}));
    {
        auto events = watch({"g1", "g2"});
        auto run = test::run_cli(lab->cli, "checkpoint", lab->exp(), {"--lead", "300"});
        const std::string msg = run.report.value("message", "");
        EXPECT_TRUE(has(msg, "n1") && has(msg, "g1") && has(msg, "No space left on device")) << msg;
        expect_aborted(run, "disk full", events);
        const std::string name = run.report.value("checkpoint", "?");
        for (const auto &p : {lab->snap_dir() + "/demo/" + name + "/n1", lab->snap_dir() + "/demo/" + name + "/n1.part",
                              lab->dir + "/snap-n2/demo/" + name + "/n2"})
            EXPECT_FALSE(fs::exists(p)) << p << ": the aborted checkpoint's artifact is removed";
        for (const auto &e : fs::recursive_directory_iterator(lab->snap_dir()))
            EXPECT_FALSE(e.path().string().ends_with(".part")) << e.path() << ": a partial artifact is left";
    }
    const auto g1 = lab->monitor("g1");
    ASSERT_EQ(g1.wait_running(), "running");
    EXPECT_TRUE(g1.writes(0x55, 3)) << "g1's disk takes writes after the failed save";
    EXPECT_TRUE(g1.reads(0x55, 3));
    EXPECT_TRUE(g1.reads(0x33, 1)) << "g1's disk keeps what it had";
    for (const char *f : {"manifest.json", "g1.state", "g1.state.json"})
        EXPECT_TRUE(fs::exists(lab->snap_dir() + "/demo/c1/n1/" + f)) << "c1 keeps " << f;
    expect_serving("disk full");

    fs::remove(ballast);
    auto again = test::run_cli(lab->cli, "checkpoint", lab->exp(), {"--message", "after freeing space"});
    test::print_report("checkpoint after freeing space", again.report);
    EXPECT_EQ(again.exit_status, 0);
    EXPECT_EQ(checkpoints()[again.report.value("checkpoint", "?")], "committed");
    EXPECT_EQ(g1.wait_running(), "running");
}

// QEMU SIGKILLed between Prepare and F: FAILED at F naming g1 and the signal; n2 resumes at the abort's R;
// noded serves on; `stasis timetravel demo c1` starts a new QEMU from c1 (noded counts the lost guest as
// frozen at F) and g1's disk is c1's again.
TEST_F(noded_faults, qemu_killed_before_f_then_c1_restored)
{
    const pid_t qemu = lab->qemu_pid("g1");
    ASSERT_GT(qemu, 0);
    {
        auto events = watch({"g2"});
        background_checkpoint ckpt("kill-before-f", "600");
        ASSERT_GT(ckpt.freeze_ns, 0) << "no F in " << ckpt.err;
        ASSERT_LT(now_ns(), ckpt.freeze_ns - 100 * ms_ns) << "too late to kill before F";
        ASSERT_EQ(kill(qemu, SIGKILL), 0);
        const test::cli_run run = ckpt.finish();
        const std::string msg = run.report.value("message", "");
        EXPECT_TRUE(has(msg, "n1") && has(msg, "QEMU of g1 (pid " + std::to_string(qemu) + ")") &&
                    has(msg, "killed by signal 9 (SIGKILL)"))
            << msg;
        expect_aborted(run, "killed before F", events);
    }
    expect_serving("killed before F");
    EXPECT_TRUE(test::wait_for_line(lab->noded_log("n1"), "killed by signal 9", ms(1000)));
    auto lost = run_command({lab->cli, "status", lab->exp()});
    ASSERT_TRUE(lost);
    EXPECT_TRUE(has(lost->out, "n1: guest g1 is lost: QEMU of g1 (pid " + std::to_string(qemu) +
                                   ") killed by signal 9 (SIGKILL)"))
        << "stasis status names the lost guest: " << lost->out;

    auto back = test::run_cli(lab->cli, "timetravel", lab->exp(), {"c1"});
    test::print_report("timetravel c1", back.report);
    ASSERT_EQ(back.exit_status, 0);
    auto found = run_command({lab->cli, "status", lab->exp()});
    ASSERT_TRUE(found);
    EXPECT_FALSE(has(found->out, "is lost")) << "a new QEMU replaced it: " << found->out;
    EXPECT_NE(lab->qemu_pid("g1"), qemu) << "a new QEMU";
    const auto g1 = lab->monitor("g1");
    ASSERT_EQ(g1.wait_running(), "running");
    EXPECT_TRUE(g1.reads(0x22, 1)) << "written before c1: there";
    EXPECT_FALSE(g1.reads(0x33, 1)) << "written after c1: not there";
    EXPECT_TRUE(g1.reads(0x00, 3)) << "written after c1: not there";
    auto agent = guest_agent::connect(lab->run_dir("g1") + "/agent.sock", ms(10'000));
    ASSERT_TRUE(agent) << agent.error().message;
    EXPECT_TRUE(agent->call("hello")) << "c1's guest runs";
}

// QEMU SIGKILLed while it writes its state: the save fails naming g1 and the signal, the partial state is
// removed, n2 resumes at the abort's R; a time travel to the last committed checkpoint brings g1 back.
TEST_F(noded_faults, qemu_killed_during_the_save_then_last_checkpoint_restored)
{
    const auto g1 = lab->monitor("g1");
    ASSERT_TRUE(g1.writes(0x66, 4));
    auto last = test::run_cli(lab->cli, "checkpoint", lab->exp(), {"--message", "last"});
    ASSERT_EQ(last.exit_status, 0);
    const std::string last_name = last.report.value("checkpoint", "");
    ASSERT_EQ(g1.wait_running(), "running");
    const pid_t qemu = lab->qemu_pid("g1");
    ASSERT_GT(qemu, 0);
    {
        auto events = watch({"g2"});
        background_checkpoint ckpt("kill-in-save", "300");
        ASSERT_GT(ckpt.freeze_ns, 0) << "no F in " << ckpt.err;
        // The state file appears when QEMU's migration is about to start writing it.
        std::string part;
        const auto deadline = std::chrono::steady_clock::now() + ms(20'000);
        while (part.empty() && std::chrono::steady_clock::now() < deadline) {
            std::error_code ec;
            for (const auto &e : fs::recursive_directory_iterator(lab->snap_dir() + "/demo", ec))
                if (e.path().filename() == "g1.state.part" && fs::file_size(e.path(), ec) > 0)
                    part = e.path();
            std::this_thread::sleep_for(ms(1));
        }
        ASSERT_FALSE(part.empty()) << "the save never started writing g1.state.part";
        ASSERT_EQ(kill(qemu, SIGKILL), 0);
        std::printf("[kill in save] killed QEMU %d at F %+.0f ms, %s had %lld bytes\n", int(qemu),
                    (now_ns() - ckpt.freeze_ns) / 1e6, part.c_str(), (long long)fs::file_size(part));
        const test::cli_run run = ckpt.finish();
        const std::string msg = run.report.value("message", "");
        EXPECT_TRUE(has(msg, "n1") && has(msg, "QEMU of g1 (pid " + std::to_string(qemu) + ")") &&
                    has(msg, "killed by signal 9 (SIGKILL)") && has(msg, "save"))
            << msg;
        expect_aborted(run, "killed during the save", events);
        EXPECT_FALSE(fs::exists(part)) << "the partial state is removed";
        EXPECT_FALSE(fs::exists(fs::path(part).parent_path())) << "the partial artifact is removed";
    }
    expect_serving("killed during the save");

    auto back = test::run_cli(lab->cli, "timetravel", lab->exp(), {last_name});
    test::print_report("timetravel to the last checkpoint", back.report);
    ASSERT_EQ(back.exit_status, 0);
    EXPECT_NE(lab->qemu_pid("g1"), qemu) << "a new QEMU";
    ASSERT_EQ(g1.wait_running(), "running");
    EXPECT_TRUE(g1.reads(0x66, 4)) << "written before " << last_name << ": there";
    EXPECT_TRUE(g1.reads(0x22, 1)) << "c1's data, under " << last_name << ": there";
}

}  // namespace
}  // namespace stasis::node
