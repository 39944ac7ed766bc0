// The node agent's dispatch, the initial run, the guest threads' freeze and resume, and the events.
#include "node_agent.hpp"
#include "stasis/control/agent_replies.hpp"

#include <algorithm>
#include <cstdio>

namespace stasis::noded {

namespace ctl = stasis::control;

namespace {

// A guest thread's cancellable sleep ends this early; the backend sleeps the rest precisely.
constexpr int64_t precise_sleep_ns = 2'000'000;

// "+5.21 ms"
std::string offset_text(int64_t ns)
{
    char s[32];
    snprintf(s, sizeof s, "%+.2f ms", double(ns) / 1e6);
    return s;
}

ctl::Reply failed(ctl::Status s, std::string msg)
{
    ctl::Reply r;
    r.set_status(s);
    r.set_message(std::move(msg));
    return r;
}

}  // namespace

const char *to_string(node_phase phase)
{
    switch (phase) {
    case node_phase::absent: return "absent";
    case node_phase::running: return "running";
    case node_phase::freezing: return "freezing";
    case node_phase::frozen: return "frozen";
    case node_phase::resuming: return "resuming";
    }
    return "?";
}

node_agent::node_agent(std::string name, std::vector<guest_def> guests, guest_host &host, node::disk_store *store)
    : _name(std::move(name)), _host(host), _store(store)
{
    for (auto &d : guests) {
        guest_slot g;
        g.def = std::move(d);
        _guests.push_back(std::move(g));
    }
}

node_agent::~node_agent() { shutdown(); }

void node_agent::shutdown()
{
    _threads.cancel();
    release_all();
}

void node_agent::release_all()
{
    for (auto &g : _guests) {
        if (g.backend)
            (void)g.backend->release();
        g.lost.clear();
    }
    _phase = node_phase::absent;
}

std::vector<std::string> node_agent::refresh_lost()
{
    std::vector<std::string> now_lost;
    for (auto &g : _guests) {
        std::string lost = g.backend ? g.backend->lost() : std::string();
        if (!lost.empty() && g.lost.empty())
            now_lost.push_back(g.def.name);
        g.lost = std::move(lost);
    }
    return now_lost;
}

std::string node_agent::lost_text() const
{
    std::string text;
    for (const auto &g : _guests)
        if (!g.lost.empty())
            text += (text.empty() ? "; lost: " : "; ") + g.def.name + ": " + g.lost;
    return text;
}

node::result<void> node_agent::start_guests()
{
    if (_phase != node_phase::absent)
        return node::fail(node::node_error::kind::state, std::string("the guests are ") + to_string(_phase));
    for (auto &g : _guests) {
        std::string disk;
        if (!g.def.disk_base.empty()) {
            if (!_store)
                return node::fail(node::node_error::kind::state, g.def.name + " has a disk but the node no store");
            auto live = _store->create(g.def.name, g.def.disk_base);
            if (!live)
                return std::unexpected(live.error());
            g.live = *live;
            disk = live->path;
        }
        g.backend = _host.make(g.def.name, disk);
        if (!g.backend)
            return node::fail(node::node_error::kind::state, "no backend for guest " + g.def.name);
        if (auto s = g.backend->start(); !s) {
            release_all();
            return s;
        }
    }
    _phase = node_phase::running;
    return {};
}

ctl::Reply node_agent::hello() const
{
    ctl::Reply r = ctl::hello_reply(
        "stasis-noded", {"freeze", "thaw", "save", "load", "clock.probe", "prepare", "abort", "release", "events", "guests"});
    auto *h = r.mutable_hello();
    if (_store)
        h->add_capabilities(std::string("disks.") + _store->kind());
    r.set_message(std::to_string(_guests.size()) + " guest(s), " + to_string(_phase) + lost_text());
    return r;
}

ctl::Reply node_agent::handle(const ctl::Request &req)
{
    switch (req.op_case()) {
    case ctl::Request::kHello:
        return hello();
    case ctl::Request::kClockProbe:
        return ctl::clock_probe_reply();
    case ctl::Request::kFreeze: {
        ctl::Prepare p;
        p.set_freeze_ns(req.freeze().at_ns());
        return prepare(p);
    }
    case ctl::Request::kPrepare:
        return prepare(req.prepare());
    case ctl::Request::kFreezeStatus:
        return freeze_status();
    case ctl::Request::kThaw:
        return thaw(req.thaw());
    case ctl::Request::kAbort:
        return abort(req.abort());
    case ctl::Request::kSave:
        return save(req.save());
    case ctl::Request::kLoad:
        return load(req.load());
    case ctl::Request::kRelease:
        return release(req.release());
    case ctl::Request::kLinkShow:
    case ctl::Request::kLinkSet:
    case ctl::Request::kLinkStats:
        return failed(ctl::BAD_REQUEST, "stasis-noded has guests, not links: ask the delay node");
    case ctl::Request::kSubscribe:  // answered by the agent server, which knows the peer
        return failed(ctl::BAD_REQUEST, "subscribe is handled by the server, not the node");
    case ctl::Request::OP_NOT_SET:
        break;
    }
    return failed(ctl::BAD_REQUEST, "the request names no operation this agent knows");
}

void node_agent::fill_freeze(ctl::FreezeReport &f)
{
    const bool frozen = _phase == node_phase::freezing || _phase == node_phase::frozen;
    f.set_frozen(frozen);
    f.set_freeze_ns(_freeze_ns);
    f.set_reached(frozen && ctl::realtime_ns() >= _freeze_ns);
    f.set_checkpoint(_checkpoint);
    f.set_saved(!_saved_dir.empty() || _loaded);
    f.set_resume_ns(_deferred_resume_ns ? _deferred_resume_ns : _resume_ns);
    for (const auto &g : _guests)
        if (!g.lost.empty()) {
            auto *l = f.add_lost();
            l->set_guest(g.def.name);
            l->set_why(g.lost);
        }
    std::lock_guard lock(_mu);
    for (size_t i = 0; i < _guests.size() && frozen; ++i) {
        auto *w = f.add_workers();
        w->set_lcore(uint32_t(i));
        w->set_noticed_ns(_guests[i].freeze.landed_ns);
    }
}

ctl::Reply node_agent::freeze_status()
{
    ctl::Reply r;
    fill_freeze(*r.mutable_freeze());
    std::string guests;
    {
        std::lock_guard lock(_mu);
        for (const auto &g : _guests)
            guests += (guests.empty() ? "" : ", ") + g.def.name +
                      (g.freeze.landed_ns ? " +" + std::to_string((g.freeze.landed_ns - _freeze_ns) / 1000) + " us"
                                          : g.error.empty() ? "" : " failed: " + g.error);
    }
    r.set_message(std::string(to_string(_phase)) + (guests.empty() ? "" : ": " + guests) + lost_text());
    return r;
}

void node_agent::start_freeze(int64_t f_ns)
{
    _freeze_ns = f_ns;
    _phase = node_phase::freezing;
    {
        std::lock_guard lock(_mu);
        for (auto &g : _guests) {
            g.freeze = {};
            g.error.clear();
        }
    }
    _threads.start(_guests.size(), [this, f_ns](size_t i, std::stop_token stop) {
        if (!_guests[i].lost.empty()) {
            // No QEMU since before Prepare: it cannot run after F. Counted frozen at F, so that a time travel
            // can replace the lost present; a Save refuses it.
            if (guest_threads::wait_until(stop, f_ns)) {
                std::lock_guard lock(_mu);
                _guests[i].freeze = {.target_ns = f_ns, .issued_ns = 0, .returned_ns = 0, .landed_ns = f_ns};
            }
            return;
        }
        if (!guest_threads::wait_until(stop, f_ns - precise_sleep_ns))
            return;  // a thaw before F cancelled it
        auto r = _guests[i].backend->freeze_at(f_ns);
        std::lock_guard lock(_mu);
        if (r)
            _guests[i].freeze = *r;
        else
            _guests[i].error = r.error().message;
    });
}

void node_agent::start_resume(int64_t r_ns)
{
    _resume_ns = r_ns;
    _deferred_resume_ns = 0;
    _phase = node_phase::resuming;
    refresh_lost();  // a guest whose QEMU died (during a save, say) has nothing to resume
    {
        std::lock_guard lock(_mu);
        for (auto &g : _guests) {
            g.resume = {};
            g.error.clear();
        }
    }
    // Every guest goes on as long after R as its stop landed after F (resume_plan.hpp), so its pause is
    // the network's R - F. The RESUMED event says, guest by guest, when it stopped and went on.
    _threads.start(_guests.size(), [this, r_ns](size_t i, std::stop_token stop) {
        auto &g = _guests[i];
        // A stop that never landed (it failed or timed out) says nothing of the guest's lateness, and QEMU
        // may carry out the queued stop and cont at once: that cont is issued at R, not early.
        const int64_t at = g.freeze.landed_ns && _freeze_ns
                               ? resume_issue_ns(r_ns, g.freeze.landed_ns - _freeze_ns, g.cont.expected_ns())
                               : r_ns;
        if (!g.lost.empty() || !guest_threads::wait_until(stop, at - precise_sleep_ns))
            return;
        auto r = g.backend->resume_at(at);
        std::lock_guard lock(_mu);
        if (r) {
            g.resume = *r;
            if (r->issued_ns && r->landed_ns)
                g.cont.add(r->landed_ns - r->issued_ns);
        } else {
            g.error = r.error().message;
        }
    });
}

void node_agent::finish_freeze(std::vector<ctl::Event> &out)
{
    _threads.join();
    refresh_lost();
    _phase = node_phase::frozen;
    std::string errors;
    for (const auto &g : _guests)
        if (!g.error.empty())
            errors += (errors.empty() ? "" : "; ") + g.def.name + ": " + g.error;
    if (!errors.empty()) {
        out.push_back(event(ctl::Event::FAILED, "freeze failed: " + errors));
    } else {
        ctl::Event e = event(ctl::Event::FROZEN, "frozen" + lost_text());
        fill_freeze(*e.mutable_freeze());
        out.push_back(std::move(e));
    }
    if (_deferred_resume_ns)
        start_resume(_deferred_resume_ns);
}

std::vector<ctl::Event> node_agent::tick()
{
    std::vector<ctl::Event> out = std::move(_pending);
    _pending.clear();
    if (_phase == node_phase::freezing && _threads.active() && _threads.done())
        finish_freeze(out);
    if (_phase == node_phase::resuming && _threads.done()) {
        _threads.join();
        refresh_lost();
        _phase = node_phase::running;
        std::string errors;
        for (const auto &g : _guests)
            if (!g.error.empty())
                errors += (errors.empty() ? "" : "; ") + g.def.name + ": " + g.error;
        if (errors.empty()) {
            // When each guest went on, against R, and when its stop had landed, against F: the difference
            // is how much longer its pause was than the network's.
            std::string when;
            for (const auto &g : _guests) {
                if (!g.resume.landed_ns)
                    continue;
                const int64_t went_on = g.resume.landed_ns - _resume_ns;
                when += (when.empty() ? "" : ", ") + g.def.name + " R" + offset_text(went_on);
                if (g.freeze.landed_ns && _freeze_ns) {
                    const int64_t stopped = g.freeze.landed_ns - _freeze_ns;
                    when += " (stopped F" + offset_text(stopped) + "; paused R-F" + offset_text(went_on - stopped) + ")";
                }
            }
            out.push_back(event(ctl::Event::RESUMED, "resumed at " + std::to_string(_resume_ns) +
                                                         (when.empty() ? "" : ": " + when) + lost_text()));
        } else {
            out.push_back(event(ctl::Event::FAILED, "resume failed: " + errors + lost_text()));
        }
        _resume_ns = 0;
    }
    // A QEMU that dies between operations is told at once (a dying one during an operation, by it).
    if (_phase == node_phase::running && !_threads.active())
        for (const auto &name : refresh_lost())
            for (const auto &g : _guests)
                if (g.def.name == name)
                    out.push_back(event(ctl::Event::FAILED, name + " is lost: " + g.lost +
                                                                "; its present cannot be saved: go back to a "
                                                                "checkpoint (stasis timetravel EXP CHECKPOINT)"));
    return out;
}

int64_t node_agent::next_due_ns() const
{
    if (!_threads.active())
        return INT64_MAX;
    const int64_t soon = ctl::realtime_ns() + 2'000'000;  // the threads finish a few ms after their instant
    const int64_t at = _phase == node_phase::freezing ? _freeze_ns : _resume_ns;
    return std::max(at, soon);
}

ctl::Event node_agent::event(ctl::Event::Kind kind, std::string message) const
{
    ctl::Event e;
    e.set_kind(kind);
    e.set_agent(_name);
    e.set_checkpoint(_checkpoint);
    e.set_at_ns(ctl::realtime_ns());
    e.set_message(std::move(message));
    return e;
}

void node_agent::forget_checkpoint()
{
    _checkpoint.clear();
    _saved_dir.clear();
    _loaded = false;
    _deferred_resume_ns = 0;
    for (auto &g : _guests)
        g.snapshot.reset();
}

}  // namespace stasis::noded
