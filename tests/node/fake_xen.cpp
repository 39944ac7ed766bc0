// The fake Xen's calls, each with libxl 4.17's return code and log line for the state it finds.
#include "fake_xen.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include <nlohmann/json.hpp>

namespace stasis::node::testing {

namespace {

using json = nlohmann::json;

constexpr char stream_ident[] = "LibxlFmt";  // libxl's v2 stream ident, 0x4c6962786c466d74

int64_t now_ns()
{
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

uint64_t fnv1a(const std::string &s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : s)
        h = (h ^ c) * 0x100000001b3ull;
    return h;
}

uint32_t tsc_mode_number(const std::string &s)
{
    return s == "always_emulate" ? 1 : s == "native" ? 2 : 0;
}

}  // namespace

fake_domain *fake_hypervisor::find(uint32_t domid)
{
    auto it = domains.find(domid);
    return it == domains.end() ? nullptr : &it->second;
}

fake_domain *fake_hypervisor::find(const std::string &name)
{
    for (auto &[id, d] : domains)
        if (d.name == name && !d.dying)
            return &d;
    return nullptr;
}

void fake_hypervisor::settle(fake_domain &d, int64_t now)
{
    if (d.running_since_ns)
        d.ran_ns += now - d.running_since_ns;
    d.running_since_ns = d.runnable() ? now : 0;
}

int fake_xen::error(int rc, std::string message)
{
    _last_error = std::move(message);
    return rc;
}

bool fake_xen::needs_guest(const fake_domain &d) const
{
    return d.type != "hvm" || _host->hvm_pv_drivers;
}

// Xen's tsc_get_info: emulated, the guest's time since creation at the guest rate; native, nothing.
void fake_xen::tsc_refresh(fake_domain &d, int64_t now) const
{
    if (d.tsc.mode == 2) {
        d.tsc.elapsed_ns = 0;
        d.tsc.khz = 0;
    } else {
        d.tsc.elapsed_ns = uint64_t(now - d.tsc_origin_ns);
    }
}

int fake_xen::build(const std::string &config_json, fake_domain &d)
{
    const auto j = json::parse(config_json, nullptr, false);
    if (!j.is_object() || !j.contains("c_info") || !j["c_info"].contains("name"))
        return error(xl_rc::inval, "libxl: error: libxl_domain_config_from_json: no c_info.name");
    d.name = j["c_info"]["name"].get<std::string>();
    d.type = j["c_info"].value("type", "pvh");
    if (_host->find(d.name))
        return error(xl_rc::inval, "libxl: error: domain with name \"" + d.name + "\" already exists.");
    const auto b = j.value("b_info", json::object());
    d.tsc.mode = tsc_mode_number(b.value("tsc_mode", "default"));
    d.tsc.khz = _host->host_tsc_khz;
    d.time_offset_s = int32_t(b.value("rtc_timeoffset", 0u));  // libxl__build_pre sets it from the config
    d.config_json = j.dump();
    d.domid = _host->next_domid++;
    return 0;
}

int fake_xen::create(const std::string &config_json, uint32_t &domid)
{
    std::lock_guard g(_host->lock);
    _host->calls.push_back("create");
    fake_domain d;
    if (int rc = build(config_json, d); rc != 0)
        return rc;
    d.tsc_origin_ns = now_ns();
    d.tsc.incarnation = 1;  // tsc_set_info: incarnation + 1 of the 0 it is created with
    domid = d.domid;
    _host->domains[domid] = d;
    return 0;
}

int fake_xen::retrieve_config(uint32_t domid, std::string &config_json)
{
    std::lock_guard g(_host->lock);
    auto *d = _host->find(domid);
    if (!d || d->dying)
        return error(xl_rc::fail, "libxl: error: Domain " + std::to_string(domid) + ":Non-existant domain");
    config_json = d->config_json;
    return 0;
}

int fake_xen::info(uint32_t domid, xen_dominfo &out)
{
    std::lock_guard g(_host->lock);
    auto *d = _host->find(domid);
    if (!d)
        return error(xl_rc::domain_notfound, "libxl: error: Domain " + std::to_string(domid) + ":Non-existant domain");
    _host->settle(*d, now_ns());
    out = {.domid = domid, .running = d->runnable(), .blocked = false, .paused = d->pause_count > 0,
           .shutdown = d->shutdown, .dying = d->dying, .shutdown_reason = d->shutdown_reason,
           .cpu_time_ns = uint64_t(d->ran_ns)};
    return 0;
}

int fake_xen::find_by_name(const std::string &name, uint32_t &domid)
{
    std::lock_guard g(_host->lock);
    auto *d = _host->find(name);
    if (!d)
        return error(xl_rc::inval, "");  // libxl_name_to_domid: ERROR_INVAL, nothing logged
    domid = d->domid;
    return 0;
}

// Xen's domain_pause_by_systemcontroller: a count, at most 255 (EOVERFLOW); libxl: ERROR_FAIL, errno logged.
int fake_xen::pause(uint32_t domid)
{
    std::lock_guard g(_host->lock);
    _host->calls.push_back("pause " + std::to_string(domid));
    auto *d = _host->find(domid);
    const std::string where = "libxl: error: Domain " + std::to_string(domid) + ":Pausing domain: ";
    if (!d)
        return error(xl_rc::fail, where + std::strerror(ESRCH));
    if (_host->pause_errno)
        return error(xl_rc::fail, where + std::strerror(_host->pause_errno));
    if (_host->pause_ignored)
        return 0;
    if (d->pause_count == 255)
        return error(xl_rc::fail, where + std::strerror(EOVERFLOW));
    _host->settle(*d, now_ns());
    ++d->pause_count;
    _host->settle(*d, now_ns());
    return 0;
}

int fake_xen::unpause(uint32_t domid)
{
    std::lock_guard g(_host->lock);
    _host->calls.push_back("unpause " + std::to_string(domid));
    auto *d = _host->find(domid);
    const std::string where = "libxl: error: Domain " + std::to_string(domid) + ":Unpausing domain: ";
    if (!d)
        return error(xl_rc::fail, where + std::strerror(ESRCH));
    if (d->pause_count == 0)
        return error(xl_rc::fail, where + std::strerror(EINVAL));
    _host->settle(*d, now_ns());
    --d->pause_count;
    _host->settle(*d, now_ns());
    return 0;
}

int fake_xen::suspend_needs_guest(uint32_t domid, bool &needs)
{
    std::lock_guard g(_host->lock);
    auto *d = _host->find(domid);
    if (!d)
        return error(xl_rc::domain_notfound, "libxl: error: Domain " + std::to_string(domid) + ":Non-existant domain");
    needs = needs_guest(*d);
    return 0;
}

// libxl_domain_suspend: the guest suspends (cooperatively: only if it runs and answers; else libxl gives
// up after 60 s), then the stream goes to fd. A failed write leaves the domain suspended, as in libxl.
int fake_xen::suspend(uint32_t domid, int fd)
{
    std::lock_guard g(_host->lock);
    _host->calls.push_back("suspend " + std::to_string(domid));
    auto *d = _host->find(domid);
    const std::string where = "libxl: error: Domain " + std::to_string(domid) + ":";
    if (!d || d->dying)
        return error(xl_rc::fail, where + "Non-existant domain");
    if (d->shutdown)
        return error(xl_rc::fail, where + "Domain has already been shut down");
    const int64_t now = now_ns();
    if (needs_guest(*d) && (d->pause_count > 0 || !_host->guest_acks_suspend))
        return error(xl_rc::guest_timedout, where + "guest did not suspend, timed out");
    _host->settle(*d, now);
    d->shutdown = true;
    d->shutdown_reason = xen_shutdown_suspend;
    _host->settle(*d, now);
    tsc_refresh(*d, now);
    const std::string body = json{{"type", d->type},
                                  {"ran_ns", d->ran_ns},
                                  {"tsc", {{"mode", d->tsc.mode}, {"elapsed_ns", d->tsc.elapsed_ns},
                                           {"khz", d->tsc.khz}, {"incarnation", d->tsc.incarnation}}}}
                                 .dump();
    const std::string stream = std::string(stream_ident) + body + "\n" + std::to_string(fnv1a(body)) + "\n";
    for (size_t off = 0; off < stream.size();) {
        const ssize_t n = ::write(fd, stream.data() + off, stream.size() - off);
        if (n < 0)
            return error(xl_rc::fail, where + "xc: error: Failed to write to stream: " + std::strerror(errno));
        off += size_t(n);
    }
    return 0;
}

int fake_xen::resume(uint32_t domid, bool)
{
    std::lock_guard g(_host->lock);
    _host->calls.push_back("resume " + std::to_string(domid));
    auto *d = _host->find(domid);
    const std::string where = "libxl: error: Domain " + std::to_string(domid) + ":";
    if (!d || d->dying)
        return error(xl_rc::fail, where + "xc_domain_resume failed: " + std::strerror(ESRCH));
    if (!d->shutdown || d->shutdown_reason != xen_shutdown_suspend)
        return error(xl_rc::fail, where + "xc_domain_resume failed: domain not suspended");
    const int64_t now = now_ns();
    _host->settle(*d, now);
    d->shutdown = false;
    d->shutdown_reason = -1;
    _host->settle(*d, now);
    return 0;
}

int fake_xen::restore(const std::string &config_json, int fd, uint32_t &domid)
{
    std::lock_guard g(_host->lock);
    _host->calls.push_back("restore");
    std::string stream;
    char buf[4096];
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) != 0;) {
        if (n < 0)
            return error(xl_rc::fail, std::string("libxl: error: reading stream: ") + std::strerror(errno));
        stream.append(buf, size_t(n));
    }
    const size_t ident = sizeof stream_ident - 1;
    if (stream.compare(0, ident, stream_ident) != 0)
        return error(xl_rc::fail, "libxl: error: Invalid ident: expected 0x4c6962786c466d74");
    const size_t nl = stream.find('\n', ident);
    const std::string body = nl == std::string::npos ? "" : stream.substr(ident, nl - ident);
    const auto j = json::parse(body, nullptr, false);
    if (nl == std::string::npos || stream.substr(nl + 1) != std::to_string(fnv1a(body)) + "\n" || !j.is_object())
        return error(xl_rc::fail, "libxl: error: xc: error: Failed to read Record: truncated or corrupt stream");
    fake_domain d;
    if (int rc = build(config_json, d); rc != 0)
        return rc;
    d.ran_ns = j.value("ran_ns", int64_t(0));
    const auto &t = j["tsc"];
    d.tsc = {.mode = t.value("mode", 0u), .elapsed_ns = t.value("elapsed_ns", uint64_t(0)),
             .khz = t.value("khz", 0u), .incarnation = t.value("incarnation", 0u) + 1};
    d.tsc_origin_ns = now_ns() - int64_t(d.tsc.elapsed_ns);  // tsc_set_info: vtsc_offset = now - elapsed
    domid = d.domid;
    _host->domains[domid] = d;
    return 0;
}

int fake_xen::destroy(uint32_t domid)
{
    std::lock_guard g(_host->lock);
    _host->calls.push_back("destroy " + std::to_string(domid));
    if (!_host->find(domid))
        return error(xl_rc::domain_notfound, "libxl: error: Domain " + std::to_string(domid) + ":Non-existant domain");
    _host->domains.erase(domid);  // dying, then gone once its pages are freed: at once here
    return 0;
}

int fake_xen::get_tsc_info(uint32_t domid, xen_tsc_info &out)
{
    std::lock_guard g(_host->lock);
    auto *d = _host->find(domid);
    if (!d)
        return error(xl_rc::fail, std::string("xc_domain_get_tsc_info: ") + std::strerror(ESRCH));
    tsc_refresh(*d, now_ns());
    out = d->tsc;
    return 0;
}

int fake_xen::set_time_offset(uint32_t domid, int32_t offset_s)
{
    std::lock_guard g(_host->lock);
    _host->calls.push_back("set_time_offset " + std::to_string(domid) + " " + std::to_string(offset_s));
    auto *d = _host->find(domid);
    if (!d)
        return error(xl_rc::fail, std::string("xc_domain_set_time_offset: ") + std::strerror(ESRCH));
    d->time_offset_s = offset_s;
    return 0;
}

}  // namespace stasis::node::testing
