// The controller's commands over an experiment file: checkpoint, swapout, swapin, thaw, timetravel,
// status, checkpoints, recover.
#include <cstdio>
#include <cstdlib>

#include <google/protobuf/util/json_util.h>

#include "cli.hpp"
#include "stasis/control/controller.hpp"

namespace stasis::tools {
namespace {

namespace ctl = stasis::control;

struct experiment_args {
    std::string file;
    bool json = false;
    ctl::controller_options opt;
};

// EXP and the options every experiment command shares.
experiment_args take_experiment(args &words, bool operation)
{
    experiment_args e;
    e.json = words.flag("--json");
    if (operation) {
        if (auto ms = words.int_option("--lead", 1, 600'000))
            e.opt.lead_ms = uint32_t(*ms);
        e.opt.force = words.flag("--force");
        if (auto m = words.option("--message"))
            e.opt.message = *m;
    }
    if (const char *f = std::getenv("STASIS_FAULT"))
        e.opt.fault = f;
    if (!words.flag("--quiet"))
        e.opt.progress = [](const std::string &line) {
            std::fprintf(stderr, "%s\n", line.c_str());
            std::fflush(stderr);
        };
    return e;
}

std::string take_file(args &words)
{
    auto f = words.next();
    if (!f)
        throw usage_error("no experiment file (EXP)");
    return *f;
}

ctl::controller open(const std::string &file, experiment_args &e)
{
    try {
        return ctl::controller(ctl::load_experiment(file), e.opt);
    } catch (const std::exception &ex) {
        throw operation_error(ex.what());
    }
}

// Every operation first finishes what a controller that died left behind.
void recover_first(ctl::controller &c)
{
    for (const auto &r : c.recover())
        if (!r.ok())
            throw operation_error(r.message());
}

int report(const stasis::experiment::OpReport &r, bool json)
{
    if (json) {
        print_json(r);
    } else {
        std::fputs(ctl::render_report(r).c_str(), stdout);
    }
    return r.ok() ? 0 : 1;
}

template <class Run>
int operation(args &words, Run run, bool takes_map = false)
{
    experiment_args e = take_experiment(words, true);
    if (takes_map)
        while (auto m = words.option("--map")) {
            const auto eq = m->find('=');
            if (eq == std::string::npos || eq == 0 || eq + 1 == m->size())
                throw usage_error("--map wants AGENT=ENDPOINT, not '" + *m + "'");
            e.opt.endpoints[m->substr(0, eq)] = m->substr(eq + 1);
        }
    const std::string file = take_file(words);
    auto rest = words.rest();
    ctl::controller c = open(file, e);
    recover_first(c);
    try {
        return report(run(c, rest), e.json);
    } catch (const std::exception &ex) {  // refused before anything was done
        throw operation_error(ex.what());
    }
}

int run_checkpoint(context &, args &words)
{
    const bool stay = words.flag("--stay-frozen");
    return operation(words, [&](ctl::controller &c, std::vector<std::string> &rest) {
        if (!rest.empty())
            throw usage_error("unexpected '" + rest[0] + "'");
        return c.checkpoint(stay);
    });
}

int run_swapout(context &, args &words)
{
    return operation(words, [](ctl::controller &c, std::vector<std::string> &rest) {
        if (!rest.empty())
            throw usage_error("unexpected '" + rest[0] + "'");
        return c.swapout();
    });
}

int run_swapin(context &, args &words)
{
    return operation(
        words,
        [](ctl::controller &c, std::vector<std::string> &rest) {
            if (rest.size() > 1)
                throw usage_error("unexpected '" + rest[1] + "'");
            return c.swapin(rest.empty() ? std::nullopt : std::optional<std::string>(rest[0]));
        },
        true);
}

int run_timetravel(context &, args &words)
{
    return operation(words, [](ctl::controller &c, std::vector<std::string> &rest) {
        if (rest.size() != 1)
            throw usage_error("timetravel wants EXP and one CHECKPOINT");
        return c.timetravel(rest[0]);
    });
}


int run_recover(context &, args &words)
{
    experiment_args e = take_experiment(words, false);
    const std::string file = take_file(words);
    words.done();
    ctl::controller c = open(file, e);
    const auto reports = c.recover();
    int rc = 0;
    for (const auto &r : reports)
        rc = std::max(rc, report(r, e.json));
    if (reports.empty() && !e.json)
        std::printf("nothing to recover\n");
    return rc;
}

int run_status(context &, args &words)
{
    experiment_args e = take_experiment(words, false);
    const std::string file = take_file(words);
    words.done();
    ctl::controller c = open(file, e);
    const auto st = c.status();
    if (e.json) {
        std::puts(ctl::render_status_json(st).c_str());
    } else {
        std::fputs(ctl::render_status(st).c_str(), stdout);
    }
    return 0;
}

int run_checkpoints(context &, args &words)
{
    experiment_args e = take_experiment(words, false);
    const bool hide_aborted = words.flag("--committed");
    const std::string file = take_file(words);
    words.done();
    ctl::controller c = open(file, e);
    auto tree = ctl::load_tree(c.cat(), c.spec().msg.name());
    if (!tree)
        throw operation_error(tree.error().message);
    ctl::tree_options o;
    o.show_aborted = !hide_aborted;
    std::fputs((e.json ? ctl::render_tree_json(*tree, o) + "\n" : ctl::render_tree_text(*tree, o)).c_str(), stdout);
    return 0;
}

}  // namespace

// `stasis thaw EXP`: `stasis thaw` given an experiment file (a positional word once the options
// are taken). Returns -1, taking nothing, when it is an agent's thaw instead.
int run_thaw_experiment(args &words)
{
    args mine = words;
    if (mine.option("--at") || mine.option("--in"))  // an agent's thaw at an instant
        return -1;
    experiment_args e = take_experiment(mine, true);
    auto file = mine.next();
    if (!file)
        return -1;
    mine.done();
    words = mine;
    ctl::controller c = open(*file, e);
    recover_first(c);
    try {
        return report(c.thaw(), e.json);
    } catch (const std::exception &ex) {
        throw operation_error(ex.what());
    }
}

namespace {

constexpr const char *exp_help =
    "EXP is an experiment file (docs/CONTROLLER.md): its agents, their endpoints and keys, where they\n"
    "save, the catalog, and the checkpoint's budgets.\n";

constexpr const char *status_help =
    "EXP is an experiment file (docs/CONTROLLER.md).\n"
    "\n"
    "Prints the experiment's state, branch and head, any unfinished operation, and one line an agent:\n"
    "its role, endpoint, state, checkpoint, clock offset and round trip, and the frames it holds.\n"
    "Agent states:\n"
    "  running      not frozen\n"
    "  frozen       frozen (for the checkpoint shown), not saved yet\n"
    "  saved        frozen and saved (or loaded from a snapshot)\n"
    "  saving, loading, releasing\n"
    "               working on that long request; its state as it began is on a line below, with\n"
    "               how long it has been at it\n"
    "  busy         connected but not answering: hung, or an agent from before the answers above\n"
    "  down         nothing answers the connection (the error says why)\n"
    "  released     swapped out: its daemon is gone\n"
    "Options:\n"
    "  --json  one JSON document (agents[]: reachable, busy, working_on, working_since_ns, frozen,\n"
    "          saved, checkpoint, offset_ns, rtt_ns, held_packets, lost[], error)\n";

}  // namespace

#define STASIS_OP_OPTIONS                                                                            \
    "  --lead MS      F (or R) this long after the instant it is chosen (default: the experiment's,\n" \
    "                 else automatic from the probed round trips and skew)\n"                         \
    "  --force        go on when the clock skew is over the experiment's budget\n"                    \
    "  --message TEXT kept with the checkpoint in the catalog\n"                                       \
    "  --json         the report as JSON on stdout\n"                                                  \
    "  --quiet        no progress lines on stderr\n"

const command checkpoint_command = {
    .name = "checkpoint",
    .summary = "Checkpoint a whole experiment at one instant F, then resume it.",
    .synopsis = "EXP [--stay-frozen] [--lead MS] [--force] [--message TEXT] [--json]",
    .help = "Probes every agent's clock, chooses F = now + lead, prepares every agent to freeze at F,\n"
            "waits until each has frozen, saves each agent's state, commits the checkpoint into the\n"
            "catalog, then resumes everyone at one instant R. Any failure before the commit aborts:\n"
            "every reachable agent drops what it saved and resumes at one common instant.\n"
            "  --stay-frozen  leave the experiment frozen after the commit (stasis thaw resumes it)\n" STASIS_OP_OPTIONS,
    .run = run_checkpoint,
};

const command swapout_command = {
    .name = "swapout",
    .summary = "Checkpoint an experiment, then release its agents (stateful swap-out).",
    .synopsis = "EXP [--lead MS] [--force] [--message TEXT] [--json]",
    .help = "A checkpoint that stays frozen, then every agent drops the experiment and frees what it\n"
            "held (a delay node's daemon exits). `stasis swapin EXP` brings it back.\n" STASIS_OP_OPTIONS,
    .run = run_swapout,
};

const command swapin_command = {
    .name = "swapin",
    .summary = "Restore a swapped-out experiment from a checkpoint and resume it at one instant.",
    .synopsis = "EXP [CHECKPOINT] [--map AGENT=ENDPOINT ...] [--lead MS] [--json]",
    .help = "Loads every agent's part of CHECKPOINT (default: the head, where it was swapped out) and\n"
            "resumes all of them at one instant R. Restoring an older checkpoint starts a new branch.\n"
            "  --map AGENT=ENDPOINT  the agent runs elsewhere now (another host or other ports);\n"
            "                        repeat for each moved agent\n" STASIS_OP_OPTIONS,
    .run = run_swapin,
};

const command timetravel_command = {
    .name = "timetravel",
    .summary = "Go back to an earlier checkpoint of a running experiment, as a new branch.",
    .synopsis = "EXP CHECKPOINT [--lead MS] [--json]",
    .help = "Freezes the experiment at one instant, loads CHECKPOINT into every agent and resumes them\n"
            "at one instant, on a new branch of the checkpoint tree. The present since the last\n"
            "checkpoint is dropped: checkpoint first to keep it.\n" STASIS_OP_OPTIONS,
    .run = run_timetravel,
};

const command status_command = {
    .name = "status",
    .summary = "The experiment as the catalog and its agents see it.",
    .synopsis = "EXP [--json]",
    .help = status_help,
    .run = run_status,
};

const command checkpoints_command = {
    .name = "checkpoints",
    .summary = "The experiment's checkpoint tree: branches, states, sizes, the head.",
    .synopsis = "EXP [--committed] [--json]",
    .help = "  --committed  hide aborted checkpoints\n",
    .run = run_checkpoints,
};

const command recover_command = {
    .name = "recover",
    .summary = "Complete or roll back an operation whose controller died (every command does this first).",
    .synopsis = "EXP [--json]",
    .help = exp_help,
    .run = run_recover,
};

}  // namespace stasis::tools
