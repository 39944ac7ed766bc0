// The QEMU backend of guest_backend: one QEMU process per guest, driven over QMP; the saved state is a qcow2
// file holding the VM state in one internal snapshot (snapshot-save, snapshot-load).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "stasis/node/guest_agent.hpp"
#include "stasis/node/guest_backend.hpp"
#include "stasis/node/qmp_client.hpp"

namespace stasis::node {

struct tap_nic {
    std::string tap;  // a persistent tap (ip tuntap add ... mode tap) that outlives each QEMU
    std::string mac;  // the guest's MAC, the same across restores
};

struct qemu_config {
    std::string name = "guest";
    std::string qemu_binary = "qemu-system-x86_64";
    // Words run before QEMU's, e.g. {"ip", "netns", "exec", "lab"} for taps in a network namespace. They
    // must exec QEMU in place (keep the PID): release() ends a process by the PID it started.
    std::vector<std::string> launcher;
    std::string accel = "tcg";  // "kvm" where /dev/kvm is
    std::string kernel;         // direct boot: bzImage, initramfs, command line
    std::string initrd;
    std::string append;
    int memory_mb = 256;
    int cpus = 1;
    std::vector<tap_nic> nics;  // virtio-net, in this order (eth0, eth1, ...)
    std::string disk;           // optional qcow2 image, as a virtio-blk disk
    // Where QEMU's sockets and logs go: qmp.sock, agent.sock (the guest agent's port), console.log
    // (the serial console), qemu.log (QEMU's own output). Created if missing.
    std::string run_dir;
    time_mode mode = time_mode::frozen;
    // TCG only: QEMU's -icount option, e.g. "shift=auto,sleep=on"; empty for none. It makes the guest's
    // clocks count instructions, so host scheduling no longer shows as guest-visible steps, but the guest's
    // time then drifts from real time (docs/NODE.md, "icount").
    std::string icount;
    std::vector<std::string> extra_args;
    // How long QEMU may take to stop at F (the `stop` command and its STOP event) or to go on at R (`cont`
    // and RESUME) before the backend gives up and reports it (docs/NODE.md, "Failures").
    std::chrono::milliseconds stop_timeout{2000};
    // Tests: the kernel kills QEMU when the thread that started it ends, even by SIGKILL. Not for a
    // daemon whose guests must outlive a restart of it.
    bool die_with_parent = false;

    std::string qmp_socket() const { return run_dir + "/qmp.sock"; }
    std::string agent_socket() const { return run_dir + "/agent.sock"; }
    std::string console_log() const { return run_dir + "/console.log"; }
    std::string qemu_log() const { return run_dir + "/qemu.log"; }
};

// QEMU's argument vector for `config`; `stopped` adds -S (a restore: the state is loaded before it runs).
std::vector<std::string> qemu_command_line(const qemu_config &config, bool stopped);

class qemu_process;

class qemu_backend final : public guest_backend {
public:
    explicit qemu_backend(qemu_config config);
    ~qemu_backend() override;  // releases the QEMU it started
    qemu_backend(const qemu_backend &) = delete;
    qemu_backend &operator=(const qemu_backend &) = delete;

    result<void> start() override;
    result<instant_report> freeze_at(int64_t f_ns) override;
    result<save_report> save(const std::string &path) override;
    result<restore_report> restore(const std::string &path) override;
    result<instant_report> resume_at(int64_t r_ns) override;
    result<void> release() override;
    guest_status status() override;
    std::string lost() override;
    catch_up_report last_catch_up() const override { return _catch_up; }

    // The guest agent of the running QEMU, connected on first use (again after a restore).
    result<guest_agent *> agent(std::chrono::milliseconds timeout = std::chrono::milliseconds(60'000));
    qmp_client *qmp() { return _qmp ? &*_qmp : nullptr; }
    const qemu_config &config() const { return _config; }

private:
    result<void> launch(bool stopped);
    // Runs the QMP job `command` (job-id added) to its end; its error is `what` failed: QEMU's reason.
    result<void> run_job(std::string_view command, nlohmann::json arguments, const std::string &what);
    void close_state_file();
    result<void> apply_catch_up(int64_t resumed_ns);
    // `e` (of a QMP exchange about `what`) restated with QEMU's side: how its process ended, or that it
    // did not answer and what its process is doing.
    node_error qemu_failure(const std::string &what, node_error e);
    // cont after a freeze that did not complete (the stop may or may not have been carried out).
    result<instant_report> thaw_after_failed_stop(int64_t r_ns);

    qemu_config _config;
    std::unique_ptr<qemu_process> _process;
    std::optional<qmp_client> _qmp;
    std::optional<guest_agent> _agent;
    guest_state _state = guest_state::absent;
    int64_t _frozen_at_ns = 0;  // landed time of the last freeze (or of the saved guest's, after a restore)
    bool _stop_unconfirmed = false;  // a `stop` got no answer in time: QEMU may still carry it out
    std::string _guard_error;        // why the last freeze could not send a tap its guard frame
    catch_up_report _catch_up;
};

}  // namespace stasis::node
