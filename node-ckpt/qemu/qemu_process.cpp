// posix_spawn, waitpid with a deadline, and SIGKILL by PID.
#include "qemu_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <thread>

extern char **environ;

namespace stasis::node {

result<qemu_process> qemu_process::spawn(const std::vector<std::string> &argv, const std::string &log,
                                         bool die_with_parent)
{
    std::vector<char *> args;
    for (const auto &a : argv)
        args.push_back(const_cast<char *>(a.c_str()));
    args.push_back(nullptr);
    if (!die_with_parent) {
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        posix_spawn_file_actions_adddup2(&actions, 1, 2);
        pid_t pid = 0;
        const int err = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        if (err != 0)
            return fail(node_error::kind::io, "cannot start " + argv[0] + ": " + std::strerror(err));
        return qemu_process(pid);
    }
    // fork + exec: posix_spawn cannot set the parent-death signal. Only async-signal-safe calls in the child.
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid < 0)
        return fail(node_error::kind::io, "fork for " + argv[0] + ": " + std::strerror(errno));
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        const int in = open("/dev/null", O_RDONLY);
        const int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
            _exit(127);
        execvp(args[0], args.data());
        _exit(127);
    }
    return qemu_process(pid);
}

bool qemu_process::running()
{
    if (_pid <= 0)
        return false;
    int status = 0;
    if (waitpid(_pid, &status, WNOHANG) == _pid) {
        _status = status;
        _pid = 0;
        return false;
    }
    return true;
}

bool qemu_process::wait_exit(std::chrono::milliseconds timeout)
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (running()) {
        if (std::chrono::steady_clock::now() >= deadline)
            return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
}

void qemu_process::kill_and_wait()
{
    if (!running())
        return;
    ::kill(_pid, SIGKILL);
    int status = 0;
    if (waitpid(_pid, &status, 0) == _pid)
        _status = status;
    _pid = 0;
}

std::string qemu_process::exit_description() const
{
    if (_status < 0)
        return "";
    if (WIFEXITED(_status))
        return "exited with status " + std::to_string(WEXITSTATUS(_status));
    if (WIFSIGNALED(_status)) {
        const char *abbrev = sigabbrev_np(WTERMSIG(_status));
        return "killed by signal " + std::to_string(WTERMSIG(_status)) + (abbrev ? std::string(" (SIG") + abbrev + ")" : "");
    }
    return "ended";
}

std::string qemu_process::run_state() const
{
    if (_pid <= 0)
        return "";
    std::ifstream in("/proc/" + std::to_string(_pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto paren = stat.rfind(") ");  // the command name may hold spaces and parentheses
    if (paren == std::string::npos || paren + 2 >= stat.size())
        return "";
    const char c = stat[paren + 2];
    const char *word = c == 'R' ? "running" : c == 'S' ? "sleeping" : c == 'D' ? "in uninterruptible I/O wait"
                     : c == 'T' ? "stopped by a signal" : c == 't' ? "stopped by a debugger" : c == 'Z' ? "a zombie"
                                                                                                        : "in state";
    return std::string(word) + " (" + c + ")";
}

}  // namespace stasis::node
