// lvm_store: lvcreate --snapshot of thin LVs, lvchange -ay -K, lvremove, lvs --reportformat json.
#include "lvm_store.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "run_command.hpp"

namespace stasis::node {

namespace {

using json = nlohmann::json;

constexpr char report_fields[] = "lv_name,vg_name,pool_lv,origin,lv_attr,lv_size,data_percent,lv_tags";
constexpr char disk_tag[] = "stasis.disk=";
constexpr char parent_tag[] = "stasis.parent=";

std::string tag_value(const std::string &tags, const std::string &prefix)
{
    size_t start = 0;
    while (start <= tags.size()) {
        const size_t end = std::min(tags.find(',', start), tags.size());
        if (tags.compare(start, prefix.size(), prefix) == 0)
            return tags.substr(start + prefix.size(), end - start - prefix.size());
        start = end + 1;
    }
    return {};
}

int64_t now_ns()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

template <class T>
T number(const json &row, const char *key)
{
    const auto s = row.value(key, std::string());
    try {
        return s.empty() ? T{} : T(std::stod(s));
    } catch (const std::exception &) {
        return T{};
    }
}

}  // namespace

result<std::vector<lvm_lv>> parse_lvs_report(const std::string &json_text)
{
    const auto j = json::parse(json_text, nullptr, false);
    if (!j.is_object() || !j.contains("report") || !j["report"].is_array())
        return fail(node_error::kind::protocol, "lvs: not a JSON report: " + json_text.substr(0, 200));
    std::vector<lvm_lv> lvs;
    for (const auto &section : j["report"]) {
        if (!section.is_object() || !section.contains("lv") || !section["lv"].is_array())
            continue;
        for (const auto &row : section["lv"]) {
            if (!row.is_object())
                return fail(node_error::kind::protocol, "lvs: a row that is not an object: " + row.dump());
            lvs.push_back({.name = row.value("lv_name", ""),
                           .vg = row.value("vg_name", ""),
                           .pool = row.value("pool_lv", ""),
                           .origin = row.value("origin", ""),
                           .attr = row.value("lv_attr", ""),
                           .tags = row.value("lv_tags", ""),
                           .size_bytes = number<int64_t>(row, "lv_size"),
                           .data_percent = number<double>(row, "data_percent")});
        }
    }
    return lvs;
}

result<lvm_store> lvm_store::open(const std::string &vg, std::string lvm_binary)
{
    if (vg.empty() || vg.find('/') != std::string::npos)
        return fail(node_error::kind::state, "lvm store: bad volume group name \"" + vg + "\"");
    lvm_store store(vg, std::move(lvm_binary));
    if (auto r = store.report(); !r)
        return std::unexpected(r.error());
    return store;
}

result<std::string> lvm_store::lvm(std::vector<std::string> args) const
{
    args.insert(args.begin(), _lvm);
    return run_checked(args);
}

result<std::vector<lvm_lv>> lvm_store::report() const
{
    auto out = lvm({"lvs", "--reportformat", "json", "--units", "b", "--nosuffix", "-o", report_fields, _vg});
    if (!out)
        return std::unexpected(out.error());
    return parse_lvs_report(*out);
}

volume lvm_store::describe(const lvm_lv &lv) const
{
    volume v;
    v.name = lv.name;
    v.disk = tag_value(lv.tags, disk_tag);
    v.parent = tag_value(lv.tags, parent_tag);
    if (v.parent.empty())
        v.parent = lv.origin;
    v.path = "/dev/" + lv.vg + "/" + lv.name;
    v.format = "raw";
    v.read_only = lv.attr.size() > 1 && lv.attr[1] == 'r';
    const auto plus = lv.name.find('+');
    if (v.disk.empty()) {
        v.role = volume_role::base;
    } else if (plus != std::string::npos) {
        v.role = volume_role::snapshot;
        v.checkpoint = lv.name.substr(plus + 1);
    } else {
        v.role = volume_role::live;
    }
    v.size_bytes = lv.size_bytes;
    v.used_bytes = int64_t(double(lv.size_bytes) * lv.data_percent / 100.0);
    return v;
}

result<std::vector<volume>> lvm_store::list(const std::string &disk)
{
    auto lvs = report();
    if (!lvs)
        return std::unexpected(lvs.error());
    std::map<std::string, volume> ours;
    for (const auto &lv : *lvs)
        if (auto v = describe(lv); v.role != volume_role::base && (disk.empty() || v.disk == disk))
            ours.emplace(v.name, v);
    // Parents before children: emit a volume once its parent is out or not one of ours (a base, removed).
    std::vector<volume> sorted;
    std::set<std::string> out;
    for (bool progress = true; progress && sorted.size() < ours.size();) {
        progress = false;
        for (const auto &[name, v] : ours)
            if (!out.count(name) && (!ours.count(v.parent) || out.count(v.parent))) {
                sorted.push_back(v);
                out.insert(name);
                progress = true;
            }
    }
    for (const auto &[name, v] : ours)  // tags edited by hand into a cycle: still listed
        if (!out.count(name))
            sorted.push_back(v);
    return sorted;
}

result<volume> lvm_store::find(const std::string &name)
{
    auto lvs = report();
    if (!lvs)
        return std::unexpected(lvs.error());
    for (const auto &lv : *lvs)
        if (lv.name == name)
            return describe(lv);
    return fail(node_error::kind::command, "no volume " + name + " in volume group " + _vg);
}

result<std::string> lvm_store::next_live_name(const std::string &disk) const
{
    auto lvs = report();
    if (!lvs)
        return std::unexpected(lvs.error());
    int next = 0;
    const std::string prefix = disk + ".";
    for (const auto &lv : *lvs) {
        if (lv.name.compare(0, prefix.size(), prefix) != 0)
            continue;
        const auto digits = lv.name.substr(prefix.size());
        if (!digits.empty() && digits.size() < 9 && std::all_of(digits.begin(), digits.end(), ::isdigit))
            next = std::max(next, std::stoi(digits) + 1);
    }
    return prefix + std::to_string(next);
}

// A thin snapshot (no size: it lives in the origin's pool), tagged with its disk and parent; a writable one
// is activated, which thin snapshots skip by default (the 'k' attribute) unless -K is given.
result<volume> lvm_store::thin_snapshot(const std::string &origin, const std::string &name, const std::string &disk,
                                        const std::string &parent, bool read_only)
{
    std::vector<std::string> args{"lvcreate", "--snapshot", "--name", name, "--permission", read_only ? "r" : "rw",
                                  "--addtag", disk_tag + disk, "--addtag", parent_tag + parent, origin};
    if (auto c = lvm(args); !c)
        return std::unexpected(c.error());
    if (!read_only)
        if (auto a = lvm({"lvchange", "-ay", "-K", _vg + "/" + name}); !a)
            return std::unexpected(a.error());
    return find(name);
}

result<volume> lvm_store::create(const std::string &disk, const std::string &base)
{
    if (!valid_volume_part(disk))
        return fail(node_error::kind::state, "bad disk name \"" + disk + "\"");
    const auto slash = base.find('/');
    if (slash == std::string::npos || base.substr(0, slash) != _vg)
        return fail(node_error::kind::state, "base " + base + " is not VG/LV in " + _vg +
                                                 " (a thin snapshot stays in its origin's pool)");
    auto existing = list(disk);
    if (!existing)
        return std::unexpected(existing.error());
    if (!existing->empty())
        return fail(node_error::kind::state, "disk " + disk + " already has volumes (" + existing->front().name + ")");
    return thin_snapshot(base, disk + ".0", disk, "/dev/" + base, false);
}

result<snapshot_plan> lvm_store::snapshot(const volume &live, const std::string &checkpoint, const volume_switch &)
{
    if (!valid_volume_part(checkpoint))
        return fail(node_error::kind::state, "bad checkpoint name \"" + checkpoint + "\"");
    if (live.role != volume_role::live)
        return fail(node_error::kind::state, live.name + " is a " + to_string(live.role) + " volume, not live");
    const std::string name = snapshot_name(live.disk, checkpoint);
    if (auto there = find(name); there)
        return fail(node_error::kind::state, "snapshot " + name + " exists already");
    snapshot_plan plan;
    plan.checkpoint = checkpoint;
    plan.live = live;
    plan.started_ns = now_ns();
    auto snap = thin_snapshot(_vg + "/" + live.name, name, live.disk, live.name, true);
    if (!snap)
        return std::unexpected(snap.error());
    plan.snapshot = *snap;
    plan.next_live = live;  // the origin goes on as the live volume: no hypervisor step
    plan.hypervisor_switch = false;
    plan.finished_ns = now_ns();
    return plan;
}

result<volume> lvm_store::branch(const volume &snapshot)
{
    if (snapshot.role != volume_role::snapshot)
        return fail(node_error::kind::state, snapshot.name + " is a " + to_string(snapshot.role) +
                                                 " volume, not a snapshot");
    auto name = next_live_name(snapshot.disk);
    if (!name)
        return std::unexpected(name.error());
    return thin_snapshot(_vg + "/" + snapshot.name, *name, snapshot.disk, snapshot.name, false);
}

result<void> lvm_store::remove(const std::string &name)
{
    auto v = find(name);
    if (!v)
        return std::unexpected(v.error());
    if (v->role == volume_role::base)
        return fail(node_error::kind::state, name + " is not a volume of the store (a base is never removed)");
    if (auto r = lvm({"lvremove", "-f", _vg + "/" + name}); !r)
        return std::unexpected(r.error());
    return {};
}

}  // namespace stasis::node
