// The LVM disk store of Xen nodes: every volume a thin LV of one volume group, driven through the `lvm`
// command and read back from its JSON report.
//   VG/DISK.N           live: a writable thin snapshot (activated with -K: thin snapshots skip activation)
//   VG/DISK+CHECKPOINT  snapshot: a read-only thin snapshot of a live volume, left inactive
// Tags stasis.disk=DISK and stasis.parent=NAME (the base: /dev/VG/LV) keep the tree: LVM forgets a thin
// snapshot's origin when the origin is removed, and its thin LVs share blocks in the pool, not chains,
// so a snapshot with branches can go at once (no `layer`). Everything is found again from `lvs`.
#pragma once

#include <string>
#include <vector>

#include "stasis/node/disk_store.hpp"

namespace stasis::node {

// One row of `lvs --reportformat json` (every value a string there, sizes in bytes with --units b).
struct lvm_lv {
    std::string name, vg, pool, origin, attr, tags;
    int64_t size_bytes = 0;
    double data_percent = 0;
};

// Parses `lvs --reportformat json` output: {"report":[{"lv":[{...}, ...]}]}.
result<std::vector<lvm_lv>> parse_lvs_report(const std::string &json_text);

class lvm_store final : public disk_store {
public:
    // `vg` must exist (checked with lvs); `lvm_binary` is the program (PATH lookup or a path).
    static result<lvm_store> open(const std::string &vg, std::string lvm_binary = "lvm");

    const char *kind() const override { return "lvm"; }
    result<volume> create(const std::string &disk, const std::string &base) override;
    result<snapshot_plan> snapshot(const volume &live, const std::string &checkpoint,
                                   const volume_switch &in_use) override;
    result<volume> branch(const volume &snapshot) override;
    result<std::vector<volume>> list(const std::string &disk = {}) override;
    result<volume> find(const std::string &name) override;
    result<void> remove(const std::string &name) override;

    const std::string &vg() const { return _vg; }

private:
    lvm_store(std::string vg, std::string lvm) : _vg(std::move(vg)), _lvm(std::move(lvm)) {}
    result<std::string> lvm(std::vector<std::string> args) const;
    result<std::vector<lvm_lv>> report() const;
    result<volume> thin_snapshot(const std::string &origin, const std::string &name, const std::string &disk,
                                 const std::string &parent, bool read_only);
    result<std::string> next_live_name(const std::string &disk) const;
    volume describe(const lvm_lv &lv) const;

    std::string _vg;
    std::string _lvm;
};

}  // namespace stasis::node
