// What the tests of stasis-noded with real guests share: daemons and commands of the test (ended by their
// PIDs), the `stasis` CLI's JSON reports, and a guest's disk read through a second QMP monitor of the test.
#pragma once

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "guest_env.hpp"
#include "run_command.hpp"
#include "stasis/node/qmp_client.hpp"

namespace stasis::node::test {

using json = nlohmann::json;
using ms = std::chrono::milliseconds;

inline int64_t num(const json &j)
{
    return j.is_string() ? std::stoll(j.get<std::string>()) : j.is_number() ? j.get<int64_t>() : 0;
}

inline std::string read_text(const std::string &path)
{
    std::ifstream in(path);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// A process of the test: killed (SIGTERM, then SIGKILL) by its PID when the test ends, and by the kernel
// if the test dies (PR_SET_PDEATHSIG). stdout goes to `log`, stderr too unless `err_log` is given.
class daemon_process {
public:
    daemon_process(const std::vector<std::string> &argv, const std::string &log, const std::string &err_log = "")
    {
        const pid_t parent = getpid();
        _pid = fork();
        if (_pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            if (getppid() != parent)
                _exit(127);
            const int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
            const int err = err_log.empty() ? out : open(err_log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
            dup2(out, 1);
            dup2(err, 2);
            std::vector<char *> args;
            for (const auto &a : argv)
                args.push_back(const_cast<char *>(a.c_str()));
            args.push_back(nullptr);
            execv(args[0], args.data());
            _exit(127);
        }
    }
    ~daemon_process() { stop(); }
    daemon_process(const daemon_process &) = delete;
    daemon_process &operator=(const daemon_process &) = delete;

    // Waits up to `timeout` for it to exit by itself; its exit status (128 + N for signal N), or -1.
    int wait_exit(ms timeout)
    {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (_pid > 0 && std::chrono::steady_clock::now() < deadline) {
            int status = 0;
            if (waitpid(_pid, &status, WNOHANG) == _pid) {
                _pid = 0;
                _status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                return _status;
            }
            std::this_thread::sleep_for(ms(20));
        }
        return _pid > 0 ? -1 : _status;
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
    // Still there (not exited, not reaped)?
    bool running() { return _pid > 0 && wait_exit(ms(0)) < 0; }
    pid_t pid() const { return _pid; }

private:
    pid_t _pid = 0;
    int _status = -1;
};

// Waits for `text` in `log` at or after byte `from`.
inline bool wait_for_line(const std::string &log, const std::string &text, ms timeout, size_t from = 0)
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (read_text(log).find(text, from) != std::string::npos)
            return true;
        std::this_thread::sleep_for(ms(50));
    }
    return false;
}

// The PID in a -pidfile, 0 if none.
inline pid_t pid_in(const std::string &pidfile)
{
    std::ifstream in(pidfile);
    int pid = 0;
    return in >> pid && pid > 0 ? pid : 0;
}

// Kills a QEMU left behind by a daemon that was killed itself (its -pidfile).
inline void kill_leftover_qemu(const std::string &pidfile)
{
    if (const pid_t pid = pid_in(pidfile); pid > 0 && kill(pid, 0) == 0) {
        kill(pid, SIGCONT);  // a test may have stopped it
        kill(pid, SIGKILL);
    }
}

// One `stasis COMMAND EXP ARGS --json` run: its exit status, its OpReport, its progress lines.
struct cli_run {
    int exit_status = -1;
    json report;
    std::string progress;
    double ms = 0;
};

inline cli_run run_cli(const std::string &cli, const std::string &command, const std::string &exp,
                       std::vector<std::string> args = {})
{
    std::vector<std::string> argv{cli, command, exp};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--json");
    const int64_t t0 = now_ns();
    auto out = run_command(argv);
    cli_run r;
    r.ms = (now_ns() - t0) / 1e6;
    EXPECT_TRUE(out) << out.error().message;
    if (!out)
        return r;
    r.exit_status = out->exit_status;
    r.progress = out->err;
    r.report = json::parse(out->out, nullptr, false);
    std::printf("[stasis %s] %.0f ms, exit %d\n%s", command.c_str(), r.ms, r.exit_status, out->err.c_str());
    return r;
}

inline void print_report(const char *what, const json &rep)
{
    if (!rep.is_object())
        return;
    std::string phases;
    for (const auto &p : rep.value("phases", json::array()))
        phases += " " + p.value("name", "") + " " + std::to_string(num(p["duration_ns"]) / 1'000'000) + " ms";
    std::printf("[%s] %s:%s\n", what, rep.value("message", "").c_str(), phases.c_str());
    for (const auto &a : rep.value("agents", json::array()))
        std::printf("[%s] agent %s: freeze skew %+.3f ms, artifact %s (%.1f MiB), state %s%s%s\n", what,
                    a.value("agent", "").c_str(), num(a["freeze_skew_ns"]) / 1e6, a.value("artifact", "").c_str(),
                    num(a["artifact_bytes"]) / 1048576.0, a.value("state", "").c_str(),
                    a.value("error", "").empty() ? "" : ", error: ", a.value("error", "").c_str());
}

// A guest's QEMU seen through the test's own QMP monitor (`-qmp unix:SOCKET,server=on,wait=off` among its
// extra arguments): its disk through QEMU's block layer (HMP qemu-io: the guest agent has no disk
// command), its live disk file, its run state. One connection at a time.
struct test_monitor {
    std::string socket;    // the test's QMP socket
    std::string qemu_log;  // QEMU's output, where qemu-io's report goes

    // qemu-io's report for `command` on the guest's disk virtio0.
    std::string qemu_io(const std::string &command) const
    {
        auto qmp = qmp_client::connect(socket, ms(10'000));
        EXPECT_TRUE(qmp) << qmp.error().message;
        if (!qmp)
            return "no QMP";
        std::error_code ec;
        const auto before = std::filesystem::exists(qemu_log, ec) ? std::filesystem::file_size(qemu_log, ec) : 0;
        auto r = qmp->execute("human-monitor-command", {{"command-line", "qemu-io virtio0 \"" + command + "\""}});
        EXPECT_TRUE(r) << r.error().message;
        std::ifstream in(qemu_log);
        in.seekg(std::streamoff(before));
        std::string out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        return out + (r && r->is_string() ? r->get<std::string>() : "");
    }
    bool writes(int pattern, int block) const
    {
        return qemu_io("write -P " + std::to_string(pattern) + " " + std::to_string(block * 65536) + " 65536")
                   .find("wrote 65536/65536") != std::string::npos;
    }
    // The 64 KiB block `block` holds `pattern` throughout.
    bool reads(int pattern, int block) const
    {
        const std::string out = qemu_io("read -P " + std::to_string(pattern) + " " + std::to_string(block * 65536) +
                                        " 65536");
        return out.find("read 65536/65536") != std::string::npos &&
               out.find("Pattern verification failed") == std::string::npos;
    }
    std::string live_disk() const
    {
        auto qmp = qmp_client::connect(socket, ms(10'000));
        if (!qmp)
            return {};
        auto blocks = qmp->execute("query-block");
        for (const auto &b : blocks ? *blocks : json::array())
            if (b.value("device", "") == "virtio0")
                return b["inserted"].value("file", "");
        return {};
    }
    // QEMU's run state ("running", "paused", ...), or the error.
    std::string run_state(ms timeout = ms(5000)) const
    {
        auto qmp = qmp_client::connect(socket, timeout);
        if (!qmp)
            return "no QMP: " + qmp.error().message;
        auto s = qmp->execute("query-status", nullptr, timeout);
        return s ? s->value("status", "?") : "query-status: " + s.error().message;
    }
    // The run state once it is "running" or `timeout` has passed. The controller returns before R, and
    // qemu-io must wait for the cont: after a save QEMU's block layer is inactive until then.
    std::string wait_running(ms timeout = ms(5000)) const
    {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        std::string state = run_state();
        while (state != "running" && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(ms(50));
            state = run_state();
        }
        return state;
    }
};

}  // namespace stasis::node::test
