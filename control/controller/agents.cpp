// The controller's agents: connections, parallel calls, clock probes, and the shared steps of every
// operation (freeze at F, resume at R, abort).
#include <algorithm>
#include <thread>

#include "controller_impl.hpp"
#include "controller_keys.hpp"
#include "stasis/realtime.hpp"

namespace stasis::control {

int64_t now_ns()
{
    return realtime_ns();
}

std::string ms_text(int64_t ns)
{
    char b[32];
    snprintf(b, sizeof b, "%.3f ms", double(ns) / 1e6);
    return b;
}

std::string us_text(int64_t ns)
{
    char b[32];
    snprintf(b, sizeof b, "%.0f us", double(ns) / 1e3);
    return b;
}

std::vector<agent_conn> controller::impl::connect(xp::OpReport &report, bool subscribe)
{
    std::vector<agent_conn> out;
    for (const auto &a : x().agent()) {
        auto &c = out.emplace_back();
        c.spec = &a;
        c.report = report.add_agents();
        c.report->set_agent(a.name());
        auto mapped = opt.endpoints.find(a.name());
        c.report->set_endpoint(mapped != opt.endpoints.end() ? mapped->second : a.endpoint());
        try {  // a malformed endpoint, an unreadable key: the operation fails, cleanly
            c.client = std::make_unique<agent_client>(ctx, c.report->endpoint(), client_options_for(x(), a));
        } catch (const std::exception &e) {
            throw op_failure("agent " + a.name() + ": " + e.what());
        }
    }
    if (subscribe) {
        Request sub;
        sub.mutable_subscribe();
        auto failed = each(out, [&](agent_conn &c) { return call(c, sub); });
        if (!failed.empty())
            throw op_failure(failed.front());
        say("connect: " + std::to_string(out.size()) + " agent(s) answer and push their events");
    }
    return out;
}

std::vector<std::string> controller::impl::each(std::vector<agent_conn> &agents,
                                                const std::function<std::string(agent_conn &)> &fn)
{
    std::vector<std::string> errors(agents.size());
    {
        std::vector<std::jthread> threads;
        for (size_t i = 0; i < agents.size(); i++)
            if (agents[i].ok)
                threads.emplace_back([&, i] { errors[i] = fn(agents[i]); });
    }
    std::vector<std::string> failed;
    for (size_t i = 0; i < agents.size(); i++) {
        if (errors[i].empty())
            continue;
        agents[i].ok = false;
        agents[i].report->set_error(errors[i]);
        if (agents[i].report->state() != "unreachable")
            agents[i].report->set_state("failed");
        failed.push_back(errors[i]);
    }
    return failed;
}

std::string controller::impl::call(agent_conn &a, const Request &req, Reply *out)
{
    return answer(a, a.client->call(req, timeout(), int(x().tries())), out);
}

std::string controller::impl::call_long(agent_conn &a, const Request &req, const char *doing, Reply *out)
{
    long_call how;
    how.patience = std::chrono::milliseconds(x().long_timeout_ms());
    how.timeout = timeout();
    how.tries = int(x().tries());
    how.progress_every = opt.still_working_every;
    how.waiting = [&](std::chrono::milliseconds waited) {
        say(a.spec->name() + ": still " + doing + " after " + std::to_string(waited.count() / 1000) + " s");
    };
    return answer(a, a.client->call_long(req, how), out);
}

std::string controller::impl::answer(agent_conn &a, call_result r, Reply *out)
{
    if (!r) {
        if (r.error().what == call_error::kind::timeout)
            a.report->set_state("unreachable");
        return a.spec->name() + ": " + r.error().message;
    }
    if (r->status() != OK)
        return a.spec->name() + " (" + a.report->endpoint() + "): " + Status_Name(r->status()) + ": " + r->message();
    if (out)
        *out = std::move(*r);
    return {};
}

}  // namespace stasis::control
