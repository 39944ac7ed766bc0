// qcow2 branching disks through qemu-img: create -b/-F for every new layer, info --output=json to read the
// tree back, chmod for read-only, symlinks for snapshot names.
#include "qcow2_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>

#include <nlohmann/json.hpp>

#include "run_command.hpp"

namespace stasis::node {

namespace {

namespace fs = std::filesystem;
constexpr const char *suffix = ".qcow2";

int64_t now_ns()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// "DISK.N.qcow2" -> (DISK, N); N < 0 if the file is not a layer's.
std::pair<std::string, int> parse_layer(const std::string &file)
{
    if (!file.ends_with(suffix))
        return {"", -1};
    const std::string stem = file.substr(0, file.size() - 6);
    const auto dot = stem.rfind('.');
    if (dot == std::string::npos || dot + 1 == stem.size())
        return {"", -1};
    const std::string n = stem.substr(dot + 1);
    if (!std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; }) || n.size() > 9)
        return {"", -1};
    return {stem.substr(0, dot), std::stoi(n)};
}

void sync_dir(const std::string &dir)
{
    if (const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

bool writable(const std::string &path)
{
    struct stat st {};
    return stat(path.c_str(), &st) == 0 && (st.st_mode & 0222) != 0;
}

}  // namespace

result<qcow2_store> qcow2_store::open(const std::string &dir, std::string qemu_img)
{
    std::error_code ec;
    fs::create_directories(fs::path(dir) / "layers", ec);
    if (ec)
        return fail(node_error::kind::io, "cannot create disk store " + dir + ": " + ec.message());
    return qcow2_store(fs::absolute(dir).lexically_normal().string(), std::move(qemu_img));
}

std::string qcow2_store::layer_path(const std::string &disk, int n) const
{
    return _dir + "/layers/" + disk + "." + std::to_string(n) + suffix;
}

std::string qcow2_store::name_path(const std::string &name) const { return _dir + "/" + name + suffix; }

result<int> qcow2_store::next_layer(const std::string &disk) const
{
    int n = 0;
    std::error_code ec;
    for (const auto &e : fs::directory_iterator(_dir + "/layers", ec)) {
        const auto [d, i] = parse_layer(e.path().filename().string());
        if (d == disk)
            n = std::max(n, i);
    }
    if (ec)
        return fail(node_error::kind::io, "cannot read " + _dir + "/layers: " + ec.message());
    return n + 1;
}

result<volume> qcow2_store::describe(const std::string &layer_file)
{
    // -U: QEMU holds a lock on the layers it has open; reading the header is safe anyway.
    auto out = run_checked({_qemu_img, "info", "-U", "--output=json", layer_file});
    if (!out)
        return std::unexpected(out.error());
    const auto j = nlohmann::json::parse(*out, nullptr, false);
    if (!j.is_object())
        return fail(node_error::kind::protocol, "qemu-img info " + layer_file + ": not JSON");
    volume v;
    v.path = layer_file;
    const auto [disk, n] = parse_layer(fs::path(layer_file).filename().string());
    v.disk = disk;
    v.name = disk + "." + std::to_string(n);
    v.format = j.value("format", "");
    v.size_bytes = j.value("virtual-size", int64_t(0));
    v.used_bytes = j.value("actual-size", int64_t(0));
    v.parent = j.value("full-backing-filename", j.value("backing-filename", ""));
    v.read_only = !writable(layer_file);
    v.role = v.read_only ? volume_role::layer : volume_role::live;
    return v;
}

result<std::vector<volume>> qcow2_store::list(const std::string &disk)
{
    std::map<std::string, std::string> names;  // layer path -> snapshot name
    std::vector<std::string> layers;
    std::error_code ec;
    for (const auto &e : fs::directory_iterator(_dir, ec)) {
        const std::string file = e.path().filename().string();
        if (e.is_symlink() && file.ends_with(suffix))
            names[(fs::path(_dir) / fs::read_symlink(e.path())).lexically_normal().string()] =
                file.substr(0, file.size() - 6);
    }
    for (const auto &e : fs::directory_iterator(_dir + "/layers", ec)) {
        const auto [d, n] = parse_layer(e.path().filename().string());
        if (n >= 0 && (disk.empty() || d == disk))
            layers.push_back(e.path().string());
    }
    if (ec)
        return fail(node_error::kind::io, "cannot read disk store " + _dir + ": " + ec.message());
    std::vector<volume> all;
    std::map<std::string, size_t> by_path;
    for (const auto &path : layers) {
        auto v = describe(path);
        if (!v)
            return std::unexpected(v.error());
        if (auto it = names.find(path); it != names.end()) {
            v->name = it->second;
            v->checkpoint = it->second.substr(it->second.find('+') + 1);
            v->role = volume_role::snapshot;
        }
        by_path[path] = all.size();
        all.push_back(std::move(*v));
    }
    // A parent inside the store is named by its volume name; depth orders parents before children.
    std::vector<int> depth(all.size(), 0);
    for (size_t i = 0; i < all.size(); ++i)
        for (auto p = by_path.find(all[i].path); p != by_path.end(); p = by_path.find(all[p->second].parent))
            if (++depth[i] > int(all.size()))
                return fail(node_error::kind::protocol, "disk store " + _dir + ": a backing loop at " + all[i].path);
    for (auto &v : all)
        if (auto p = by_path.find(v.parent); p != by_path.end())
            v.parent = all[p->second].name;
    std::vector<size_t> order(all.size());
    for (size_t i = 0; i < order.size(); ++i)
        order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        return depth[a] != depth[b] ? depth[a] < depth[b] : all[a].name < all[b].name;
    });
    std::vector<volume> sorted;
    for (size_t i : order)
        sorted.push_back(std::move(all[i]));
    return sorted;
}

result<volume> qcow2_store::find(const std::string &name)
{
    auto all = list();
    if (!all)
        return std::unexpected(all.error());
    for (auto &v : *all)
        if (v.name == name)
            return std::move(v);
    return fail(node_error::kind::command, "no volume " + name + " in disk store " + _dir);
}

result<volume> qcow2_store::new_overlay(const std::string &disk, const std::string &backing,
                                        const std::string &format, const std::string &parent)
{
    auto n = next_layer(disk);
    if (!n)
        return std::unexpected(n.error());
    const std::string path = layer_path(disk, *n);
    if (auto c = run_checked({_qemu_img, "create", "-q", "-f", "qcow2", "-b", backing, "-F", format, path}); !c)
        return std::unexpected(c.error());
    sync_dir(_dir + "/layers");
    auto v = describe(path);
    if (v)
        v->parent = parent;
    return v;
}

result<volume> qcow2_store::create(const std::string &disk, const std::string &base)
{
    if (!valid_volume_part(disk))
        return fail(node_error::kind::command, "disk name '" + disk + "' is not [A-Za-z0-9_-]{1,64}");
    auto existing = list(disk);
    if (!existing)
        return std::unexpected(existing.error());
    if (!existing->empty())
        return fail(node_error::kind::state, "disk " + disk + " already has " + std::to_string(existing->size()) +
                                                 " volume(s) in " + _dir);
    const std::string base_path = fs::absolute(base).lexically_normal().string();
    auto info = run_checked({_qemu_img, "info", "-U", "--output=json", base_path});
    if (!info)
        return std::unexpected(info.error());
    const auto j = nlohmann::json::parse(*info, nullptr, false);
    const std::string format = j.is_object() ? j.value("format", "") : "";
    if (format.empty())
        return fail(node_error::kind::protocol, "qemu-img info " + base_path + ": no format");
    return new_overlay(disk, base_path, format, base_path);
}

result<snapshot_plan> qcow2_store::snapshot(const volume &live, const std::string &checkpoint,
                                            const volume_switch &in_use)
{
    snapshot_plan plan;
    plan.checkpoint = checkpoint;
    plan.started_ns = now_ns();
    if (!valid_volume_part(checkpoint))
        return fail(node_error::kind::command, "checkpoint name '" + checkpoint + "' is not [A-Za-z0-9_-]{1,64}");
    auto current = find(live.name);
    if (!current)
        return std::unexpected(current.error());
    if (current->role != volume_role::live)
        return fail(node_error::kind::state, "cannot snapshot " + live.name + ": it is a " +
                                                 to_string(current->role) + ", not a live volume");
    const std::string name = snapshot_name(current->disk, checkpoint);
    std::error_code ec;
    if (fs::is_symlink(name_path(name), ec))
        return fail(node_error::kind::state, "snapshot " + name + " already exists in " + _dir);
    plan.live = *current;
    auto next = new_overlay(current->disk, current->path, "qcow2", name);
    if (!next)
        return std::unexpected(next.error());
    plan.next_live = std::move(*next);
    plan.hypervisor_switch = true;
    if (in_use) {
        if (auto s = in_use(plan); !s) {
            fs::remove(plan.next_live.path, ec);
            return std::unexpected(s.error());
        }
    }
    if (chmod(current->path.c_str(), 0444) != 0 ||
        symlink(("layers/" + fs::path(current->path).filename().string()).c_str(), name_path(name).c_str()) != 0)
        return fail(node_error::kind::io, "cannot name snapshot " + name + " in " + _dir + ": " +
                                              std::string(std::strerror(errno)));
    sync_dir(_dir);
    plan.snapshot = *current;
    plan.snapshot.name = name;
    plan.snapshot.checkpoint = checkpoint;
    plan.snapshot.role = volume_role::snapshot;
    plan.snapshot.read_only = true;
    plan.finished_ns = now_ns();
    return plan;
}

result<volume> qcow2_store::branch(const volume &snapshot)
{
    auto s = find(snapshot.name);
    if (!s)
        return std::unexpected(s.error());
    if (s->role != volume_role::snapshot)
        return fail(node_error::kind::state, "cannot branch " + snapshot.name + ": it is a " +
                                                 to_string(s->role) + ", not a snapshot");
    return new_overlay(s->disk, s->path, "qcow2", s->name);
}

result<void> qcow2_store::remove(const std::string &name)
{
    auto all = list();
    if (!all)
        return std::unexpected(all.error());
    auto it = std::find_if(all->begin(), all->end(), [&](const volume &v) { return v.name == name; });
    if (it == all->end())
        return fail(node_error::kind::command, "no volume " + name + " in disk store " + _dir);
    std::error_code ec;
    for (;;) {
        const volume v = *it;
        const bool has_children =
            std::any_of(all->begin(), all->end(), [&](const volume &c) { return c.parent == v.name; });
        if (v.role == volume_role::snapshot)
            fs::remove(name_path(v.name), ec);
        if (has_children)
            break;  // a named snapshot becomes an unnamed layer under its branches
        if (!fs::remove(v.path, ec) || ec)
            return fail(node_error::kind::io, "cannot remove " + v.path + ": " + (ec ? ec.message() : "gone"));
        all->erase(it);
        // The parent goes too if it was an unnamed layer that only this volume needed.
        it = std::find_if(all->begin(), all->end(), [&](const volume &p) { return p.name == v.parent; });
        if (it == all->end() || it->role != volume_role::layer)
            break;
    }
    sync_dir(_dir);
    sync_dir(_dir + "/layers");
    return {};
}

}  // namespace stasis::node
