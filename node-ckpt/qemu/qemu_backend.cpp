// The QEMU backend: stop/cont at absolute instants, catch-up through the guest agent. The state is saved
// with snapshot-save into a new qcow2 file of its own (the VM state of its one internal snapshot) and
// restored with snapshot-load from a copy of it, not by migration: a completed outgoing migration leaves
// QEMU's block nodes inactive, and the cont after it re-opens every image of the disk's chain before the
// guest runs, 4 to 70 ms measured here. That delay is the guest's and not the network's, so the guest
// would resume that much behind the frozen link. savevm's path never inactivates a node (docs/NODE.md).
#include "stasis/node/qemu_backend.hpp"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "instant.hpp"
#include "qemu_process.hpp"
#include "stasis/node/small_file.hpp"
#include "stasis/node/tap_queue.hpp"

namespace stasis::node {

namespace {

using ms = std::chrono::milliseconds;
namespace fs = std::filesystem;

constexpr ms launch_timeout{15'000};
constexpr ms job_timeout{300'000};
// The block nodes of a state file while QEMU has it open, and the tag of its one snapshot.
constexpr const char *state_file_node = "stasis-state-file";
constexpr const char *state_node = "stasis-state";
constexpr const char *state_tag = "stasis";
// Less free than this under a state file whose save failed: the file system is full.
constexpr int64_t full_below_bytes = int64_t(16) << 20;
constexpr char qcow2_magic[4] = {'Q', 'F', 'I', '\xfb'};

std::string tail_of(const std::string &path, size_t bytes = 600)
{
    std::ifstream in(path);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return text.size() > bytes ? "..." + text.substr(text.size() - bytes) : text;
}

// Next to a saved state: what the restore needs to know about it, and the frames that waited in its
// NIC's tap (tap_queue.hpp).
std::string meta_path(const std::string &path) { return path + ".json"; }
std::string frames_path(const std::string &path, size_t nic) { return path + ".nic" + std::to_string(nic) + ".pcap"; }

std::string ms_text(ms t) { return std::to_string(t.count()) + " ms"; }

// `to` as a reflink of `from` (FICLONE: XFS, Btrfs; no data copied), false where the file system cannot.
bool clone_file(const std::string &from, const std::string &to)
{
    const int in = open(from.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return false;
    const int out = open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const bool cloned = out >= 0 && ioctl(out, FICLONE, in) == 0;
    if (out >= 0)
        close(out);
    close(in);
    return cloned;
}

ms left_until(std::chrono::steady_clock::time_point deadline)
{
    return std::max(ms(0), std::chrono::duration_cast<ms>(deadline - std::chrono::steady_clock::now()));
}

}  // namespace

qemu_backend::qemu_backend(qemu_config config) : _config(std::move(config)) {}

qemu_backend::~qemu_backend() { release(); }

result<void> qemu_backend::launch(bool stopped)
{
    std::error_code ec;
    fs::create_directories(_config.run_dir, ec);
    if (ec)
        return fail(node_error::kind::io, "cannot create run directory " + _config.run_dir + ": " + ec.message());
    fs::remove(_config.qmp_socket(), ec);
    fs::remove(_config.agent_socket(), ec);
    _qmp.reset();
    _agent.reset();
    auto process = qemu_process::spawn(qemu_command_line(_config, stopped), _config.qemu_log(),
                                        _config.die_with_parent);
    if (!process)
        return std::unexpected(process.error());
    _process = std::make_unique<qemu_process>(std::move(*process));
    const auto deadline = std::chrono::steady_clock::now() + launch_timeout;
    for (;;) {
        auto qmp = qmp_client::connect(_config.qmp_socket(), ms(200));
        if (qmp) {
            _qmp.emplace(std::move(*qmp));
            return {};
        }
        if (!_process->running())
            return fail(node_error::kind::closed, "QEMU for " + _config.name + " " + _process->exit_description() +
                                                      "; " + _config.qemu_log() + ": " + tail_of(_config.qemu_log()));
        if (std::chrono::steady_clock::now() >= deadline) {
            _process->kill_and_wait();
            return fail(node_error::kind::timeout, "QEMU for " + _config.name + " did not open " +
                                                       _config.qmp_socket() + ": " + qmp.error().message);
        }
    }
}

result<void> qemu_backend::start()
{
    if (_process && _process->running())
        return fail(node_error::kind::state, _config.name + " is already running (pid " +
                                                 std::to_string(_process->pid()) + ")");
    if (auto r = launch(false); !r)
        return r;
    _state = guest_state::running;
    return {};
}

node_error qemu_backend::qemu_failure(const std::string &what, node_error e)
{
    const std::string who = "QEMU of " + _config.name;
    // A killed QEMU's socket closes as it exits: give the kernel a moment to make it reapable.
    if (_process && (e.what != node_error::kind::closed || !_process->wait_exit(ms(500))) && _process->running()) {
        if (e.what != node_error::kind::timeout)
            return {e.what, who + " (pid " + std::to_string(_process->pid()) + "): " + e.message};
        const std::string state = _process->run_state();
        return {e.what, who + " (pid " + std::to_string(_process->pid()) + ") did not " + what + ": " + e.message +
                            (state.empty() ? "" : "; its process is " + state)};
    }
    if (!_process)
        return {e.what, who + ": " + e.message};
    return {node_error::kind::closed, who + " (pid " + std::to_string(_process->started_pid()) + ") " +
                                          _process->exit_description() + ": it did not " + what + " (" +
                                          e.message + ")"};
}

std::string qemu_backend::lost()
{
    if (!_process || _process->running())
        return {};
    return "QEMU of " + _config.name + " (pid " + std::to_string(_process->started_pid()) + ") " +
           _process->exit_description();
}

result<instant_report> qemu_backend::freeze_at(int64_t f_ns)
{
    if (const std::string gone = lost(); !gone.empty())
        return fail(node_error::kind::closed, gone + " before F: nothing to freeze");
    if (_state != guest_state::running || !_qmp)
        return fail(node_error::kind::state, "cannot freeze " + _config.name + ": it is " + to_string(_state));
    instant_report r{.target_ns = f_ns};
    sleep_until_realtime(f_ns);
    r.issued_ns = realtime_ns();
    const auto deadline = std::chrono::steady_clock::now() + _config.stop_timeout;
    if (auto done = _qmp->execute("stop", nullptr, _config.stop_timeout); !done) {
        _stop_unconfirmed = done.error().what == node_error::kind::timeout;
        return std::unexpected(qemu_failure("stop at F within " + ms_text(_config.stop_timeout), done.error()));
    }
    r.returned_ns = realtime_ns();
    // Only this stop's event: one of an earlier stop that timed out may still be queued.
    auto stopped = _qmp->wait_event("STOP", left_until(deadline), r.issued_ns);
    if (!stopped) {
        _stop_unconfirmed = true;
        return std::unexpected(qemu_failure("stop at F within " + ms_text(_config.stop_timeout) +
                                                " (QMP stop answered, no STOP event)",
                                            stopped.error()));
    }
    r.landed_ns = stopped->timestamp_ns;
    _frozen_at_ns = r.landed_ns;
    _state = guest_state::frozen;
    _stop_unconfirmed = false;
    // QEMU's one frame of read-ahead gets the guard, so that what comes after stays in the tap (tap_queue.hpp).
    _guard_error.clear();
    for (const auto &nic : _config.nics)
        if (auto g = put_tap_queue(_process->pid(), nic.tap, {guard_frame()}); !g)
            _guard_error = g.error().message;
    return r;
}

result<void> qemu_backend::run_job(std::string_view command, nlohmann::json arguments, const std::string &what)
{
    const std::string id = "stasis-" + std::string(command);
    arguments["job-id"] = id;
    if (auto started = _qmp->execute(command, arguments); !started)
        return std::unexpected(started.error());
    const auto deadline = std::chrono::steady_clock::now() + job_timeout;
    for (;;) {
        auto jobs = _qmp->execute("query-jobs");
        if (!jobs)
            return std::unexpected(jobs.error());
        (void)_qmp->take_events();  // JOB_STATUS_CHANGE, a handful a job: nothing waits for them
        const auto job = std::find_if(jobs->begin(), jobs->end(),
                                      [&](const nlohmann::json &j) { return j.value("id", "") == id; });
        if (job == jobs->end())
            return fail(node_error::kind::command, what + ": QEMU lost its job " + id);
        const std::string status = job->value("status", "");
        if (status == "concluded") {
            const std::string error = job->value("error", "");
            (void)_qmp->execute("job-dismiss", {{"id", id}});
            if (!error.empty())
                return fail(node_error::kind::command, what + " failed: " + error);
            return {};
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            (void)_qmp->execute("job-cancel", {{"id", id}});
            return fail(node_error::kind::timeout, what + " still " + status + " after " +
                                                       std::to_string(job_timeout.count()) + " ms: cancelled");
        }
        std::this_thread::sleep_for(ms(5));
    }
}

void qemu_backend::close_state_file()
{
    (void)_qmp->execute("blockdev-del", {{"node-name", state_node}});
    (void)_qmp->execute("blockdev-del", {{"node-name", state_file_node}});
}

result<save_report> qemu_backend::save(const std::string &path)
{
    if (_state != guest_state::frozen || !_qmp)
        return fail(node_error::kind::state, "cannot save " + _config.name + ": it is " + to_string(_state) +
                                                 " (freeze it first)");
    save_report r{.path = path, .started_ns = realtime_ns()};
    const std::string part = path + ".part";
    const std::string what = "saving to " + part;
    // A new qcow2 of no disk size: snapshot-save writes the VM state (the migration stream, RAM
    // included) into its one internal snapshot. The guest stays paused and its disks active.
    // Creates a node of `driver` (its image first, of size 0) and opens it as `node`.
    auto create_and_add = [&](const char *driver, const char *key, const std::string &on, const char *node) -> result<void> {
        if (auto c = run_job("blockdev-create", {{"options", {{"driver", driver}, {key, on}, {"size", 0}}}}, what); !c)
            return c;
        if (auto a = _qmp->execute("blockdev-add", {{"driver", driver}, {"node-name", node}, {key, on}}); !a)
            return std::unexpected(a.error());
        return {};
    };
    auto done = [&]() -> result<void> {
        if (auto f = create_and_add("file", "filename", part, state_file_node); !f)
            return f;
        if (auto q = create_and_add("qcow2", "file", state_file_node, state_node); !q)
            return q;
        if (auto j = run_job("snapshot-save", {{"tag", state_tag}, {"vmstate", state_node}, {"devices", {state_node}}},
                             what);
            !j)
            return j;
        // What waits in the taps: kept beside the state, and put back at once for a resume in place.
        for (size_t i = 0; i < _config.nics.size(); ++i) {
            const std::string &tap = _config.nics[i].tap;
            auto queue = take_tap_queue(_process->pid(), tap);
            if (!queue)
                return fail(queue.error().what, "cannot take the frames waiting in " + queue.error().message);
            if (queue->qemu_holds_one || !_guard_error.empty())
                r.warnings.push_back("a frame that reached " + tap + " after the stop is held by QEMU itself, "
                                     "outside the saved state: a swap-out loses it (" +
                                     (_guard_error.empty() ? "it came before the guard frame"
                                                           : "no guard frame: " + _guard_error) + ")");
            const frame_list &frames = queue->frames;
            if (auto w = write_frames(frames_path(path, i), frames); !w)
                return w;
            r.files.push_back(frames_path(path, i));
            r.tap_frames += int64_t(frames.size());
            if (auto p = put_tap_queue(_process->pid(), tap, frames); !p)
                return fail(p.error().what, "cannot put back the frames taken from " + p.error().message);
        }
        return {};
    }();
    if (_qmp)
        close_state_file();  // QEMU flushes and closes it
    int fd = -1;
    if (done && (fd = open(part.c_str(), O_RDONLY | O_CLOEXEC)) < 0)
        done = std::unexpected(node_error{node_error::kind::io, "cannot open " + part + ": " + std::strerror(errno)});
    if (done && fsync(fd) != 0)
        done = std::unexpected(node_error{node_error::kind::io, "fsync " + part + ": " + std::strerror(errno)});
    if (fd >= 0)
        close(fd);
    if (!done) {
        // QEMU reports a full file system under its state file as an I/O error of the VM state: say so.
        if (struct statvfs v {}; done.error().what == node_error::kind::command && statvfs(part.c_str(), &v) == 0 &&
                                 int64_t(v.f_bavail) * int64_t(v.f_frsize) < full_below_bytes)
            done.error().message += "; " + fs::path(part).parent_path().string() + " has " +
                                    std::to_string(int64_t(v.f_bavail) * int64_t(v.f_frsize) >> 10) +
                                    " KiB free: No space left on device";
        unlink(part.c_str());
        for (const auto &f : r.files)
            unlink(f.c_str());
        if (done.error().what == node_error::kind::closed || done.error().what == node_error::kind::timeout)
            return std::unexpected(qemu_failure("save the guest's state to " + part, done.error()));
        return std::unexpected(done.error());
    }
    const std::string meta = nlohmann::json{{"name", _config.name},
                                            {"frozen_at_ns", _frozen_at_ns},
                                            {"time_mode", to_string(_config.mode)},
                                            {"memory_mb", _config.memory_mb}}.dump() + "\n";
    if (auto m = write_small_file(meta_path(path), meta); !m) {
        unlink(part.c_str());
        for (const auto &f : r.files)
            unlink(f.c_str());
        return std::unexpected(m.error());
    }
    std::error_code ec;
    fs::rename(part, path, ec);
    if (ec) {
        unlink(part.c_str());
        unlink(meta_path(path).c_str());
        for (const auto &f : r.files)
            unlink(f.c_str());
        return fail(node_error::kind::io, "rename " + part + " to " + path + ": " + ec.message());
    }
    if (const int dir = open(fs::path(path).parent_path().empty() ? "." : fs::path(path).parent_path().c_str(),
                             O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        dir >= 0) {
        fsync(dir);
        close(dir);
    }
    r.size_bytes = int64_t(fs::file_size(path, ec));
    r.finished_ns = realtime_ns();
    return r;
}

result<restore_report> qemu_backend::restore(const std::string &path)
{
    if (_process && _process->running())
        return fail(node_error::kind::state, "cannot restore " + _config.name + " into a running QEMU (pid " +
                                                 std::to_string(_process->pid()) + "): release it first");
    {
        std::ifstream in(path, std::ios::binary);
        if (!in)
            return fail(node_error::kind::io, "cannot open saved state " + path + ": " + std::strerror(errno));
        char magic[4] = {};
        in.read(magic, sizeof magic);
        if (in.gcount() != sizeof magic || !std::equal(magic, magic + 4, qcow2_magic))
            return fail(node_error::kind::command, "saved state " + path + " is not a qcow2 image (the form a "
                                                   "QEMU guest's state is saved in): damaged, or not a state file");
    }
    restore_report r{.path = path, .started_ns = realtime_ns()};
    // snapshot-load writes the image it loads from (it reverts it to the snapshot), and a checkpoint's
    // file stays as saved (its CRC is in the manifest): QEMU loads from a copy in its run directory.
    const std::string copy = _config.run_dir + "/restore.state";
    auto done = [&]() -> result<void> {
        std::error_code ec;
        fs::create_directories(_config.run_dir, ec);
        if (!clone_file(path, copy))
            fs::copy_file(path, copy, fs::copy_options::overwrite_existing, ec);
        if (ec)
            return fail(node_error::kind::io, "cannot copy saved state " + path + " to " + copy + ": " + ec.message());
        if (auto l = launch(true); !l)
            return l;
        r.launched_ns = realtime_ns();
        if (auto a = _qmp->execute("blockdev-add", {{"driver", "qcow2"},
                                                    {"node-name", state_node},
                                                    {"file", {{"driver", "file"}, {"filename", copy}}}});
            !a)
            return fail(a.error().what, "restoring from " + path + ": " + a.error().message);
        auto loaded = run_job("snapshot-load", {{"tag", state_tag}, {"vmstate", state_node}, {"devices", {state_node}}},
                              "restoring from " + path);
        (void)_qmp->execute("blockdev-del", {{"node-name", state_node}});
        if (!loaded)
            return loaded;
        // The frames that waited in the taps at the save wait in the new QEMU's, which reads them once it
        // runs (a QEMU started with -S does not read its taps).
        for (size_t i = 0; i < _config.nics.size(); ++i) {
            std::error_code missing;
            if (!fs::exists(frames_path(path, i), missing))
                continue;
            auto frames = read_frames(frames_path(path, i));
            if (!frames)
                return std::unexpected(frames.error());
            if (auto p = put_tap_queue(_process->pid(), _config.nics[i].tap, *frames); !p)
                return fail(p.error().what, "restoring from " + path + ": cannot put back the saved frames into " +
                                                p.error().message);
            r.tap_frames += int64_t(frames->size());
        }
        return {};
    }();
    std::error_code ec;
    fs::remove(copy, ec);
    if (!done) {
        release();
        return std::unexpected(done.error());
    }
    r.finished_ns = realtime_ns();
    std::ifstream meta(meta_path(path));
    const auto m = nlohmann::json::parse(meta, nullptr, false);
    r.frozen_at_ns = m.is_object() ? m.value("frozen_at_ns", int64_t(0)) : 0;
    _frozen_at_ns = r.frozen_at_ns;
    _state = guest_state::frozen;
    return r;
}

result<instant_report> qemu_backend::thaw_after_failed_stop(int64_t r_ns)
{
    instant_report r{.target_ns = r_ns};
    sleep_until_realtime(r_ns);
    r.issued_ns = realtime_ns();
    // QEMU carries out commands in order: if it wakes up later, it stops and then goes on.
    if (auto done = _qmp->execute("cont", nullptr, _config.stop_timeout); !done) {
        node_error e = qemu_failure("go on at R within " + ms_text(_config.stop_timeout) + " after its failed stop",
                                    done.error());
        if (e.what == node_error::kind::timeout)
            e.message += "; its stop and cont wait in QEMU in that order, so the guest runs again when QEMU answers";
        return std::unexpected(e);
    }
    r.returned_ns = realtime_ns();
    // A carried-out stop makes cont emit RESUME before its answer; a stop never carried out, none.
    auto resumed = _qmp->wait_event("RESUME", ms(0), r.issued_ns);
    r.landed_ns = resumed ? resumed->timestamp_ns : r.returned_ns;
    auto status = _qmp->execute("query-status", nullptr, _config.stop_timeout);
    if (!status)
        return std::unexpected(qemu_failure("say whether it runs after cont", status.error()));
    if (!status->value("running", false))
        return fail(node_error::kind::state, "QEMU of " + _config.name + " answered cont but its guest is " +
                                                 status->value("status", "?"));
    _stop_unconfirmed = false;
    return r;
}

result<instant_report> qemu_backend::resume_at(int64_t r_ns)
{
    if (const std::string gone = lost(); !gone.empty())
        return fail(node_error::kind::closed, gone + ": nothing to resume");
    if (_state == guest_state::running && _stop_unconfirmed && _qmp)
        return thaw_after_failed_stop(r_ns);
    if (_state != guest_state::frozen || !_qmp)
        return fail(node_error::kind::state, "cannot resume " + _config.name + ": it is " + to_string(_state));
    instant_report r{.target_ns = r_ns};
    sleep_until_realtime(r_ns);
    r.issued_ns = realtime_ns();
    const auto deadline = std::chrono::steady_clock::now() + _config.stop_timeout;
    if (auto done = _qmp->execute("cont", nullptr, _config.stop_timeout); !done)
        return std::unexpected(qemu_failure("go on at R within " + ms_text(_config.stop_timeout), done.error()));
    r.returned_ns = realtime_ns();
    auto resumed = _qmp->wait_event("RESUME", left_until(deadline), r.issued_ns);
    if (!resumed)
        return std::unexpected(qemu_failure("go on at R within " + ms_text(_config.stop_timeout) +
                                                " (QMP cont answered, no RESUME event)",
                                            resumed.error()));
    r.landed_ns = resumed->timestamp_ns;
    _state = guest_state::running;
    _catch_up = {};
    if (_config.mode == time_mode::catch_up)
        if (auto c = apply_catch_up(r.landed_ns); !c)
            return std::unexpected(c.error());
    return r;
}

result<void> qemu_backend::apply_catch_up(int64_t resumed_ns)
{
    if (_frozen_at_ns == 0)
        return fail(node_error::kind::state, "catch-up for " + _config.name + ": the freeze instant is unknown");
    auto a = agent(ms(10'000));
    if (!a)
        return std::unexpected(a.error());
    const int64_t step = resumed_ns - _frozen_at_ns;
    if (auto s = (*a)->step_clock(step); !s)
        return std::unexpected(s.error());
    _catch_up.step_ns = step;
    return {};
}

result<guest_agent *> qemu_backend::agent(std::chrono::milliseconds timeout)
{
    if (!_qmp)
        return fail(node_error::kind::state, "no QEMU for " + _config.name + ": no guest agent");
    if (!_agent) {
        auto a = guest_agent::connect(_config.agent_socket(), timeout);
        if (!a)
            return std::unexpected(a.error());
        _agent.emplace(std::move(*a));
    }
    return &*_agent;
}

result<void> qemu_backend::release()
{
    _agent.reset();
    if (_process && _process->running()) {
        // A QEMU that does not answer quit (hung, or stopped by a signal) is killed at once.
        const bool asked = _qmp && _qmp->execute("quit", nullptr, ms(2000));
        if (!asked || !_process->wait_exit(ms(5000)))
            _process->kill_and_wait();
    }
    _qmp.reset();
    _process.reset();
    if (_state != guest_state::absent)
        _state = guest_state::released;
    return {};
}

guest_status qemu_backend::status()
{
    guest_status s{.state = _state, .pid = 0, .detail = {}};
    if (!_process || !_process->running()) {
        if (_process) {  // it ended without release(): the guest is gone
            s.detail = "QEMU " + _process->exit_description();
            _state = s.state = guest_state::absent;
        }
        return s;
    }
    s.pid = _process->pid();
    if (_qmp)
        if (auto q = _qmp->execute("query-status", nullptr, ms(1000)))
            s.detail = q->value("status", "");
    return s;
}

}  // namespace stasis::node
