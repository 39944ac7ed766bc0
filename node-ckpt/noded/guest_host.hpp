// What the node agent needs from the hypervisor side: a backend per guest (again at every restore, with
// the disk the store chose) and the switch of a running guest's disk to a new layer. QEMU implements it in
// qemu_host.cpp; the unit tests fake it.
#pragma once

#include <memory>
#include <string>

#include "stasis/node/disk_store.hpp"
#include "stasis/node/guest_backend.hpp"

namespace stasis::noded {

class guest_host {
public:
    virtual ~guest_host() = default;
    // A new, not started backend for `guest`, its disk at `disk_path` ("" for none).
    virtual std::unique_ptr<node::guest_backend> make(const std::string &guest, const std::string &disk_path) = 0;
    // Moves the frozen guest's disk writes from plan.live to plan.next_live (the store made it).
    virtual node::result<void> switch_disk(node::guest_backend &backend, const node::snapshot_plan &plan) = 0;
};

}  // namespace stasis::noded
