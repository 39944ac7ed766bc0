// stasis-noded's agent of the control protocol: the guests of one node frozen at F together, saved with
// their disk snapshots into one directory per checkpoint, restored onto new disk branches, resumed at R.
// Answers like the delay agent (dataplane/ctl/control_handler.hpp) with the same messages; each guest is a
// "worker" of the freeze report, its notice the instant the hypervisor says it stopped.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "guest_host.hpp"
#include "guest_threads.hpp"
#include "resume_plan.hpp"
#include "stasis/control.pb.h"
#include "stasis/node/disk_store.hpp"

namespace stasis::noded {

struct guest_def {
    std::string name;
    std::string disk_base;  // empty: no disk
};

enum class node_phase : uint8_t {
    absent,    // no guest runs: before the initial run or a Load, after a Release
    running,
    freezing,  // a freeze at F is scheduled or under way (one thread per guest)
    frozen,    // every guest stopped (or one failed to: see the FAILED event)
    resuming,  // a resume at R is scheduled or under way
};
const char *to_string(node_phase phase);

class node_agent {
public:
    // `store` may be null when no guest has a disk.
    node_agent(std::string name, std::vector<guest_def> guests, guest_host &host, node::disk_store *store);
    ~node_agent();  // cancels what is scheduled and releases every guest
    node_agent(const node_agent &) = delete;
    node_agent &operator=(const node_agent &) = delete;

    // The initial run: a fresh disk branch of each base and a booted guest. Refused (state) for a disk that
    // already has volumes in the store (swap in a checkpoint instead, or start from an empty state_dir).
    node::result<void> start_guests();

    // Never throws for anything a peer can send: every failure is a status code and a message.
    control::Reply handle(const control::Request &req);
    // Finishes what the guest threads did (FROZEN, RESUMED, FAILED events) and starts an Abort's deferred
    // resume. Call it at least every next_due_ns() and after every request.
    std::vector<control::Event> tick();
    int64_t next_due_ns() const;

    bool released() const noexcept { return _released; }
    node_phase phase() const noexcept { return _phase; }
    // SIGTERM: cancel what is scheduled, end every guest.
    void shutdown();

private:
    struct guest_slot {
        guest_def def;
        std::unique_ptr<node::guest_backend> backend;
        std::optional<node::volume> live;      // the disk it writes to
        std::optional<node::volume> snapshot;  // taken by the save of this freeze
        node::instant_report freeze;           // landed_ns 0 until it stopped
        node::instant_report resume;
        cont_latency cont;                     // of its last conts, to issue the next one early by it
        std::string error;                     // of its last threaded step
        std::string lost;                      // how its QEMU ended unasked ("" while there): backend->lost()
    };

    control::Reply hello() const;
    control::Reply prepare(const control::Prepare &q);
    control::Reply freeze_status();
    control::Reply thaw(const control::Thaw &q);
    control::Reply abort(const control::Abort &q);
    control::Reply save(const control::Save &q);
    control::Reply load(const control::Load &q);
    control::Reply release(const control::Release &q);

    void start_freeze(int64_t f_ns);
    void start_resume(int64_t r_ns);
    void finish_freeze(std::vector<control::Event> &out);
    // Snapshots the guest's disk and writes its state into `dir`; returns its entry of the manifest.
    node::result<nlohmann::json> save_guest(guest_slot &g, const std::string &dir, const std::string &snapshot);
    // Restores the guest from its manifest entry onto a new branch of its disk snapshot.
    node::result<int64_t> load_guest(guest_slot &g, const std::string &dir, const nlohmann::json &entry);
    void fill_freeze(control::FreezeReport &f);
    std::string remove_saved();
    void release_all();
    // Reads every guest's backend->lost() (only while no guest thread runs); the names of the guests
    // found lost now that were not before.
    std::vector<std::string> refresh_lost();
    std::string lost_text() const;  // "; lost: g1: QEMU of g1 ... killed by signal 9 (SIGKILL)", or 
    void forget_checkpoint();
    control::Event event(control::Event::Kind kind, std::string message) const;

    std::string _name;
    guest_host &_host;
    node::disk_store *_store;
    std::vector<guest_slot> _guests;
    guest_threads _threads;
    mutable std::mutex _mu;  // guest_slot's reports and errors, written by the guest threads

    node_phase _phase = node_phase::absent;
    std::string _checkpoint;
    int64_t _freeze_ns = 0;          // F of this freeze (or the loaded snapshot's)
    int64_t _resume_ns = 0;          // R of the resume under way, for RESUMED
    int64_t _deferred_resume_ns = 0; // an Abort's R, once the freeze is done
    std::string _saved_dir;          // the directory saved for this freeze
    bool _loaded = false;
    bool _released = false;
    std::vector<control::Event> _pending;
};

}  // namespace stasis::noded
