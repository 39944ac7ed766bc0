// The controller tests' fixture: fake protocol agents, an experiment file naming them, a catalog in a
// temporary directory, and what to look up in the reports and the agents' request logs.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "catalog_testing.hpp"
#include "fake_protocol_agent.hpp"
#include "stasis/control/controller.hpp"

namespace stasis::control::testing {

namespace xp = stasis::experiment;

constexpr int64_t ms_ns = 1'000'000;

struct budgets {
    uint32_t skew_budget_us = 10'000;  // room for the offsets the tests give the agents
    uint32_t timeout_ms = 500;
    uint32_t tries = 2;
    uint32_t long_timeout_ms = 10'000;  // save and load
    uint32_t probes = 4;
    // F and R are chosen this far ahead: the default 20 ms is too short for three fsynced catalog
    // writes and a Prepare on a loaded shared test machine.
    uint32_t min_lead_ms = 60;
};

class ControllerFixture : public ::testing::Test {
protected:
    temp_dir dir;
    std::vector<std::unique_ptr<fake_protocol_agent>> agents;
    budgets budget;

    fake_protocol_agent &add_agent(const std::string &name, int64_t offset_ns = 0)
    {
        return *agents.emplace_back(std::make_unique<fake_protocol_agent>(
            fake_protocol_agent::options{.name = name, .offset_ns = offset_ns}));
    }

    // The experiment file: the agents in the order added, at their endpoints.
    std::string text() const
    {
        std::string t = "name: \"demo\"\ncatalog: \"catalog.db\"\n";
        for (const auto &a : agents)
            t += "agent { name: \"" + a->name() + "\" endpoint: \"" + a->endpoint() + "\" snapshot_dir: \"snaps\" }\n";
        t += "skew_budget_us: " + std::to_string(budget.skew_budget_us) + "\ntimeout_ms: " +
             std::to_string(budget.timeout_ms) + "\ntries: " + std::to_string(budget.tries) +
             "\nlong_timeout_ms: " + std::to_string(budget.long_timeout_ms) +
             "\nprobes: " + std::to_string(budget.probes) + "\nmin_lead_ms: " + std::to_string(budget.min_lead_ms) +
             "\n";
        return t;
    }
    experiment_spec spec() const { return parse_experiment(text(), dir.file("demo.exp")); }

    std::unique_ptr<controller> make(controller_options o = controller_options())
    {
        return std::make_unique<controller>(spec(), std::move(o));
    }
    static controller_options forced()
    {
        controller_options o;
        o.force = true;
        return o;
    }
    static controller_options mapped(std::map<std::string, std::string> endpoints)
    {
        controller_options o;
        o.endpoints = std::move(endpoints);
        return o;
    }

    // A fresh agent for each one of `agents` (same name), at another endpoint: a swap-in's --map.
    std::map<std::string, std::string> replace_agents(std::vector<std::unique_ptr<fake_protocol_agent>> &fresh,
                                                      int64_t offset_ns = 0)
    {
        std::map<std::string, std::string> map;
        for (const auto &a : agents) {
            auto &f = *fresh.emplace_back(std::make_unique<fake_protocol_agent>(
                fake_protocol_agent::options{.name = a->name(), .offset_ns = offset_ns}));
            map[a->name()] = f.endpoint();
        }
        return map;
    }

    std::string artifact(const std::string &agent, const std::string &checkpoint) const
    {
        const auto s = spec();
        for (const auto &a : s.msg.agent())
            if (a.name() == agent)
                return artifact_path(s.msg, a, checkpoint);
        return {};
    }

    static experiment exp_of(controller &c) { return must(c.cat().experiment_by_name("demo")); }
    static checkpoint ckpt_of(controller &c, const std::string &name)
    {
        return must(c.cat().checkpoint_by_name(exp_of(c).id, name));
    }
    static operation last_op(controller &c) { return must(c.cat().recent_ops(exp_of(c).id, 1)).at(0); }
};

// An agent's line in a report.
inline const xp::AgentReport &line(const xp::OpReport &r, const std::string &agent)
{
    for (const auto &a : r.agents())
        if (a.agent() == agent)
            return a;
    throw std::runtime_error("the report has no line for agent " + agent);
}

inline std::vector<std::string> phases(const xp::OpReport &r)
{
    std::vector<std::string> out;
    for (const auto &p : r.phases())
        out.push_back(p.name());
    return out;
}

inline bool contains(const std::string &haystack, const std::string &needle)
{
    return haystack.find(needle) != std::string::npos;
}

}  // namespace stasis::control::testing
