// The controller's private parts: the agents of an operation, parallel calls, phase timing, and
// the steps every operation shares (probe, freeze, resume, abort).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "stasis/control/agent_client.hpp"
#include "stasis/control/catalog.hpp"
#include "stasis/control/clock_probe.hpp"
#include "stasis/control/controller.hpp"

namespace stasis::control {

namespace xp = stasis::experiment;

int64_t now_ns();

// One agent as an operation uses it.
struct agent_conn {
    const xp::Agent *spec = nullptr;
    std::unique_ptr<agent_client> client;
    xp::AgentReport *report = nullptr;  // its line in the operation's report
    bool ok = true;                     // false once it failed or did not answer
};

// Raised inside an operation; the operation turns it into a failed report after rolling back.
struct op_failure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct controller::impl {
    experiment_spec spec;
    controller_options opt;
    catalog cat;
    experiment exp;
    zmq::context_t ctx;
    int64_t started_ns = now_ns();  // progress lines say how long since
    int64_t catalog_write_ns = 0;   // how long begin_op took: the lead covers the writes before F
    mutable std::mutex say_mu;      // say() is called from each()'s threads too

    impl(experiment_spec s, controller_options o, catalog c);

    void say(const std::string &line) const;
    void remember_endpoints();
    xp::Experiment &x() { return spec.msg; }
    std::chrono::milliseconds timeout() const { return std::chrono::milliseconds(spec.msg.timeout_ms()); }

    // Connections to every agent of the experiment (at the mapped endpoints), each with a line in
    // `report`; subscribes to their events when `subscribe`.
    std::vector<agent_conn> connect(xp::OpReport &report, bool subscribe);
    // Runs fn for every agent still ok, all at once; returns the error messages of those that
    // failed (fn returned one), which are marked not ok.
    std::vector<std::string> each(std::vector<agent_conn> &agents,
                                  const std::function<std::string(agent_conn &)> &fn);
    // A call with the experiment's timeout and tries; an error message unless the status is OK.
    std::string call(agent_conn &a, const Request &req, Reply *out = nullptr);
    // The same for a request whose time grows with the experiment's state (Save, Load, and Release,
    // which quits every guest; `doing`: "saving"...): answered when the agent is done, which may take
    // up to the experiment's long_timeout_ms; progress said every few seconds.
    std::string call_long(agent_conn &a, const Request &req, const char *doing, Reply *out);
    std::string answer(agent_conn &a, call_result r, Reply *out);

    // Probe every agent; fills offsets and the report's skew; throws op_failure when one does not
    // answer, or when the skew is over budget and not forced.
    void probe(std::vector<agent_conn> &agents, xp::OpReport &report);
    // Waits until every agent's scheduled resume (the last operation's R, which the agents may not have
    // reached: that command returned once they had it) has landed, so that a Prepare is not refused;
    // throws op_failure when one is further ahead than max_resume_wait. After probe (offsets); the wait is
    // the report's phase "wait for R".
    void wait_for_resumes(std::vector<agent_conn> &agents, xp::OpReport &report);
    int64_t lead_ns(const xp::OpReport &report) const;
    // F = now + lead, into the report.
    int64_t choose_freeze(xp::OpReport &report);
    // Prepare(the report's F) everywhere, then wait until every agent has frozen; fills landed/skew/held.
    void freeze(std::vector<agent_conn> &agents, xp::OpReport &report, const std::string &checkpoint);
    // Thaw at one instant R = now + lead for every agent that is ok; returns R.
    int64_t resume(std::vector<agent_conn> &agents, xp::OpReport &report);
    // Abort a checkpoint on every reachable agent at one common R after F (see controller.hpp).
    void abort_all(std::vector<agent_conn> &agents, xp::OpReport &report, const std::string &checkpoint);

    // Load every agent's artifact of a checkpoint (throws op_failure; what loaded stays frozen).
    void load_all(std::vector<agent_conn> &agents, xp::OpReport &report, const control::checkpoint &c,
                  bool discard_frozen = false);
    // A restore of `c` in the catalog: a new branch unless it continues the head.
    void record_restore(const control::checkpoint &c, xp::OpReport &report);

    // The operation log: begin, record a phase (then maybe crash, for the fault hook), finish.
    operation begin(op_kind kind, xp::OpReport &report);
    void phase(const operation &op, const std::string &name, const xp::OpReport &report);
    void finish(const operation &op, op_state state, xp::OpReport &report);
    void refresh();  // re-read the experiment row

    xp::OpReport run_checkpoint(const std::string &kind, bool stay_frozen, bool release);
};

// Times a phase into the report when it goes out of scope.
class phase_timer {
public:
    phase_timer(xp::OpReport &r, std::string name) : _r(r), _name(std::move(name)), _t0(now_ns()) {}
    ~phase_timer()
    {
        auto *p = _r.add_phases();
        p->set_name(_name);
        p->set_duration_ns(now_ns() - _t0);
    }

private:
    xp::OpReport &_r;
    std::string _name;
    int64_t _t0;
};

template <class T>
T must(catalog_result<T> r)
{
    if (!r)
        throw op_failure(r.error().message);
    if constexpr (!std::is_void_v<T>)
        return std::move(*r);
}

std::string ms_text(int64_t ns);  // "12.345 ms"
std::string us_text(int64_t ns);  // "12 us"

}  // namespace stasis::control
