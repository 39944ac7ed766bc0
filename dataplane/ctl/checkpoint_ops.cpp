// The delay agent's part in a coordinated checkpoint: prepare (freeze at F for a checkpoint), save,
// abort (remove what was saved, resume at a common R), release, load, thaw, and the events.
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <unistd.h>

#include "agent_reply.hpp"
#include "control_handler.hpp"

namespace stasis::dataplane {

namespace ctl = stasis::control;

namespace {

std::string hex32(uint32_t v)
{
    char buf[16];
    snprintf(buf, sizeof buf, "%08x", v);
    return buf;
}

}  // namespace

void to_proto(const freeze_report &rep, ctl::FreezeReport &f)
{
    f.set_frozen(true);
    f.set_freeze_ns(rep.freeze_ns);
    f.set_reached(rep.reached);
    for (const auto &w : rep.workers) {
        auto *n = f.add_workers();
        n->set_lcore(w.lcore);
        n->set_noticed_ns(w.noticed_ns == INT64_MAX ? 0 : w.noticed_ns);
    }
    for (const auto &h : rep.links) {
        auto *l = f.add_links();
        l->set_link(h.link);
        l->set_packets_a_to_b(h.packets_ab);
        l->set_bytes_a_to_b(h.bytes_ab);
        l->set_packets_b_to_a(h.packets_ba);
        l->set_bytes_b_to_a(h.bytes_ba);
    }
}

void to_proto(const save_report &rep, ctl::SnapshotReport &s)
{
    s.set_path(rep.path);
    s.set_freeze_ns(rep.freeze_ns);
    s.set_packets(rep.packets);
    s.set_bytes(rep.bytes);
    s.set_file_bytes(rep.file_bytes);
    if (rep.content_crc != 0)
        s.set_checksum("crc32c:" + hex32(rep.content_crc));
}

ctl::Event delay_agent::event(ctl::Event::Kind kind, std::string message) const
{
    ctl::Event e;
    e.set_kind(kind);
    e.set_agent(_name);
    e.set_checkpoint(_checkpoint);
    e.set_at_ns(_node.clock().now_ns());
    e.set_message(std::move(message));
    return e;
}

void delay_agent::forget_checkpoint()
{
    _checkpoint.clear();
    _saved.clear();
    _loaded = false;
    _frozen_announced = false;
    _deferred_resume_ns = 0;
}

ctl::Reply delay_agent::prepare(const ctl::Prepare &q)
{
    if (_node.frozen() && !q.checkpoint().empty() && q.checkpoint() == _checkpoint &&
        q.freeze_ns() == _node.hold_from_ns())
        return freeze_status();  // a restarted controller asking again: already prepared
    auto f = _node.freeze(q.freeze_ns());
    if (!f)
        return agent_fail(op_status(f.error()), f.error().message);
    forget_checkpoint();
    _checkpoint = q.checkpoint();
    ctl::Reply r;
    r.mutable_freeze()->set_frozen(true);
    r.mutable_freeze()->set_freeze_ns(*f);
    r.mutable_freeze()->set_checkpoint(_checkpoint);
    r.set_message("freezing at " + std::to_string(*f) +
                  (_checkpoint.empty() ? "" : " for checkpoint " + _checkpoint));
    return r;
}

ctl::Reply delay_agent::freeze_status()
{
    ctl::Reply r;
    auto *f = r.mutable_freeze();
    if (!_node.frozen()) {
        f->set_frozen(false);
        f->set_resume_ns(_resume_ns);
        r.set_message("not frozen");
        return r;
    }
    auto rep = _node.freeze_status();
    if (!rep)
        return agent_fail(op_status(rep.error()), rep.error().message);
    to_proto(*rep, *f);
    f->set_checkpoint(_checkpoint);
    f->set_saved(!_saved.empty() || _loaded);
    if (_deferred_resume_ns)
        f->set_resume_ns(_deferred_resume_ns);
    return r;
}

ctl::Reply delay_agent::thaw(const ctl::Thaw &q)
{
    const int64_t f = _node.hold_from_ns();
    auto t = _node.thaw(q.at_ns());
    if (!t)
        return agent_fail(op_status(t.error()), t.error().message);
    const bool cancelled = *t < f;
    forget_checkpoint();
    _resume_ns = cancelled ? 0 : *t;
    ctl::Reply r;
    r.mutable_freeze()->set_frozen(false);
    r.mutable_freeze()->set_freeze_ns(f);
    r.mutable_freeze()->set_resume_ns(*t);
    r.set_message(cancelled ? "the scheduled freeze is cancelled" : "resuming at " + std::to_string(*t));
    return r;
}

ctl::Reply delay_agent::abort(const ctl::Abort &q)
{
    if (!_node.frozen()) {
        ctl::Reply r;
        r.mutable_freeze()->set_frozen(false);
        r.set_message("not frozen: nothing to abort");
        return r;
    }
    if (!q.checkpoint().empty() && !_checkpoint.empty() && q.checkpoint() != _checkpoint)
        return agent_fail(ctl::INVALID_ARGUMENT, "this agent is frozen for checkpoint '" + _checkpoint +
                                                     "', not '" + q.checkpoint() + "'");
    std::string removed;
    for (const auto &path : _saved) {
        if (::unlink(path.c_str()) != 0 && errno != ENOENT)
            return agent_fail(ctl::FAILED, "cannot remove " + path + ": " + std::strerror(errno));
        removed += (removed.empty() ? "; removed " : ", ") + path;
    }
    _saved.clear();
    const int64_t f = _node.hold_from_ns();
    const int64_t r_ns = q.resume_ns();
    if (r_ns != 0 && r_ns <= f)
        return agent_fail(ctl::INVALID_ARGUMENT, "the resume instant " + std::to_string(r_ns) +
                                                     " is not after the freeze instant " + std::to_string(f));
    if (r_ns != 0 && _node.clock().now_ns() < f) {  // freeze at F anyway, so every survivor pauses alike
        _deferred_resume_ns = r_ns;
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

ctl::Reply delay_agent::save(const ctl::Save &q)
{
    if (q.path().empty())
        return agent_fail(ctl::BAD_REQUEST, "save: no path");
    std::error_code ec;
    if (auto dir = std::filesystem::path(q.path()).parent_path(); !dir.empty())
        std::filesystem::create_directories(dir, ec);
    if (ec)
        return agent_fail(ctl::FAILED, "cannot create the directory of " + q.path() + ": " + ec.message());
    auto rep = _node.save(q.path());
    if (!rep) {
        _pending.push_back(event(ctl::Event::FAILED, "save to " + q.path() + " failed: " + rep.error().message));
        return agent_fail(op_status(rep.error()), rep.error().message);
    }
    _saved.push_back(rep->path);
    ctl::Reply r;
    to_proto(*rep, *r.mutable_snapshot());
    r.set_message("saved " + rep->path);
    ctl::Event e = event(ctl::Event::SAVED, r.message());
    *e.mutable_snapshot() = r.snapshot();
    _pending.push_back(std::move(e));
    return r;
}

ctl::Reply delay_agent::load(const ctl::Load &q)
{
    if (q.path().empty())
        return agent_fail(ctl::BAD_REQUEST, "load: no path");
    auto rep = _node.load(q.path(), q.discard_frozen());
    if (!rep)
        return agent_fail(op_status(rep.error()), rep.error().message);
    forget_checkpoint();
    _loaded = true;
    _frozen_announced = true;  // frozen since the snapshot's F: nothing to announce
    ctl::Reply r;
    to_proto(*rep, *r.mutable_snapshot());
    r.set_message("loaded " + rep->path);
    return r;
}

ctl::Reply delay_agent::release(const ctl::Release &q)
{
    const bool captured = _node.frozen() && (!_saved.empty() || _loaded);
    if (!captured && !q.force())
        return agent_fail(ctl::INVALID_ARGUMENT,
                          _node.frozen() ? "frozen but not saved: a release now would lose the frames it holds; "
                                           "save first, or force"
                                         : "not frozen: a release now would lose the frames in flight; "
                                           "checkpoint first, or force");
    _released = true;
    _pending.push_back(event(ctl::Event::RELEASED, "released"));
    ctl::Reply r;
    r.set_message("released: the delay node stops once this reply is sent");
    return r;
}

std::vector<ctl::Event> delay_agent::tick()
{
    std::vector<ctl::Event> out = std::move(_pending);
    _pending.clear();
    const int64_t now = _node.clock().now_ns();
    if (_node.frozen() && now >= _node.hold_from_ns()) {
        // The notices are atomics: read them without parking the workers, and park (for the frames
        // held) only once every worker has noticed; until then look again in a millisecond.
        bool all = true;
        for (const auto &w : _node.workers())
            all = all && w->noticed_ns() != INT64_MAX;
        if (!_frozen_announced && !all)
            _recheck_ns = now + 1'000'000;
        if (!_frozen_announced && all) {
            auto rep = _node.freeze_status();
            if (rep) {
                ctl::Event e = event(ctl::Event::FROZEN, "frozen");
                to_proto(*rep, *e.mutable_freeze());
                e.mutable_freeze()->set_checkpoint(_checkpoint);
                out.push_back(std::move(e));
                _frozen_announced = true;
            }
        }
        if (_deferred_resume_ns) {
            ctl::Thaw t;
            t.set_at_ns(_deferred_resume_ns);
            ctl::Reply r = thaw(t);
            if (r.status() != ctl::OK)
                out.push_back(event(ctl::Event::FAILED, "the aborted checkpoint's resume failed: " + r.message()));
        }
    }
    if (_resume_ns && now >= _resume_ns) {
        out.push_back(event(ctl::Event::RESUMED, "resumed at " + std::to_string(_resume_ns)));
        _resume_ns = 0;
    }
    return out;
}

int64_t delay_agent::next_due_ns() const
{
    int64_t due = INT64_MAX;
    if (_node.frozen() && (!_frozen_announced || _deferred_resume_ns))
        due = std::max(_node.hold_from_ns(), _frozen_announced ? 0 : _recheck_ns);
    if (_resume_ns)
        due = std::min(due, _resume_ns);
    return due;
}

}  // namespace stasis::dataplane
