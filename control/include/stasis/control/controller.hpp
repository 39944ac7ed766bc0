// The reference controller: coordinated checkpoint, swap-out, swap-in, thaw, time-travel and
// recovery of one experiment, over its agents' control sockets, recorded in the catalog.
//
// Checkpoint: probe every agent's clock (offset, round trip); refuse when the skew is over budget
// unless forced; F = now + lead; Prepare(F in each agent's clock); wait for every FROZEN event;
// Save; commit into the catalog; then resume everyone at one instant R (or stay frozen, or release
// for a swap-out). Any failure before the commit aborts: every reachable agent removes what it saved
// and resumes at one common R, so all survivors see the same pause and nothing they hold is lost.
//
// Every phase is recorded in the catalog before it starts; a controller that finds an operation
// whose owner died completes it (after the commit) or rolls it back (before), so agents end thawed
// or frozen-and-saved, never in between.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "stasis/control/catalog.hpp"
#include "stasis/control/experiment.hpp"
#include "stasis/experiment.pb.h"

namespace stasis::control {

struct controller_options {
    std::optional<uint32_t> lead_ms;  // overrides the experiment's lead (and the automatic one)
    bool force = false;               // checkpoint even when the skew is over budget
    std::string message;              // why (kept with the checkpoint)
    std::map<std::string, std::string> endpoints;  // agent name -> endpoint, for a swap-in elsewhere
    std::function<void(const std::string &)> progress;  // one line per step, for a person
    // While an agent works on a save or a load: a progress line this often.
    std::chrono::milliseconds still_working_every{5000};
    // Test hook: "crash-after=PHASE" makes the controller _exit(70) right after recording PHASE.
    std::string fault;
};

// What `stasis status` shows of one agent.
struct agent_status {
    std::string agent, endpoint, role;
    bool reachable = false;
    bool busy = false;       // working on a long request (working_on), or connected but not answering (hung)
    std::string working_on;  // the long request it is working on ("save"), as it says; empty: none
    int64_t working_since_ns = 0;  // since when (agent clock); the rest is the state as it began
    std::string error;       // why not
    std::string version;
    bool frozen = false;
    int64_t freeze_ns = 0;
    std::string checkpoint;  // the one it is frozen for
    bool saved = false;
    uint64_t held_packets = 0;
    int64_t offset_ns = 0, rtt_ns = 0;
    std::vector<std::pair<std::string, std::string>> lost;  // guest, why (a node agent's dead guests)
};

struct experiment_status {
    experiment exp;
    std::optional<checkpoint> head;
    std::vector<agent_status> agents;
    std::vector<operation> unfinished;
};

class controller {
public:
    // Opens the catalog named by the experiment (creating it) and registers the experiment.
    // Throws std::runtime_error naming the catalog when it cannot.
    controller(experiment_spec spec, controller_options options);
    ~controller();

    stasis::experiment::OpReport checkpoint(bool stay_frozen = false);
    stasis::experiment::OpReport swapout();
    stasis::experiment::OpReport swapin(const std::optional<std::string> &checkpoint_name);
    stasis::experiment::OpReport timetravel(const std::string &checkpoint_name);
    stasis::experiment::OpReport thaw();
    // Completes or rolls back every operation of this experiment whose controller died.
    std::vector<stasis::experiment::OpReport> recover();
    experiment_status status();

    catalog &cat();
    const experiment_spec &spec() const;

private:
    struct impl;
    std::unique_ptr<impl> _p;
};

// The report for a person: what happened, the phases with their durations, each agent's line.
std::string render_report(const stasis::experiment::OpReport &report);
std::string render_status(const experiment_status &status);
// The same as one JSON object (`stasis status --json`).
std::string render_status_json(const experiment_status &status);

}  // namespace stasis::control
