// A test agent that speaks the checkpoint protocol the way the delay agent does
// (dataplane/ctl/checkpoint_ops.cpp): its own clock (the real one plus an offset), freeze at F with
// FROZEN pushed once F passes, save to a small file, abort, thaw, load, release; with switches that
// make it fail. It serves and publishes from its own thread, as a daemon's loop does.
#pragma once

#include <chrono>
#include <condition_variable>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "stasis/control/agent_server.hpp"

namespace stasis::control::testing {

inline int64_t realtime_now_ns()
{
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

class fake_protocol_agent {
public:
    enum class freeze_mode {
        normal,         // frozen once F passes: FROZEN pushed, FreezeStatus reached
        never_reached,  // prepared, but F never takes hold: no FROZEN, FreezeStatus never reached
        forgets,        // answers Prepare OK but does not freeze: FreezeStatus says not frozen
    };

    struct options {
        std::string name = "agent";
        int64_t offset_ns = 0;  // its clock minus the real one
        std::string endpoint = "tcp://127.0.0.1:*";
    };

    // What it holds, as the test reads it.
    struct state {
        bool frozen = false;
        int64_t freeze_ns = 0;  // F, its clock
        std::string checkpoint;
        std::vector<std::string> saved;
        bool loaded = false;
        std::string loaded_path;
        bool released = false;
        int64_t resume_ns = 0;  // the last thaw's R, its clock
    };

    static constexpr uint64_t held_packets = 2, held_bytes = 3000;

    explicit fake_protocol_agent(options o) : _opt(std::move(o))
    {
        _server = std::make_unique<agent_server>(_ctx, server_options{.endpoint = _opt.endpoint},
                                                 [this](const Request &r) { return handle(r); });
        _thread = std::thread([this] { loop(); });
    }
    ~fake_protocol_agent() { stop(); }

    fake_protocol_agent(const fake_protocol_agent &) = delete;
    fake_protocol_agent &operator=(const fake_protocol_agent &) = delete;

    void stop()
    {
        {
            std::lock_guard l(_mu);
            _stopping = true;
        }
        _cv.notify_all();
        _server->stop();
        if (_thread.joinable())
            _thread.join();
    }

    // Failure switches.
    void fail_save(bool on) { locked([&] { _fail_save = on; }); }
    // Its saves succeed with this warning (as stasis-noded's when QEMU held a frame outside the state).
    void warn_on_save(std::string w) { locked([&] { _save_warning = std::move(w); }); }
    void refuse_prepare(bool on) { locked([&] { _refuse_prepare = on; }); }
    void set_freeze_mode(freeze_mode m) { locked([&] { _mode = m; }); }
    void set_silent(bool on) { locked([&] { _silent = on; }); }  // requests queue, none is answered
    // The first request of this kind is never answered: the agent hangs in it until stop().
    void hang_on(Request::OpCase op) { locked([&] { _hang_on = op; }); }
    // Requests of this kind take `d`: the agent's thread is busy (its socket's I/O thread is not), as
    // stasis-noded's is while QEMU writes a guest's memory.
    void slow_on(Request::OpCase op, std::chrono::milliseconds d)
    {
        locked([&] {
            _slow_on = op;
            _slow_for = d;
        });
    }
    // As stasis-noded with a guest whose QEMU died: reported in every FreezeStatus.
    void set_lost(const std::string &guest, const std::string &why) { locked([&] { _lost = {guest, why}; }); }

    // As a controller that died left it: frozen for `checkpoint` at F (own clock), saved or not.
    void set_frozen(const std::string &checkpoint, int64_t freeze_ns, bool saved)
    {
        std::lock_guard l(_mu);
        _s = {};
        _s.frozen = true;
        _s.freeze_ns = freeze_ns;
        _s.checkpoint = checkpoint;
        if (saved)
            _s.saved.push_back("(saved by the test)");
        _announced = true;
    }

    state now() const { return locked([&] { return _s; }); }
    std::vector<Request> requests() const { return locked([&] { return _requests; }); }
    std::vector<Request> requests_of(Request::OpCase op) const
    {
        std::vector<Request> out;
        for (auto &r : requests())
            if (r.op_case() == op)
                out.push_back(r);
        return out;
    }
    std::vector<Event> published() const { return locked([&] { return _published; }); }
    int64_t clock_ns() const { return realtime_now_ns() + _opt.offset_ns; }
    const std::string &endpoint() const { return _server->endpoint(); }
    const std::string &name() const { return _opt.name; }
    int64_t offset_ns() const { return _opt.offset_ns; }

private:
    template <class Fn>
    std::invoke_result_t<Fn &> locked(Fn fn) const
    {
        std::lock_guard l(_mu);
        return fn();
    }

    void loop()
    {
        while (!_server->stopped()) {
            if (locked([&] { return _silent; })) {
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
                continue;
            }
            _server->poll_once(std::chrono::milliseconds(1));
            std::vector<Event> due = tick();
            for (const Event &e : due)
                _server->publish(e);
            std::lock_guard l(_mu);
            _published.insert(_published.end(), due.begin(), due.end());
            if (_s.released)  // a delay node's daemon exits once the release is answered
                _silent = true;
        }
    }

    Reply handle(const Request &req)
    {
        std::unique_lock l(_mu);
        _requests.push_back(req);
        if (_hang_on != Request::OP_NOT_SET && req.op_case() == _hang_on) {
            _hang_on = Request::OP_NOT_SET;
            _cv.wait(l, [&] { return _stopping; });
            return fail(FAILED, "stopped");
        }
        if (req.op_case() == _slow_on) {
            const auto d = _slow_for;
            l.unlock();
            std::this_thread::sleep_for(d);
            l.lock();
        }
        switch (req.op_case()) {
        case Request::kHello: {
            Reply r;
            r.mutable_hello()->set_agent("fake-protocol-agent");
            r.mutable_hello()->set_realtime_ns(clock_ns());
            return r;
        }
        case Request::kClockProbe: {
            Reply r;
            r.mutable_clock()->set_receive_ns(clock_ns());
            r.mutable_clock()->set_transmit_ns(clock_ns());
            return r;
        }
        case Request::kPrepare:
            return prepare(req.prepare());
        case Request::kFreezeStatus:
            return freeze_status();
        case Request::kSave:
            return save(req.save());
        case Request::kAbort:
            return abort(req.abort());
        case Request::kThaw:
            return thaw(req.thaw().at_ns());
        case Request::kLoad:
            return load(req.load());
        case Request::kRelease:
            return release(req.release());
        default:
            return fail(BAD_REQUEST, "the fake agent does not know this request");
        }
    }

    static Reply fail(Status status, const std::string &message)
    {
        Reply r;
        r.set_status(status);
        r.set_message(message);
        return r;
    }

    Event event(Event::Kind kind, const std::string &message) const
    {
        Event e;
        e.set_kind(kind);
        e.set_agent(_opt.name);
        e.set_checkpoint(_s.checkpoint);
        e.set_at_ns(clock_ns());
        e.set_message(message);
        return e;
    }

    bool reached() const { return _s.frozen && _mode != freeze_mode::never_reached && clock_ns() >= _s.freeze_ns; }

    void forget_checkpoint()
    {
        _s.checkpoint.clear();
        _s.saved.clear();
        _s.loaded = false;
        _announced = false;
        _deferred_resume_ns = 0;
    }

    FreezeReport report() const
    {
        FreezeReport f;
        f.set_frozen(true);
        f.set_freeze_ns(_s.freeze_ns);
        f.set_reached(reached());
        auto *w = f.add_workers();
        w->set_lcore(1);
        w->set_noticed_ns(reached() ? _s.freeze_ns + 1000 : 0);
        auto *l = f.add_links();
        l->set_link("lan0");
        l->set_packets_a_to_b(held_packets);
        l->set_bytes_a_to_b(held_bytes);
        f.set_checkpoint(_s.checkpoint);
        f.set_saved(!_s.saved.empty() || _s.loaded);
        if (_deferred_resume_ns)
            f.set_resume_ns(_deferred_resume_ns);
        return f;
    }

    Reply prepare(const Prepare &q)
    {
        if (_refuse_prepare)
            return fail(FAILED, _opt.name + " refuses to prepare (test)");
        if (_s.frozen && q.checkpoint() == _s.checkpoint && q.freeze_ns() == _s.freeze_ns)
            return freeze_status();
        if (_s.frozen)
            return fail(INVALID_ARGUMENT, "already frozen");
        if (_s.resume_ns > clock_ns())  // as stasis-noded does while its guests are resuming
            return fail(INVALID_ARGUMENT, "cannot freeze: resuming at " + std::to_string(_s.resume_ns));
        if (q.freeze_ns() <= clock_ns())
            return fail(INVALID_ARGUMENT, "the freeze instant has passed");
        Reply r;
        r.mutable_freeze()->set_frozen(true);
        r.mutable_freeze()->set_freeze_ns(q.freeze_ns());
        r.mutable_freeze()->set_checkpoint(q.checkpoint());
        if (_mode == freeze_mode::forgets)
            return r;
        forget_checkpoint();
        _s.frozen = true;
        _s.freeze_ns = q.freeze_ns();
        _s.checkpoint = q.checkpoint();
        return r;
    }

    Reply freeze_status() const
    {
        Reply r;
        if (!_s.frozen) {
            r.mutable_freeze()->set_frozen(false);
            r.mutable_freeze()->set_resume_ns(_s.resume_ns);
            r.set_message("not frozen");
        } else {
            *r.mutable_freeze() = report();
        }
        if (!_lost.first.empty()) {
            auto *l = r.mutable_freeze()->add_lost();
            l->set_guest(_lost.first);
            l->set_why(_lost.second);
        }
        return r;
    }

    Reply save(const Save &q)
    {
        if (q.path().empty())
            return fail(BAD_REQUEST, "save: no path");
        if (!reached())
            return fail(INVALID_ARGUMENT, "save: not frozen");
        if (_fail_save) {
            _pending.push_back(event(Event::FAILED, "save to " + q.path() + " failed: disk full (test)"));
            return fail(FAILED, "disk full (test)");
        }
        std::error_code ec;
        std::filesystem::create_directories(std::filesystem::path(q.path()).parent_path(), ec);
        {
            std::ofstream out(q.path(), std::ios::trunc);
            out << "fake-snapshot " << _opt.name << ' ' << _s.checkpoint << ' ' << _s.freeze_ns << '\n';
            if (!out)
                return fail(FAILED, "cannot write " + q.path());
        }
        _s.saved.push_back(q.path());
        Reply r;
        auto *s = r.mutable_snapshot();
        s->set_path(q.path());
        s->set_freeze_ns(_s.freeze_ns);
        s->set_packets(held_packets);
        s->set_bytes(held_bytes);
        s->set_file_bytes(std::filesystem::file_size(q.path(), ec));
        s->set_checksum("crc32c:0000" + std::to_string(1000 + _s.saved.size()));
        if (!_save_warning.empty())
            s->add_warnings(_save_warning);
        r.set_message("saved " + q.path());
        Event e = event(Event::SAVED, r.message());
        *e.mutable_snapshot() = *s;
        _pending.push_back(std::move(e));
        return r;
    }

    Reply abort(const Abort &q)
    {
        if (!_s.frozen) {
            Reply r;
            r.mutable_freeze()->set_frozen(false);
            r.set_message("not frozen: nothing to abort");
            return r;
        }
        if (!q.checkpoint().empty() && !_s.checkpoint.empty() && q.checkpoint() != _s.checkpoint)
            return fail(INVALID_ARGUMENT, "frozen for checkpoint '" + _s.checkpoint + "', not '" + q.checkpoint() + "'");
        for (const auto &p : _s.saved)
            std::filesystem::remove(p);
        _s.saved.clear();
        const int64_t r_ns = q.resume_ns();
        if (r_ns != 0 && r_ns <= _s.freeze_ns)
            return fail(INVALID_ARGUMENT, "the resume instant is not after the freeze instant");
        if (r_ns != 0 && clock_ns() < _s.freeze_ns) {  // freeze at F anyway, then resume at R
            _deferred_resume_ns = r_ns;
            Reply r;
            r.mutable_freeze()->set_frozen(true);
            r.mutable_freeze()->set_freeze_ns(_s.freeze_ns);
            r.mutable_freeze()->set_resume_ns(r_ns);
            return r;
        }
        return thaw(r_ns);
    }

    Reply thaw(int64_t at_ns)
    {
        if (!_s.frozen)
            return fail(INVALID_ARGUMENT, "not frozen");
        const int64_t now = clock_ns(), f = _s.freeze_ns;
        int64_t r_ns = now;
        if (now >= f) {
            r_ns = at_ns ? at_ns : now + 1'000'000;
            if (r_ns <= now)
                return fail(INVALID_ARGUMENT, "the resume instant has passed");
        }
        forget_checkpoint();
        _s.frozen = false;
        _s.resume_ns = now < f ? 0 : r_ns;
        Reply r;
        r.mutable_freeze()->set_frozen(false);
        r.mutable_freeze()->set_freeze_ns(f);
        r.mutable_freeze()->set_resume_ns(r_ns);
        return r;
    }

    Reply load(const Load &q)
    {
        if (q.path().empty())
            return fail(BAD_REQUEST, "load: no path");
        if (_s.frozen && !q.discard_frozen())
            return fail(INVALID_ARGUMENT, "frozen: thaw before loading a snapshot (or discard what the freeze holds)");
        std::ifstream in(q.path());
        std::string magic, agent, ckpt;
        int64_t f = 0;
        if (!(in >> magic >> agent >> ckpt >> f) || magic != "fake-snapshot")
            return fail(INVALID_ARGUMENT, "cannot read a snapshot from " + q.path());
        forget_checkpoint();
        _s.frozen = true;
        _s.freeze_ns = f;
        _s.loaded = true;
        _s.loaded_path = q.path();
        _announced = true;  // frozen since the snapshot's F: nothing to announce
        Reply r;
        r.mutable_snapshot()->set_path(q.path());
        r.mutable_snapshot()->set_freeze_ns(f);
        std::error_code ec;
        r.mutable_snapshot()->set_file_bytes(std::filesystem::file_size(q.path(), ec));
        return r;
    }

    Reply release(const Release &q)
    {
        const bool captured = _s.frozen && (!_s.saved.empty() || _s.loaded);
        if (!captured && !q.force())
            return fail(INVALID_ARGUMENT, "not captured: a release now would lose frames; or force");
        _s.released = true;
        _pending.push_back(event(Event::RELEASED, "released"));
        Reply r;
        r.set_message("released");
        return r;
    }

    // What became due since the last turn, as the delay agent's tick().
    std::vector<Event> tick()
    {
        std::lock_guard l(_mu);
        std::vector<Event> out = std::move(_pending);
        _pending.clear();
        if (reached()) {
            if (!_announced) {
                Event e = event(Event::FROZEN, "frozen");
                *e.mutable_freeze() = report();
                out.push_back(std::move(e));
                _announced = true;
            }
            if (_deferred_resume_ns)
                (void)thaw(_deferred_resume_ns);
        }
        if (_s.resume_ns && clock_ns() >= _s.resume_ns && !_resumed_announced.contains(_s.resume_ns)) {
            out.push_back(event(Event::RESUMED, "resumed"));
            _resumed_announced.insert(_s.resume_ns);
        }
        return out;
    }

    options _opt;
    zmq::context_t _ctx;
    std::unique_ptr<agent_server> _server;
    mutable std::mutex _mu;
    std::condition_variable _cv;
    state _s;
    bool _announced = false;
    int64_t _deferred_resume_ns = 0;
    std::set<int64_t> _resumed_announced;
    std::vector<Event> _pending, _published;
    std::vector<Request> _requests;
    bool _fail_save = false, _refuse_prepare = false, _silent = false, _stopping = false;
    std::string _save_warning;
    std::pair<std::string, std::string> _lost;  // guest, why
    freeze_mode _mode = freeze_mode::normal;
    Request::OpCase _hang_on = Request::OP_NOT_SET;
    Request::OpCase _slow_on = Request::OP_NOT_SET;
    std::chrono::milliseconds _slow_for{0};
    std::thread _thread;
};

}  // namespace stasis::control::testing
