// Branching disks, independent of the hypervisor: a guest writes to a live volume; a checkpoint turns what
// it wrote into a read-only snapshot named after the checkpoint while the guest goes on writing to a new
// live volume; a restore is a new writable branch of a snapshot (branches of branches: a tree).
// qcow2_store (qemu-img, QEMU nodes) and lvm_store (thin snapshots through `lvm`, Xen nodes) implement it;
// node-ckpt/storage/ (library stasis_storage, stasis_storage_dep) holds them and the helpers below.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "stasis/node/error.hpp"

namespace stasis::node {

enum class volume_role : uint8_t {
    base,      // the image a disk started from; the store never writes or removes it
    live,      // writable: a guest writes (or will write) to it
    snapshot,  // read-only, named after a checkpoint: a restore branches from it
    layer,     // read-only and unnamed (a snapshot whose checkpoint was removed but that a branch still
               // needs underneath); removed with its last dependent
};

const char *to_string(volume_role role);

// One volume of a store. Names are the store's, from [A-Za-z0-9_+.-] (LVM's LV name alphabet), stable
// across restarts of the daemon (a store is found again from its directory or volume group alone).
struct volume {
    std::string name;        // live: DISK.N (N from the store); snapshot: DISK+CHECKPOINT
    std::string disk;        // the guest disk it belongs to (a guest name for a one-disk guest)
    std::string checkpoint;  // snapshots: the checkpoint; else empty
    std::string path;        // what the hypervisor opens: a qcow2 file, /dev/VG/LV
    std::string format;      // the hypervisor's word for it: "qcow2", "raw"
    std::string parent;      // the volume it was snapshotted or branched from (name; base: its path)
    volume_role role = volume_role::live;
    bool read_only = false;
    int64_t size_bytes = 0;  // the guest's size of the disk
    int64_t used_bytes = 0;  // what this volume alone takes on the host (qcow2 file, thin data), 0 unknown
};

// A snapshot in progress or done: the live volume is frozen into `snapshot` and the guest goes on with
// `next_live`. qcow2: `snapshot` is the old live file itself (same path), `next_live` a new overlay on it,
// and a running QEMU must move to it (QMP blockdev-snapshot-sync, mode existing). LVM: `snapshot` is a new
// thin snapshot of the origin and `next_live` the origin itself; no hypervisor step.
struct snapshot_plan {
    std::string checkpoint;
    volume live;       // as it was before
    volume snapshot;   // read-only afterwards
    volume next_live;  // where the guest writes afterwards
    bool hypervisor_switch = false;  // true: a hypervisor that has `live` open must switch to next_live
    int64_t started_ns = 0;
    int64_t finished_ns = 0;
};

// Moves a running hypervisor's writes from plan.live to plan.next_live (already created by the store);
// the guest is stopped while it runs. An error makes the store undo what it created.
using volume_switch = std::function<result<void>(const snapshot_plan &plan)>;

// stasis-noded calls a store from one thread per guest at once, each on its own disk: operations on
// different disks must not interfere.
class disk_store {
public:
    virtual ~disk_store() = default;

    virtual const char *kind() const = 0;  // "qcow2", "lvm"

    // The first live volume of `disk`, a writable branch of `base` (qcow2: an image file of any format;
    // LVM: a thin LV, VG/LV). Refused (state) if the disk already has volumes.
    virtual result<volume> create(const std::string &disk, const std::string &base) = 0;

    // Freezes `live` into the read-only snapshot DISK+CHECKPOINT. `in_use` is called when the store's
    // plan needs the hypervisor that has `live` open (hypervisor_switch); empty when nothing has it open
    // (the store then switches on its own). Refused (state) if the snapshot exists or `live` is not live.
    virtual result<snapshot_plan> snapshot(const volume &live, const std::string &checkpoint,
                                           const volume_switch &in_use) = 0;

    // A new live volume of the snapshot's disk, a writable branch of `snapshot` (a restore). Any number
    // of branches of one snapshot may exist; a branch may be snapshotted and branched in turn.
    virtual result<volume> branch(const volume &snapshot) = 0;

    // Every volume of the store (of one disk if `disk` is not empty), parents before children.
    virtual result<std::vector<volume>> list(const std::string &disk = {}) = 0;
    // One volume by name; `command` error "no volume NAME" if none.
    virtual result<volume> find(const std::string &name) = 0;

    // Removes a volume. A live volume or one without dependents goes; a snapshot that a branch still
    // stands on loses its name and becomes a `layer` (removed with its last dependent). The caller
    // makes sure no hypervisor has it open.
    virtual result<void> remove(const std::string &name) = 0;
};

// [A-Za-z0-9_-], 1 to 64 characters: what a disk or checkpoint name may be (so that DISK+CHECKPOINT and
// DISK.N are unambiguous and valid LV names).
bool valid_volume_part(const std::string &part);
inline std::string snapshot_name(const std::string &disk, const std::string &checkpoint)
{
    return disk + "+" + checkpoint;
}

}  // namespace stasis::node
