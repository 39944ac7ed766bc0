// The node agent's part in a coordinated checkpoint: prepare (every guest freezes at F), save (disk
// snapshots and migration streams into one directory with a manifest), abort, thaw, load, release.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "node_agent.hpp"
#include "stasis/control/agent_replies.hpp"
#include "stasis/node/small_file.hpp"
#include "stasis/snapshot/crc32c.hpp"

namespace stasis::noded {

namespace ctl = stasis::control;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr const char *manifest_file = "manifest.json";

ctl::Reply failed(ctl::Status s, std::string msg)
{
    ctl::Reply r;
    r.set_status(s);
    r.set_message(std::move(msg));
    return r;
}

std::string hex32(uint32_t v)
{
    char buf[16];
    snprintf(buf, sizeof buf, "%08x", v);
    return buf;
}

// CRC-32C of a whole file.
node::result<uint32_t> file_crc(const std::string &path)
{
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return node::fail(node::node_error::kind::io, "cannot open " + path + ": " + std::strerror(errno));
    std::vector<char> buf(1 << 20);
    uint32_t crc = 0;
    ssize_t n;
    while ((n = ::read(fd, buf.data(), buf.size())) > 0)
        crc = snapshot::crc32c(crc, buf.data(), size_t(n));
    const int err = errno;
    ::close(fd);
    if (n < 0)
        return node::fail(node::node_error::kind::io, "cannot read " + path + ": " + std::strerror(err));
    return crc;
}

void sync_path(const std::string &path)
{
    if (const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC); fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
}

std::string ms_text(int64_t ns) { return std::to_string(ns / 1'000'000) + " ms"; }

}  // namespace

ctl::Reply node_agent::prepare(const ctl::Prepare &q)
{
    if ((_phase == node_phase::freezing || _phase == node_phase::frozen) && !q.checkpoint().empty() &&
        q.checkpoint() == _checkpoint && q.freeze_ns() == _freeze_ns)
        return freeze_status();  // a restarted controller asking again: already prepared
    if (_phase != node_phase::running)
        return failed(ctl::INVALID_ARGUMENT, std::string("cannot freeze: the guests are ") + to_string(_phase) +
                                                 (_phase == node_phase::absent ? " (load a checkpoint first)" : ""));
    const int64_t now = ctl::realtime_ns();
    int64_t f = q.freeze_ns();
    if (f == 0)
        f = now + 1'000'000;
    else if (f <= now)
        return failed(ctl::INVALID_ARGUMENT, "the freeze instant " + std::to_string(f) + " is " +
                                                 std::to_string(now - f) + " ns in the past");
    forget_checkpoint();
    _checkpoint = q.checkpoint();
    _resume_ns = 0;
    refresh_lost();
    start_freeze(f);
    ctl::Reply r;
    r.mutable_freeze()->set_frozen(true);
    r.mutable_freeze()->set_freeze_ns(f);
    r.mutable_freeze()->set_checkpoint(_checkpoint);
    r.set_message("freezing " + std::to_string(_guests.size()) + " guest(s) at " + std::to_string(f) +
                  (_checkpoint.empty() ? "" : " for checkpoint " + _checkpoint) + lost_text());
    return r;
}

ctl::Reply node_agent::thaw(const ctl::Thaw &q)
{
    if (_phase != node_phase::freezing && _phase != node_phase::frozen)
        return failed(ctl::INVALID_ARGUMENT, std::string("not frozen: the guests are ") + to_string(_phase));
    const int64_t f = _freeze_ns;
    const int64_t r_ns = q.at_ns() ? q.at_ns() : ctl::realtime_ns() + 1'000'000;
    ctl::Reply r;
    r.mutable_freeze()->set_frozen(false);
    r.mutable_freeze()->set_freeze_ns(f);
    _deferred_resume_ns = 0;
    if (_phase == node_phase::freezing && ctl::realtime_ns() < f - 2'000'000) {
        _threads.cancel();
        // A guest whose thread got past its sleep anyway is frozen: let it go at once.
        for (auto &g : _guests)
            if (g.freeze.landed_ns)
                (void)g.backend->resume_at(0);
        _phase = node_phase::running;
        forget_checkpoint();
        _resume_ns = 0;
        r.mutable_freeze()->set_resume_ns(r_ns);
        r.set_message("the scheduled freeze is cancelled");
        return r;
    }
    if (_phase == node_phase::freezing)
        finish_freeze(_pending);  // F has passed: the freeze lands within a few ms
    forget_checkpoint();
    start_resume(r_ns);
    r.mutable_freeze()->set_resume_ns(r_ns);
    r.set_message("resuming " + std::to_string(_guests.size()) + " guest(s) at " + std::to_string(r_ns));
    return r;
}

std::string node_agent::remove_saved()
{
    std::string removed;
    if (!_saved_dir.empty()) {
        std::error_code ec;
        fs::remove_all(_saved_dir, ec);
        removed += "; removed " + _saved_dir;
        _saved_dir.clear();
    }
    for (auto &g : _guests)
        if (g.snapshot && _store) {
            // The guest goes on writing above it, so its data stays as an unnamed layer.
            if (auto rm = _store->remove(g.snapshot->name); rm)
                removed += ", " + g.snapshot->name;
            g.snapshot.reset();
        }
    return removed;
}

ctl::Reply node_agent::abort(const ctl::Abort &q)
{
    if (_phase != node_phase::freezing && _phase != node_phase::frozen) {
        ctl::Reply r;
        r.mutable_freeze()->set_frozen(false);
        r.set_message(std::string("not frozen: nothing to abort (") + to_string(_phase) + ")");
        return r;
    }
    if (!q.checkpoint().empty() && !_checkpoint.empty() && q.checkpoint() != _checkpoint)
        return failed(ctl::INVALID_ARGUMENT, "this agent is frozen for checkpoint '" + _checkpoint + "', not '" +
                                                 q.checkpoint() + "'");
    const int64_t f = _freeze_ns;
    const int64_t r_ns = q.resume_ns();
    if (r_ns != 0 && r_ns <= f)
        return failed(ctl::INVALID_ARGUMENT, "the resume instant " + std::to_string(r_ns) +
                                                 " is not after the freeze instant " + std::to_string(f));
    const std::string removed = remove_saved();
    if (r_ns != 0 && _phase == node_phase::freezing && ctl::realtime_ns() < f) {
        _deferred_resume_ns = r_ns;  // freeze at F anyway, so every survivor pauses alike
        ctl::Reply r;
        r.mutable_freeze()->set_frozen(true);
        r.mutable_freeze()->set_freeze_ns(f);
        r.mutable_freeze()->set_resume_ns(r_ns);
        r.set_message("aborted" + removed + "; freezing at " + std::to_string(f) + " and resuming at " +
                      std::to_string(r_ns));
        return r;
    }
    ctl::Thaw t;
    t.set_at_ns(r_ns);
    ctl::Reply r = thaw(t);
    if (r.status() == ctl::OK)
        r.set_message("aborted" + removed + "; " + r.message());
    return r;
}

node::result<json> node_agent::save_guest(guest_slot &g, const std::string &dir, const std::string &snapshot)
{
    json e{{"name", g.def.name}};
    const int64_t t0 = ctl::realtime_ns();
    if (g.live && _store) {
        auto plan = _store->snapshot(*g.live, snapshot, [&](const node::snapshot_plan &p) {
            return _host.switch_disk(*g.backend, p);
        });
        if (!plan)
            return node::fail(plan.error().what, "disk of " + g.def.name + ": " + plan.error().message);
        g.snapshot = plan->snapshot;
        g.live = plan->next_live;
        e["disk"] = {{"store", _store->kind()},
                     {"volume", plan->snapshot.name},
                     {"path", plan->snapshot.path},
                     {"size_bytes", plan->snapshot.size_bytes},
                     {"used_bytes", plan->snapshot.used_bytes}};
    }
    const int64_t t1 = ctl::realtime_ns();
    const std::string file = g.def.name + ".state";
    auto s = g.backend->save(dir + "/" + file);
    if (!s)
        return std::unexpected(s.error());
    auto crc = file_crc(s->path);
    if (!crc)
        return std::unexpected(crc.error());
    e["state"] = file;
    e["state_bytes"] = s->size_bytes;
    e["state_crc32c"] = hex32(*crc);
    // The files the backend keeps beside the state (the frames waiting in the guest's taps), checked at Load.
    json files = json::array();
    for (const auto &f : s->files) {
        auto c = file_crc(f);
        if (!c)
            return std::unexpected(c.error());
        files.push_back({{"file", fs::path(f).filename().string()}, {"crc32c", hex32(*c)}});
    }
    if (!files.empty())
        e["files"] = files;
    e["tap_frames"] = s->tap_frames;
    if (!s->warnings.empty())
        e["warnings"] = s->warnings;
    e["frozen_at_ns"] = g.freeze.landed_ns;
    e["disk_ns"] = t1 - t0;
    e["save_ns"] = ctl::realtime_ns() - t1;
    return e;
}

ctl::Reply node_agent::save(const ctl::Save &q)
{
    if (q.path().empty())
        return failed(ctl::BAD_REQUEST, "save: no path");
    if (_phase != node_phase::frozen)
        return failed(ctl::INVALID_ARGUMENT, std::string("cannot save: the guests are ") + to_string(_phase) +
                                                 (_phase == node_phase::freezing ? " (wait for FROZEN)" : ""));
    for (const auto &g : _guests)
        if (!g.error.empty())
            return failed(ctl::FAILED, "cannot save: " + g.def.name + " did not freeze: " + g.error);
    refresh_lost();
    for (const auto &g : _guests)
        if (!g.lost.empty())
            return failed(ctl::FAILED, "cannot save: " + g.def.name + " is lost (" + g.lost +
                                           "): its present is gone; go back to a committed checkpoint "
                                           "(stasis timetravel EXP CHECKPOINT)");
    if (!_saved_dir.empty())
        return failed(ctl::INVALID_ARGUMENT, "this freeze is already saved in " + _saved_dir);
    std::error_code ec;
    if (fs::exists(q.path(), ec))
        return failed(ctl::INVALID_ARGUMENT, q.path() + " exists: a node saves into a new directory");
    const std::string part = q.path() + ".part";
    fs::remove_all(part, ec);
    fs::create_directories(part, ec);
    if (ec)
        return failed(ctl::FAILED, "cannot create " + part + ": " + ec.message());
    const std::string snap =
        node::valid_volume_part(_checkpoint) ? _checkpoint : "f" + std::to_string(_freeze_ns);
    const int64_t t0 = ctl::realtime_ns();
    std::vector<node::result<json>> entries(_guests.size(), json());
    guest_threads::run_all(_guests.size(), [&](size_t i) { entries[i] = save_guest(_guests[i], part, snap); });
    std::string errors;
    json manifest{{"agent", _name}, {"checkpoint", _checkpoint}, {"freeze_ns", _freeze_ns},
                  {"saved_ns", ctl::realtime_ns()}, {"guests", json::array()}};
    int64_t bytes = 0;
    for (size_t i = 0; i < entries.size(); ++i) {
        if (!entries[i]) {
            errors += (errors.empty() ? "" : "; ") + _guests[i].def.name + ": " + entries[i].error().message;
            continue;
        }
        bytes += entries[i]->value("state_bytes", int64_t(0));
        if (entries[i]->contains("disk"))
            bytes += (*entries[i])["disk"].value("used_bytes", int64_t(0));
        manifest["guests"].push_back(*entries[i]);
    }
    const std::string text = manifest.dump(2) + "\n";
    if (errors.empty()) {
        if (auto m = node::write_small_file(part + "/" + manifest_file, text); !m)
            errors = m.error().message;
    }
    if (errors.empty()) {
        sync_path(part);
        fs::rename(part, q.path(), ec);
        if (ec)
            errors = "rename " + part + " to " + q.path() + ": " + ec.message();
        sync_path(fs::path(q.path()).parent_path().string());
    }
    if (!errors.empty()) {
        fs::remove_all(part, ec);
        remove_saved();
        _pending.push_back(event(ctl::Event::FAILED, "save to " + q.path() + " failed: " + errors));
        return failed(ctl::FAILED, "save to " + q.path() + " failed: " + errors);
    }
    _saved_dir = q.path();
    ctl::Reply r;
    auto *s = r.mutable_snapshot();
    s->set_path(q.path());
    s->set_freeze_ns(_freeze_ns);
    s->set_file_bytes(uint64_t(bytes) + text.size());
    s->set_checksum("crc32c:" + hex32(snapshot::crc32c(0, text.data(), text.size())));
    std::string warnings;
    for (const auto &e : manifest["guests"])
        for (const auto &w : e.value("warnings", json::array())) {
            const std::string line = e.value("name", std::string("?")) + ": " + w.get<std::string>();
            s->add_warnings(line);
            warnings += "; " + line;
        }
    r.set_message("saved " + std::to_string(_guests.size()) + " guest(s) in " + q.path() + " (" +
                  ms_text(ctl::realtime_ns() - t0) + ")" + warnings);
    ctl::Event e = event(ctl::Event::SAVED, r.message());
    *e.mutable_snapshot() = r.snapshot();
    _pending.push_back(std::move(e));
    return r;
}

node::result<int64_t> node_agent::load_guest(guest_slot &g, const std::string &dir, const json &entry)
{
    std::string disk;
    if (entry.contains("disk")) {
        if (!_store)
            return node::fail(node::node_error::kind::state, g.def.name + ": the snapshot has a disk, the node no store");
        auto snap = _store->find(entry["disk"].value("volume", ""));
        if (!snap)
            return std::unexpected(snap.error());
        auto branch = _store->branch(*snap);
        if (!branch)
            return std::unexpected(branch.error());
        g.live = *branch;
        disk = branch->path;
    }
    const std::string state = dir + "/" + entry.value("state", "");
    auto crc = file_crc(state);
    if (!crc)
        return std::unexpected(crc.error());
    if (hex32(*crc) != entry.value("state_crc32c", ""))
        return node::fail(node::node_error::kind::protocol, state + ": CRC-32C " + hex32(*crc) + ", the manifest says " +
                                                                entry.value("state_crc32c", "?"));
    const json files = entry.contains("files") ? entry["files"] : json::array();
    if (!files.is_array())
        return node::fail(node::node_error::kind::protocol, dir + "/manifest.json: guest " + g.def.name +
                                                                ": \"files\" is not a list");
    for (const auto &f : files) {
        if (!f.is_object() || !f.contains("file") || !f["file"].is_string())
            return node::fail(node::node_error::kind::protocol, dir + "/manifest.json: guest " + g.def.name +
                                                                    ": an entry of \"files\" without its \"file\"");
        const std::string path = dir + "/" + f["file"].get<std::string>();
        auto c = file_crc(path);
        if (!c)
            return std::unexpected(c.error());
        if (hex32(*c) != f.value("crc32c", ""))
            return node::fail(node::node_error::kind::protocol, path + ": CRC-32C " + hex32(*c) +
                                                                    ", the manifest says " + f.value("crc32c", "?"));
    }
    g.backend = _host.make(g.def.name, disk);
    g.lost.clear();
    if (!g.backend)
        return node::fail(node::node_error::kind::state, "no backend for guest " + g.def.name);
    auto r = g.backend->restore(state);
    if (!r)
        return std::unexpected(r.error());
    std::lock_guard lock(_mu);
    g.freeze = {.target_ns = 0, .issued_ns = 0, .returned_ns = 0,
                .landed_ns = r->frozen_at_ns ? r->frozen_at_ns : entry.value("frozen_at_ns", int64_t(0))};
    g.error.clear();
    return r->finished_ns - r->started_ns;
}

ctl::Reply node_agent::load(const ctl::Load &q)
{
    if (q.path().empty())
        return failed(ctl::BAD_REQUEST, "load: no path");
    if (_phase == node_phase::running || _phase == node_phase::resuming || _phase == node_phase::freezing)
        return failed(ctl::INVALID_ARGUMENT, std::string("cannot load: the guests are ") + to_string(_phase) +
                                                 " (freeze them first)");
    if (_phase == node_phase::frozen && !q.discard_frozen())
        return failed(ctl::INVALID_ARGUMENT, "cannot load: the guests are frozen with a state of their own; "
                                             "set discard_frozen to drop it");
    std::ifstream in(q.path() + "/" + manifest_file);
    if (!in)
        return failed(ctl::NOT_FOUND, "no " + std::string(manifest_file) + " in " + q.path());
    const json manifest = json::parse(in, nullptr, false);
    if (!manifest.is_object() || !manifest.contains("guests") || !manifest["guests"].is_array())
        return failed(ctl::FAILED, q.path() + "/" + manifest_file + " is not a node manifest");
    std::map<std::string, json> by_name;
    for (const auto &e : manifest["guests"])
        by_name[e.value("name", "")] = e;
    std::set<std::string> ours;
    for (const auto &g : _guests)
        ours.insert(g.def.name);
    for (const auto &g : _guests)
        if (!by_name.contains(g.def.name))
            return failed(ctl::INVALID_ARGUMENT, q.path() + " has no guest " + g.def.name);
    for (const auto &[name, e] : by_name)
        if (!ours.contains(name))
            return failed(ctl::INVALID_ARGUMENT, q.path() + " has guest " + name + ", which this node does not");
    // Time-travel: the present since the last checkpoint is dropped, its disk layers too.
    release_all();
    for (auto &g : _guests) {
        if (g.live && _store)
            (void)_store->remove(g.live->name);
        g.live.reset();
    }
    forget_checkpoint();
    const int64_t t0 = ctl::realtime_ns();
    std::vector<node::result<int64_t>> done(_guests.size(), int64_t(0));
    guest_threads::run_all(_guests.size(), [&](size_t i) {
        done[i] = load_guest(_guests[i], q.path(), by_name[_guests[i].def.name]);
    });
    std::string errors;
    for (size_t i = 0; i < done.size(); ++i)
        if (!done[i])
            errors += (errors.empty() ? "" : "; ") + _guests[i].def.name + ": " + done[i].error().message;
    if (!errors.empty()) {
        release_all();
        return failed(ctl::FAILED, "load of " + q.path() + " failed: " + errors);
    }
    _phase = node_phase::frozen;
    _loaded = true;
    _checkpoint = manifest.value("checkpoint", "");
    _freeze_ns = manifest.value("freeze_ns", int64_t(0));
    int64_t bytes = 0;
    for (const auto &[name, e] : by_name)
        bytes += e.value("state_bytes", int64_t(0));
    ctl::Reply r;
    auto *s = r.mutable_snapshot();
    s->set_path(q.path());
    s->set_freeze_ns(_freeze_ns);
    s->set_file_bytes(uint64_t(bytes));
    r.set_message("loaded " + std::to_string(_guests.size()) + " guest(s) from " + q.path() + " (" +
                  ms_text(ctl::realtime_ns() - t0) + "); frozen until thaw");
    return r;
}

ctl::Reply node_agent::release(const ctl::Release &q)
{
    const bool captured = _phase == node_phase::frozen && (!_saved_dir.empty() || _loaded);
    if (!captured && !q.force())
        return failed(ctl::INVALID_ARGUMENT,
                      _phase == node_phase::frozen
                          ? "frozen but not saved: a release now would lose the guests' state; save first, or force"
                          : std::string("not frozen (") + to_string(_phase) +
                                "): a release now would lose the running guests; checkpoint first, or force");
    _threads.cancel();
    release_all();
    // What the guests wrote after the saved checkpoint is not part of any checkpoint.
    for (auto &g : _guests)
        if (g.live && _store && captured)
            (void)_store->remove(g.live->name);
    _released = true;
    _pending.push_back(event(ctl::Event::RELEASED, "released"));
    ctl::Reply r;
    r.set_message("released " + std::to_string(_guests.size()) +
                  " guest(s): stasis-noded stops once this reply is sent");
    return r;
}

}  // namespace stasis::noded
