// The QEMU side of stasis-noded: a qemu_backend per guest from the node configuration, and the disk
// switch of a running QEMU over QMP (blockdev-snapshot-sync onto the overlay the store made).
#pragma once

#include "guest_host.hpp"
#include "node_config.hpp"

namespace stasis::noded {

class qemu_host final : public guest_host {
public:
    explicit qemu_host(const node_config &config) : _config(config) {}

    std::unique_ptr<node::guest_backend> make(const std::string &guest, const std::string &disk_path) override;
    node::result<void> switch_disk(node::guest_backend &backend, const node::snapshot_plan &plan) override;

private:
    const node_config &_config;
};

}  // namespace stasis::noded
