// The hypervisor-independent face of a node's guest: freeze at F, save, restore, resume at R, release.
// QEMU (qemu_backend.hpp) implements it; a Xen backend will too. Times are CLOCK_REALTIME int64 ns.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "stasis/node/error.hpp"

namespace stasis::node {

// What the guest's clocks see of the pause between F and R.
enum class time_mode : uint8_t {
    frozen,    // nothing: the guest's wall and monotonic clocks go on from where they stopped (default)
    catch_up,  // the wall clock jumps forward by the pause after resuming, as an open system wants
};

const char *to_string(time_mode mode);

// Freeze or resume at an instant: when it was asked for, when the command left and came back, and
// when the hypervisor says the guest actually stopped or started (its event's timestamp).
struct instant_report {
    int64_t target_ns = 0;
    int64_t issued_ns = 0;
    int64_t returned_ns = 0;
    int64_t landed_ns = 0;

    int64_t skew_ns() const { return landed_ns - target_ns; }
};

struct save_report {
    std::string path;
    int64_t size_bytes = 0;
    int64_t started_ns = 0;
    int64_t finished_ns = 0;  // the file is complete, fsynced and renamed
    // Files the backend wrote beside the state that its restore reads too (the frames waiting in the
    // guest's taps): the checkpoint keeps them with the state.
    std::vector<std::string> files{};
    int64_t tap_frames = 0;  // frames that waited in the guest's taps, kept in `files`
    std::vector<std::string> warnings{};  // what the save could not keep, for the operator
};

struct restore_report {
    std::string path;
    int64_t started_ns = 0;   // before the new hypervisor process was started
    int64_t launched_ns = 0;  // it answers its control socket
    int64_t finished_ns = 0;  // the state is loaded; the guest is frozen, ready to resume
    int64_t frozen_at_ns = 0; // when the saved guest was frozen (from the save's metadata), 0 if unknown
    int64_t tap_frames = 0;   // saved frames put back into the guest's taps
};

struct catch_up_report {
    int64_t step_ns = 0;  // how far the guest's wall clock was moved forward; 0 in frozen mode
};

enum class guest_state : uint8_t {
    absent,    // no hypervisor process
    running,
    frozen,    // stopped, state in memory (after freeze, save or restore)
    released,  // its process ended by release()
};

const char *to_string(guest_state state);

struct guest_status {
    guest_state state = guest_state::absent;
    int pid = 0;          // of the hypervisor process, 0 if none
    std::string detail;   // the hypervisor's own word for it (QEMU's run state)
};

class guest_backend {
public:
    virtual ~guest_backend() = default;

    // Boots the guest; returns when its hypervisor answers (not when the guest OS is up).
    virtual result<void> start() = 0;
    // Sleeps until f_ns, then stops the guest's execution and clocks. A past f_ns freezes now.
    virtual result<instant_report> freeze_at(int64_t f_ns) = 0;
    // Writes the frozen guest's whole state to `path` (via a temporary name); the guest stays frozen.
    virtual result<save_report> save(const std::string &path) = 0;
    // Starts a new hypervisor process with the state saved at `path`, frozen. No process may be running.
    virtual result<restore_report> restore(const std::string &path) = 0;
    // Sleeps until r_ns, then lets the frozen guest run; in catch-up mode steps its wall clock after.
    virtual result<instant_report> resume_at(int64_t r_ns) = 0;
    // Ends the hypervisor process (politely, then by its PID). Idempotent.
    virtual result<void> release() = 0;
    virtual guest_status status() = 0;
    // How the guest's hypervisor process ended without release() ("QEMU of g1 (pid 12) killed by signal 9
    // (SIGKILL)"); "" while it runs, before start and after release. No round trip to the hypervisor.
    virtual std::string lost() { return {}; }
    // The last catch-up step applied by resume_at.
    virtual catch_up_report last_catch_up() const = 0;
};

}  // namespace stasis::node
