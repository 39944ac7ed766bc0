// The steps operations share: probe clocks, choose the lead, freeze at F, resume at R, abort; and
// the operation log around them.
#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <unistd.h>

#include <google/protobuf/util/json_util.h>

#include "controller_impl.hpp"

namespace stasis::control {

void controller::impl::say(const std::string &line) const
{
    if (!opt.progress)
        return;
    char stamp[32];
    snprintf(stamp, sizeof stamp, "[%+8.3f ms] ", double(now_ns() - started_ns) / 1e6);
    std::lock_guard l(say_mu);
    opt.progress(stamp + line);
}

namespace {

// After R, a node agent's guests go on when their cont lands (2.6-12 ms measured; docs/NODE.md).
constexpr int64_t resume_margin_ns = 50'000'000;
// A resume further ahead was scheduled on purpose (stasis thaw --at): the operation is refused.
constexpr int64_t max_resume_wait_ns = 10'000'000'000;

}  // namespace

void controller::impl::probe(std::vector<agent_conn> &agents, xp::OpReport &report)
{
    {
        phase_timer t(report, "probe");
        auto failed = each(agents, [&](agent_conn &a) -> std::string {
            auto c = probe_clock(*a.client, int(x().probes()), timeout(), int(x().tries()));
            if (!c)
                return a.spec->name() + ": " + c.error().message;
            a.report->set_offset_ns(c->offset_ns);
            a.report->set_rtt_ns(c->rtt_ns);
            return {};
        });
        if (!failed.empty())
            throw op_failure("clock probe failed: " + failed.front());
        std::vector<clock_estimate> clocks;
        for (const auto &a : agents)
            clocks.push_back({a.report->offset_ns(), a.report->rtt_ns(), 1});
        const skew_summary s = summarize(clocks);
        report.set_skew_ns(s.skew_ns);
        report.set_skew_bound_ns(s.bound_ns);
        report.set_max_rtt_ns(s.max_rtt_ns);
        say("probe: " + std::to_string(agents.size()) + " agent(s), skew " + us_text(s.skew_ns) + " (bound " +
            us_text(s.bound_ns) + "), worst round trip " + us_text(s.max_rtt_ns));
        const int64_t budget = int64_t(x().skew_budget_us()) * 1000;
        if (s.bound_ns > budget) {
            const std::string m = "clock skew bound " + us_text(s.bound_ns) + " is over the budget of " +
                                  us_text(budget) + " (skew_budget_us)";
            if (!opt.force)
                throw op_failure(m + ": refusing; fix the agents' clocks (NTP/PTP) or force");
            say("warning: " + m + "; going on because forced");
        }
    }
    wait_for_resumes(agents, report);
}

void controller::impl::wait_for_resumes(std::vector<agent_conn> &agents, xp::OpReport &report)
{
    std::mutex mu;
    int64_t latest = 0;  // our clock
    std::string who;
    each(agents, [&](agent_conn &a) -> std::string {
        Request q;
        q.mutable_freeze_status();
        Reply r;
        if (call(a, q, &r).empty() && r.has_freeze() && r.freeze().resume_ns() > 0) {
            const int64_t at = r.freeze().resume_ns() - a.report->offset_ns();
            std::lock_guard l(mu);
            if (at > latest) {
                latest = at;
                who = a.spec->name();
            }
        }
        return {};  // not this step's failure: the next request to that agent says what is wrong
    });
    const int64_t wait = latest + resume_margin_ns - now_ns();
    if (latest == 0 || wait <= 0)
        return;
    if (wait > max_resume_wait_ns)
        throw op_failure(who + " resumes at " + format_utc_ns(latest) + ", in " + ms_text(wait - resume_margin_ns) +
                         " (a thaw scheduled ahead): run this after it");
    say("waiting " + ms_text(wait) + " for " + who + "'s resume at " + format_utc_ns(latest) +
        " (the last operation's R) to land");
    phase_timer t(report, "wait for R");  // its own phase: the probe's stays the probe's
    std::this_thread::sleep_for(std::chrono::nanoseconds(wait));
}

int64_t controller::impl::lead_ns(const xp::OpReport &report) const
{
    if (opt.lead_ms)
        return int64_t(*opt.lead_ms) * 1'000'000;
    if (spec.msg.lead_ms())
        return int64_t(spec.msg.lead_ms()) * 1'000'000;
    // Enough for every Prepare to arrive before F, with room for a retry's worth of queueing.
    // and for the three catalog writes between choosing F and sending Prepare.
    const int64_t auto_ns = 4 * report.max_rtt_ns() + report.skew_bound_ns() +
                            int64_t(spec.msg.agent_size()) * 1'000'000 + 3 * catalog_write_ns;
    return std::max<int64_t>(int64_t(spec.msg.min_lead_ms()) * 1'000'000, auto_ns);
}

int64_t controller::impl::choose_freeze(xp::OpReport &report)
{
    const int64_t lead = lead_ns(report);
    const int64_t f = now_ns() + lead;
    report.set_lead_ns(lead);
    report.set_freeze_ns(f);
    report.set_command_to_freeze_ns(f - report.command_ns());
    return f;
}

void controller::impl::freeze(std::vector<agent_conn> &agents, xp::OpReport &report, const std::string &ckpt)
{
    const int64_t f = report.freeze_ns();
    const int64_t lead = report.lead_ns();
    {
        phase_timer t(report, "prepare");
        auto failed = each(agents, [&](agent_conn &a) -> std::string {
            Request req;
            auto *p = req.mutable_prepare();
            p->set_experiment(x().name());
            p->set_checkpoint(ckpt);
            p->set_freeze_ns(f + a.report->offset_ns());
            a.report->set_freeze_ns(p->freeze_ns());
            if (auto e = call(a, req); !e.empty())
                return e;
            a.report->set_state("prepared");
            return {};
        });
        if (!failed.empty())
            throw op_failure("prepare failed: " + failed.front());
    }
    say("prepare: F = " + format_utc_ns(f) + " = " + std::to_string(f) + " ns (lead " + ms_text(lead) + ", " +
        ms_text(f - report.command_ns()) + " after the command)");

    phase_timer t(report, "freeze");
    // Every agent pushes FROZEN once F has passed and it holds; ask directly if the event is late.
    auto failed = each(agents, [&](agent_conn &a) -> std::string {
        const int64_t deadline =
            f + std::max<int64_t>(int64_t(x().timeout_ms()) * x().tries() * 1'000'000, 4 * lead);
        FreezeReport fr;
        bool have = false;
        while (!have && now_ns() < deadline) {
            const int64_t wait_ns = std::max<int64_t>(a.report->freeze_ns() - a.report->offset_ns() - now_ns(), 0) +
                                    50'000'000;
            auto ev = a.client->next_event(std::chrono::milliseconds(wait_ns / 1'000'000));
            if (ev && ev->kind() == Event::FAILED)
                return a.spec->name() + ": " + ev->message();
            if (ev && ev->kind() == Event::FROZEN && ev->checkpoint() == ckpt) {
                fr = ev->freeze();
                have = true;
            } else if (!ev && now_ns() >= f) {
                Request q;
                q.mutable_freeze_status();
                Reply r;
                if (auto e = call(a, q, &r); !e.empty())
                    return e;
                if (!r.freeze().frozen())
                    return a.spec->name() + ": not frozen after F (" + r.message() + ")";
                const bool all = std::ranges::all_of(r.freeze().workers(), [](const WorkerNotice &w) {
                    return w.noticed_ns() != 0;
                });
                if (r.freeze().reached() && all) {
                    fr = r.freeze();
                    have = true;
                }
            }
        }
        if (!have)
            return a.spec->name() + ": did not report frozen within " + ms_text(deadline - f) + " after F";
        int64_t landed = 0;
        for (const auto &w : fr.workers())
            landed = std::max(landed, w.noticed_ns());
        uint64_t packets = 0, bytes = 0;
        for (const auto &l : fr.links()) {
            packets += l.packets_a_to_b() + l.packets_b_to_a();
            bytes += l.bytes_a_to_b() + l.bytes_b_to_a();
        }
        a.report->set_landed_ns(landed);
        a.report->set_freeze_skew_ns(landed ? landed - fr.freeze_ns() : 0);
        a.report->set_held_packets(packets);
        a.report->set_held_bytes(bytes);
        a.report->set_state("frozen");
        return {};
    });
    if (!failed.empty())
        throw op_failure("freeze failed: " + failed.front());
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    std::string line;
    for (const auto &a : agents) {
        const int64_t landed_ctl = a.report->landed_ns() - a.report->offset_ns();
        lo = std::min(lo, landed_ctl);
        hi = std::max(hi, landed_ctl);
        line += (line.empty() ? "" : ", ") + a.spec->name() + " +" + us_text(a.report->freeze_skew_ns()) + " holding " +
                std::to_string(a.report->held_packets()) + " frames";
    }
    report.set_freeze_spread_ns(hi - lo);
    say("freeze: " + line + "; spread " + us_text(hi - lo));
}

int64_t controller::impl::resume(std::vector<agent_conn> &agents, xp::OpReport &report)
{
    phase_timer t(report, "resume");
    const int64_t r = now_ns() + lead_ns(report);
    report.set_resume_ns(r);
    auto failed = each(agents, [&](agent_conn &a) -> std::string {
        Request req;
        req.mutable_thaw()->set_at_ns(r + a.report->offset_ns());
        a.report->set_resume_ns(req.thaw().at_ns());
        if (auto e = call(a, req); !e.empty())
            return e;
        a.report->set_state("resumed");
        return {};
    });
    if (!failed.empty())
        throw op_failure("resume failed: " + failed.front());
    say("resume: R = " + format_utc_ns(r));
    return r;
}

void controller::impl::abort_all(std::vector<agent_conn> &agents, xp::OpReport &report, const std::string &ckpt)
{
    phase_timer t(report, "abort");
    const int64_t f = report.freeze_ns();
    // now + lead is after any F a controller chose before (even one that died before recording F).
    const int64_t r = std::max(now_ns(), f) + lead_ns(report);
    report.set_resume_ns(r);
    std::vector<agent_conn *> todo;
    for (auto &a : agents)
        if (a.report->state() != "unreachable")  // do not wait for a dead agent's tries again
            todo.push_back(&a);
    std::vector<std::string> errors(todo.size());
    {
        std::vector<std::jthread> threads;
        for (size_t i = 0; i < todo.size(); i++)
            threads.emplace_back([&, i] {
                agent_conn &a = *todo[i];
                Request req;
                req.mutable_abort()->set_checkpoint(ckpt);
                req.mutable_abort()->set_resume_ns(r + a.report->offset_ns());
                a.report->set_resume_ns(req.abort().resume_ns());
                errors[i] = call(a, req);
            });
    }
    std::string line;
    for (size_t i = 0; i < todo.size(); i++) {
        agent_conn &a = *todo[i];
        if (!errors[i].empty()) {
            a.report->set_error(a.report->error().empty() ? errors[i] : a.report->error() + "; " + errors[i]);
            continue;
        }
        a.report->set_state("aborted");
        line += (line.empty() ? "" : ", ") + a.spec->name();
    }
    say("abort: " + (line.empty() ? std::string("no agent reachable") : line + " resume at " + format_utc_ns(r)));
}

void controller::impl::refresh()
{
    exp = must(cat.experiment_by_id(exp.id));
}

operation controller::impl::begin(op_kind kind, xp::OpReport &report)
{
    report.set_operation(std::string(to_string(kind)));
    report.set_experiment(x().name());
    report.set_command_ns(started_ns);
    op_start s;
    s.experiment_id = exp.id;
    s.kind = kind;
    std::string json;
    (void)google::protobuf::util::MessageToJsonString(report, &json);
    s.detail = json;
    const int64_t t0 = now_ns();
    operation op = must(cat.begin_op(s));
    catalog_write_ns = now_ns() - t0;
    say("catalog: " + std::string(to_string(kind)) + " is operation " + std::to_string(op.id) + " (a write takes " +
        ms_text(catalog_write_ns) + ")");
    return op;
}

void controller::impl::phase(const operation &op, const std::string &name, const xp::OpReport &report)
{
    op_update u;
    u.phase = name;
    std::string json;
    (void)google::protobuf::util::MessageToJsonString(report, &json);
    u.detail = json;
    const int64_t t0 = now_ns();
    if (auto r = cat.update_op(op.id, u); !r)
        throw op_failure("the catalog cannot record phase " + name + ": " + r.error().message);
    catalog_write_ns = std::max(catalog_write_ns, now_ns() - t0);  // the slowest write so far
    if (opt.fault == "crash-after=" + name) {
        say("fault injection: the controller crashes after recording phase " + name);
        _exit(70);
    }
}

void controller::impl::finish(const operation &op, op_state state, xp::OpReport &report)
{
    std::string json;
    (void)google::protobuf::util::MessageToJsonString(report, &json);
    (void)cat.finish_op(op.id, state, report.message(), json);
}

}  // namespace stasis::control
