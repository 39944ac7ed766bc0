// One child process, started with posix_spawn and ended by its PID only.
#pragma once

#include <sys/types.h>

#include <utility>

#include <chrono>
#include <string>
#include <vector>

#include "stasis/node/error.hpp"

namespace stasis::node {

class qemu_process {
public:
    // Starts argv[0] (looked up in PATH) with stdin from /dev/null and stdout and stderr appended to `log`.
    // With `die_with_parent` the kernel kills it when the calling thread ends (PR_SET_PDEATHSIG), so a
    // test killed by its runner leaves no QEMU behind.
    static result<qemu_process> spawn(const std::vector<std::string> &argv, const std::string &log,
                                      bool die_with_parent = false);

    qemu_process(qemu_process &&other) noexcept
        : _pid(std::exchange(other._pid, 0)), _started_pid(other._started_pid), _status(other._status)
    {
    }
    qemu_process &operator=(qemu_process &&) = delete;
    ~qemu_process() { kill_and_wait(); }

    pid_t pid() const { return _pid; }
    // The PID it was started with, also after it ended (for messages).
    pid_t started_pid() const { return _started_pid; }
    // Reaps the child if it has exited; true while it runs.
    bool running();
    // Waits up to `timeout` for the child to exit; true if it has.
    bool wait_exit(std::chrono::milliseconds timeout);
    // SIGKILL to our child's PID, then reaps it.
    void kill_and_wait();
    // A description of how it ended ("exited with status 1"), "" while it runs.
    std::string exit_description() const;
    // While it runs: its scheduling state from /proc/PID/stat ("stopped (T)", "running (R)", ...), or "".
    std::string run_state() const;

private:
    explicit qemu_process(pid_t pid) : _pid(pid), _started_pid(pid) {}

    pid_t _pid = 0;
    pid_t _started_pid = 0;
    int _status = -1;  // waitpid status once reaped
};

}  // namespace stasis::node
