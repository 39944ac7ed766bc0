// The Xen backend: pause/unpause at absolute instants, save as a libxl suspend stream into a file (the
// domain config beside it, as xl keeps it in its save header), restore as a new paused domain, and the
// wall-clock offset that hides the pause from a guest whose resume path re-reads Xen's clock.
#include "xen_backend.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "../qemu/instant.hpp"

namespace stasis::node {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string meta_path(const std::string &path) { return path + ".json"; }

json tsc_json(const xen_tsc_info &t)
{
    return {{"mode", t.mode}, {"elapsed_ns", t.elapsed_ns}, {"khz", t.khz}, {"incarnation", t.incarnation}};
}

xen_tsc_info tsc_from(const json &j)
{
    if (!j.is_object())
        return {};
    return {.mode = j.value("mode", 0u), .elapsed_ns = j.value("elapsed_ns", uint64_t(0)),
            .khz = j.value("khz", 0u), .incarnation = j.value("incarnation", 0u)};
}

void fsync_dir_of(const std::string &path)
{
    const auto dir = fs::path(path).parent_path();
    const int fd = open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

}  // namespace

const char *to_string(xen_tsc_mode mode)
{
    switch (mode) {
    case xen_tsc_mode::always_emulate: return "always_emulate";
    case xen_tsc_mode::native: return "native";
    case xen_tsc_mode::xen_default: return "default";
    }
    return "?";
}

const char *xl_rc_name(int rc)
{
    switch (rc) {
    case xl_rc::ok: return "OK";
    case xl_rc::fail: return "ERROR_FAIL";
    case xl_rc::inval: return "ERROR_INVAL";
    case xl_rc::guest_timedout: return "ERROR_GUEST_TIMEDOUT";
    case xl_rc::domain_notfound: return "ERROR_DOMAIN_NOTFOUND";
    }
    return "ERROR_OTHER";
}

xen_backend::xen_backend(xen_config config, std::unique_ptr<xen_api> api)
    : _config(std::move(config)), _api(std::move(api)), _offset_s(_config.time_offset_s)
{
}

xen_backend::~xen_backend() { release(); }

node_error xen_backend::failed(const char *what, int rc) const
{
    const auto why = _api->last_error();
    const auto kind = rc == xl_rc::guest_timedout ? node_error::kind::timeout
                      : rc == xl_rc::inval        ? node_error::kind::state
                                                  : node_error::kind::command;
    return {kind, std::string(what) + " " + _config.name + " (domid " + std::to_string(_domid) + "): " +
                      xl_rc_name(rc) + " (" + std::to_string(rc) + ")" + (why.empty() ? "" : ": " + why)};
}

result<std::string> xen_backend::domain_config_for_start() const
{
    auto j = json::parse(_config.domain_config_json, nullptr, false);
    if (!j.is_object())
        return fail(node_error::kind::protocol, "domain config of " + _config.name + " is not a JSON object");
    j["c_info"]["name"] = _config.name;
    j["b_info"]["tsc_mode"] = to_string(_config.tsc);
    return j.dump();
}

result<void> xen_backend::start()
{
    if (_have_domain)
        return fail(node_error::kind::state, _config.name + " already has domain " + std::to_string(_domid));
    auto config = domain_config_for_start();
    if (!config)
        return std::unexpected(config.error());
    if (int rc = _api->create(*config, _domid); rc != 0)
        return std::unexpected(failed("create", rc));
    _have_domain = true;
    _time = {};
    if (int rc = _api->get_tsc_info(_domid, _time.tsc_now); rc != 0)
        return std::unexpected(failed("get TSC info of", rc));
    if (int rc = _api->set_time_offset(_domid, _offset_s); rc != 0)
        return std::unexpected(failed("set time offset of", rc));
    if (int rc = _api->unpause(_domid); rc != 0)  // libxl leaves a new domain paused
        return std::unexpected(failed("unpause new", rc));
    _state = guest_state::running;
    return {};
}

// libxl_domain_pause is synchronous: Xen returns once every vCPU is off its CPU, so the return is when
// the guest stopped (there is no event with a timestamp, unlike QEMU's STOP).
result<instant_report> xen_backend::freeze_at(int64_t f_ns)
{
    if (_state != guest_state::running)
        return fail(node_error::kind::state, "cannot freeze " + _config.name + ": it is " + to_string(_state));
    instant_report r{.target_ns = f_ns};
    sleep_until_realtime(f_ns);
    r.issued_ns = realtime_ns();
    const int rc = _api->pause(_domid);
    r.returned_ns = r.landed_ns = realtime_ns();
    if (rc != 0)
        return std::unexpected(failed("pause", rc));
    xen_dominfo d;
    if (int i = _api->info(_domid, d); i != 0)
        return std::unexpected(failed("domain info of", i));
    if (!d.paused)
        return fail(node_error::kind::protocol, "pause " + _config.name + " (domid " + std::to_string(_domid) +
                                                    ") returned 0 but the domain is not paused");
    _frozen_at_ns = r.landed_ns;
    _state = guest_state::frozen;
    _time.ran_after_freeze_ns = 0;
    return r;
}

// After a failed libxl_domain_suspend: the domain paused again and, if the guest did suspend, resumed in
// place (as `xl save` does on failure), so that nothing of it is lost.
result<void> xen_backend::undo_failed_suspend(bool unpaused_for_guest)
{
    if (unpaused_for_guest)
        if (int rc = _api->pause(_domid); rc != 0)
            return std::unexpected(failed("re-pause after a failed save of", rc));
    xen_dominfo d;
    if (int rc = _api->info(_domid, d); rc != 0)
        return std::unexpected(failed("domain info after a failed save of", rc));
    if (d.shutdown && d.shutdown_reason == xen_shutdown_suspend)
        if (int rc = _api->resume(_domid, true); rc != 0)
            return std::unexpected(failed("resume after a failed save of", rc));
    return {};
}

result<save_report> xen_backend::save(const std::string &path)
{
    if (_state != guest_state::frozen || !_have_domain || _suspended)
        return fail(node_error::kind::state, "cannot save " + _config.name + ": it is " + to_string(_state) +
                                                 (_suspended ? " and already saved" : " (freeze it first)"));
    save_report r{.path = path, .started_ns = realtime_ns()};
    std::string config_json;
    if (int rc = _api->retrieve_config(_domid, config_json); rc != 0)
        return std::unexpected(failed("retrieve the configuration of", rc));
    bool needs_guest = false;
    if (int rc = _api->suspend_needs_guest(_domid, needs_guest); rc != 0)
        return std::unexpected(failed("domain type of", rc));
    const std::string part = path + ".part";
    const int fd = open(part.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return fail(node_error::kind::io, "cannot create " + part + ": " + std::strerror(errno));
    // A PV-aware guest must run to acknowledge the suspend: it runs from here until its suspend hypercall.
    const int64_t unpaused_ns = realtime_ns();
    int rc = needs_guest ? _api->unpause(_domid) : 0;
    if (rc == 0)
        rc = _api->suspend(_domid, fd);
    if (needs_guest)
        _time.ran_after_freeze_ns = realtime_ns() - unpaused_ns;
    std::string io_error;
    if (rc == 0 && fsync(fd) != 0)
        io_error = "fsync " + part + ": " + std::strerror(errno);
    close(fd);
    if (rc != 0 || !io_error.empty()) {
        const node_error e = rc != 0 ? failed("save", rc) : node_error{node_error::kind::io, io_error};
        unlink(part.c_str());
        if (auto u = undo_failed_suspend(needs_guest); !u)
            return fail(e.what, e.message + "; then " + u.error().message);
        return std::unexpected(e);
    }
    _suspended = true;
    if (needs_guest)  // keep Xen's pause count at one, so a resume in place stays paused until R
        if (int p = _api->pause(_domid); p != 0)
            return std::unexpected(failed("re-pause suspended", p));
    if (int t = _api->get_tsc_info(_domid, _time.tsc_saved); t != 0)
        return std::unexpected(failed("get TSC info of", t));
    std::ofstream(meta_path(path)) << json{{"name", _config.name},
                                           {"frozen_at_ns", _frozen_at_ns},
                                           {"time_mode", to_string(_config.mode)},
                                           {"time_offset_s", _offset_s},
                                           {"ran_after_freeze_ns", _time.ran_after_freeze_ns},
                                           {"tsc", tsc_json(_time.tsc_saved)},
                                           {"domain_config", config_json}}.dump()
                                   << "\n";
    std::error_code ec;
    fs::rename(part, path, ec);
    if (ec)
        return fail(node_error::kind::io, "rename " + part + " to " + path + ": " + ec.message());
    fsync_dir_of(path);
    r.size_bytes = int64_t(fs::file_size(path, ec));
    r.finished_ns = realtime_ns();
    return r;
}

result<restore_report> xen_backend::restore(const std::string &path)
{
    if (_have_domain)
        return fail(node_error::kind::state, "cannot restore " + _config.name + " over domain " +
                                                 std::to_string(_domid) + ": release it first");
    std::ifstream meta_in(meta_path(path));
    const auto meta = json::parse(meta_in, nullptr, false);
    if (!meta.is_object() || !meta.contains("domain_config"))
        return fail(node_error::kind::io, "no domain config in " + meta_path(path));
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(node_error::kind::io, "cannot open saved state " + path + ": " + std::strerror(errno));
    restore_report r{.path = path, .started_ns = realtime_ns()};
    r.launched_ns = r.started_ns;  // no process to start: libxl builds the domain in this call
    uint32_t domid = 0;
    const int rc = _api->restore(meta["domain_config"].get<std::string>(), fd, domid);
    close(fd);
    if (rc != 0)
        return std::unexpected(failed(("restore from " + path + ":").c_str(), rc));
    _domid = domid;
    _have_domain = true;
    _suspended = false;
    _restored = true;
    _time.tsc_saved = tsc_from(meta.value("tsc", json()));
    _time.ran_after_freeze_ns = meta.value("ran_after_freeze_ns", int64_t(0));
    if (int t = _api->get_tsc_info(_domid, _time.tsc_now); t != 0)
        return std::unexpected(failed("get TSC info of", t));
    _offset_s = meta.value("time_offset_s", _offset_s);
    r.finished_ns = realtime_ns();
    r.frozen_at_ns = _frozen_at_ns = meta.value("frozen_at_ns", int64_t(0));
    _state = guest_state::frozen;
    return r;
}

result<instant_report> xen_backend::resume_at(int64_t r_ns)
{
    if (_state != guest_state::frozen || !_have_domain)
        return fail(node_error::kind::state, "cannot resume " + _config.name + ": it is " + to_string(_state));
    if (_suspended) {  // saved in place: cancel the suspend; Xen's pause count keeps it stopped until R
        if (int rc = _api->resume(_domid, true); rc != 0)
            return std::unexpected(failed("resume suspended", rc));
        _suspended = false;
        _restored = true;
    }
    // Frozen: a guest whose resume path re-reads Xen's wall clock (after a suspend) finds it moved back by
    // the pause, in whole seconds (the hypercall's unit). Catch-up: Xen's clock is the host's already.
    _time.rebooted_clock = _restored;
    _time.offset_before_s = _offset_s;
    if (_config.mode == time_mode::frozen && _restored && _frozen_at_ns != 0) {
        const int64_t pause_s = std::llround(double(r_ns - _frozen_at_ns) / 1e9);
        const int32_t offset = int32_t(_offset_s - pause_s);
        if (int rc = _api->set_time_offset(_domid, offset); rc != 0)
            return std::unexpected(failed("set time offset of", rc));
        _offset_s = offset;
    }
    _time.offset_after_s = _offset_s;
    instant_report r{.target_ns = r_ns};
    sleep_until_realtime(r_ns);
    r.issued_ns = realtime_ns();
    const int rc = _api->unpause(_domid);
    r.returned_ns = r.landed_ns = realtime_ns();
    if (rc != 0)
        return std::unexpected(failed("unpause", rc));
    _state = guest_state::running;
    _restored = false;
    _time.pause_ns = _frozen_at_ns ? r.landed_ns - _frozen_at_ns : 0;
    _catch_up = {};
    if (_config.mode == time_mode::catch_up)
        _catch_up.step_ns = _time.pause_ns;  // Xen's clocks ran on: the guest's wall clock follows by itself
    return r;
}

result<void> xen_backend::release()
{
    if (_have_domain) {
        const int rc = _api->destroy(_domid);
        if (rc != 0 && rc != xl_rc::domain_notfound)
            return std::unexpected(failed("destroy", rc));
        _have_domain = false;
        _suspended = false;
    }
    if (_state != guest_state::absent)
        _state = guest_state::released;
    return {};
}

guest_status xen_backend::status()
{
    guest_status s{.state = _state, .pid = 0, .detail = {}};
    if (!_have_domain)
        return s;
    xen_dominfo d;
    if (int rc = _api->info(_domid, d); rc != 0) {
        s.detail = std::string("domain ") + std::to_string(_domid) + " " + xl_rc_name(rc);
        if (rc == xl_rc::domain_notfound) {
            _have_domain = false;
            _state = s.state = guest_state::absent;
        }
        return s;
    }
    s.pid = int(_domid);  // no process of its own: the domain id stands for it
    s.detail = d.dying                                                      ? "dying"
               : d.shutdown && d.shutdown_reason == xen_shutdown_suspend ? (d.paused ? "suspended,paused" : "suspended")
               : d.shutdown                                                 ? "shutdown"
               : d.paused                                                   ? "paused"
               : d.blocked                                                  ? "blocked"
                                                                            : "running";
    return s;
}

}  // namespace stasis::node
