// The qcow2 disk store of QEMU nodes: every layer a qcow2 file made by qemu-img, snapshot names symlinks.
//   DIR/layers/DISK.N.qcow2       each layer; read-only (mode 0444) once snapshotted
//   DIR/DISK+CHECKPOINT.qcow2     -> layers/DISK.N.qcow2: the snapshot's name
// Backing files are absolute paths of layers (never of the names), so removing a name breaks no chain.
// Everything is found again from the directory (qemu-img info), so a restarted daemon sees the same tree.
#pragma once

#include <string>

#include "stasis/node/disk_store.hpp"

namespace stasis::node {

class qcow2_store final : public disk_store {
public:
    // `dir` is created if missing; `qemu_img` is the program (PATH lookup).
    static result<qcow2_store> open(const std::string &dir, std::string qemu_img = "qemu-img");

    const char *kind() const override { return "qcow2"; }
    result<volume> create(const std::string &disk, const std::string &base) override;
    result<snapshot_plan> snapshot(const volume &live, const std::string &checkpoint,
                                   const volume_switch &in_use) override;
    result<volume> branch(const volume &snapshot) override;
    result<std::vector<volume>> list(const std::string &disk = {}) override;
    result<volume> find(const std::string &name) override;
    result<void> remove(const std::string &name) override;

    const std::string &dir() const { return _dir; }

private:
    qcow2_store(std::string dir, std::string qemu_img) : _dir(std::move(dir)), _qemu_img(std::move(qemu_img)) {}
    std::string layer_path(const std::string &disk, int n) const;
    std::string name_path(const std::string &name) const;
    result<int> next_layer(const std::string &disk) const;
    result<volume> new_overlay(const std::string &disk, const std::string &backing, const std::string &format,
                               const std::string &parent);
    result<volume> describe(const std::string &layer_file);

    std::string _dir;  // absolute
    std::string _qemu_img;
};

}  // namespace stasis::node
