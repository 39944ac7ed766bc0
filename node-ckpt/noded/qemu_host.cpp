// qemu_backend per guest; the disk switch is QMP's blockdev-snapshot-sync in mode "existing", on the drive
// that has the old live file open (found with query-block).
#include "qemu_host.hpp"

#include "stasis/node/qemu_backend.hpp"

namespace stasis::noded {

std::unique_ptr<node::guest_backend> qemu_host::make(const std::string &guest, const std::string &disk_path)
{
    for (const auto &g : _config.guests)
        if (g.qemu.name == guest) {
            node::qemu_config c = g.qemu;
            c.disk = disk_path;
            // So that whoever cleans up after the daemon finds QEMU by its PID.
            c.extra_args.insert(c.extra_args.end(), {"-pidfile", c.run_dir + "/qemu.pid"});
            return std::make_unique<node::qemu_backend>(std::move(c));
        }
    return nullptr;
}

node::result<void> qemu_host::switch_disk(node::guest_backend &backend, const node::snapshot_plan &plan)
{
    using node::node_error;
    auto *q = dynamic_cast<node::qemu_backend *>(&backend);
    if (!q || !q->qmp())
        return node::fail(node_error::kind::state, "no QEMU to switch the disk of " + plan.live.disk);
    auto blocks = q->qmp()->execute("query-block");
    if (!blocks)
        return std::unexpected(blocks.error());
    std::string device;
    for (const auto &b : *blocks)
        if (b.contains("inserted") && b["inserted"].value("file", "") == plan.live.path)
            device = b.value("device", "");
    if (device.empty())
        return node::fail(node_error::kind::state, "QEMU of " + plan.live.disk + " has no drive on " + plan.live.path);
    auto s = q->qmp()->execute("blockdev-snapshot-sync", {{"device", device},
                                                          {"snapshot-file", plan.next_live.path},
                                                          {"format", "qcow2"},
                                                          {"mode", "existing"}});
    if (!s)
        return std::unexpected(s.error());
    return {};
}

}  // namespace stasis::noded
