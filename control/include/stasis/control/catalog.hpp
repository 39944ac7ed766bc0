// The checkpoint catalog: one embedded SQLite file with the experiments, their checkpoints as a tree
// of branches, the artifacts each checkpoint consists of, and a log of the controller's operations.
//
// Durability: the file is in WAL mode with synchronous=FULL, and every mutating call is one
// transaction (BEGIN IMMEDIATE ... COMMIT), so what a call recorded survives a crash of the controller
// or of the machine once the call returns. Reads see only committed data.
//
// Recovery: a controller records each operation (begin_op), moves it through its phases (set_phase,
// durable at once) and ends it (finish_op). A controller that starts after a crash finds the
// interrupted ones with unfinished_ops(); owner_alive() tells a crashed owner from a live one (pid
// and process start time); adopt_op() takes a dead owner's operation over atomically, so that of two
// recovering controllers only one wins; the caller then completes it or rolls it back
// (abort_checkpoint, finish_op with rolled_back). begin_op refuses while another live controller runs
// an operation on the same experiment, and the check and the insert are one transaction. It does
// not refuse while a crashed owner's operation is unfinished: the caller recovers it (or records a
// `recover` operation while it does), since only it knows what completing or rolling back means.
//
// Checkpoints are immutable once ended: artifacts are added while pending, commit makes the
// checkpoint the head, abort leaves the head alone; names (c1, c2, ...) are never reused, aborted
// ones included. ended_ns is when a checkpoint was committed or aborted.
//
// Versions: PRAGMA application_id marks the file as a Stasis catalog and PRAGMA user_version is the
// schema version. open() creates the schema in an empty file, and refuses (naming the file) a file
// that is not SQLite, an SQLite file of something else, or a newer schema.
//
// Errors: SQLite failures and broken rules come back as catalog_error, never as exceptions. A catalog
// is one connection, for one thread; do not use it in a child after fork(), open another.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "stasis/control/catalog_types.hpp"

namespace stasis::control {

namespace sqlite {
class database;
}

class catalog {
public:
    static constexpr int32_t application_id = 0x53544331;  // "STC1"
    static constexpr int32_t schema_version = 1;

    static catalog_result<catalog> open(const std::string &path);

    catalog(catalog &&) noexcept;
    catalog &operator=(catalog &&) noexcept;
    ~catalog();

    const std::string &path() const;

    // Experiments. ensure_experiment registers one with its `main` branch, or returns the one of that
    // name unchanged (compare file_text to notice an edited file).
    catalog_result<experiment> ensure_experiment(std::string_view name, std::string_view file_path,
                                                 std::string_view file_text);
    catalog_result<experiment> experiment_by_name(std::string_view name);
    catalog_result<experiment> experiment_by_id(int64_t id);
    catalog_result<std::vector<experiment>> experiments();
    catalog_result<void> set_state(int64_t experiment_id, experiment_state state);
    // The head must be a committed checkpoint of the experiment (or none).
    catalog_result<void> set_head(int64_t experiment_id, std::optional<int64_t> checkpoint_id);
    catalog_result<void> set_branch(int64_t experiment_id, int64_t branch_id);

    // Branches. start_branch records a branch based on a committed checkpoint and makes it current with
    // that checkpoint as head: what a swap-in of an older checkpoint or a time-travel does. An empty
    // name picks the next of b1, b2, ...
    catalog_result<branch> start_branch(int64_t experiment_id, int64_t base_checkpoint_id,
                                        std::string_view name = {});
    catalog_result<branch> branch_by_name(int64_t experiment_id, std::string_view name);
    catalog_result<std::vector<branch>> branches(int64_t experiment_id);

    // Checkpoints. begin_checkpoint records a pending one, child of the head on the current branch.
    // commit_checkpoint makes it committed and the experiment's head; abort_checkpoint marks it aborted
    // (head unchanged). Both refuse a checkpoint that is not pending.
    catalog_result<checkpoint> begin_checkpoint(int64_t experiment_id, int64_t freeze_ns,
                                                std::string_view message = {});
    catalog_result<checkpoint> commit_checkpoint(int64_t checkpoint_id);
    catalog_result<checkpoint> abort_checkpoint(int64_t checkpoint_id, std::string_view message);
    catalog_result<checkpoint> checkpoint_by_id(int64_t id);
    catalog_result<checkpoint> checkpoint_by_name(int64_t experiment_id, std::string_view name);
    catalog_result<std::vector<checkpoint>> checkpoints(int64_t experiment_id);  // by id

    // Artifacts, added to a pending checkpoint all at once or not at all.
    catalog_result<void> add_artifacts(int64_t checkpoint_id, std::span<const artifact> artifacts);
    catalog_result<std::vector<artifact>> artifacts(int64_t checkpoint_id);
    catalog_result<artifact_total> checkpoint_total(int64_t checkpoint_id);
    catalog_result<artifact_total> experiment_total(int64_t experiment_id);  // committed checkpoints

    // The operation log.
    catalog_result<operation> begin_op(const op_start &start);
    catalog_result<void> update_op(int64_t op_id, const op_update &update);  // running ops only
    catalog_result<void> set_phase(int64_t op_id, std::string_view phase);
    // `state` is done, rolled_back or failed.
    catalog_result<void> finish_op(int64_t op_id, op_state state, std::string_view message = {},
                                   std::optional<std::string> detail = {});
    // Makes `owner` the owner of a running operation whose recorded owner is dead.
    catalog_result<operation> adopt_op(int64_t op_id, const op_owner &owner = op_owner::self());
    catalog_result<operation> op_by_id(int64_t op_id);
    catalog_result<std::vector<operation>> unfinished_ops(std::optional<int64_t> experiment_id = {});
    catalog_result<std::vector<operation>> recent_ops(int64_t experiment_id, int limit = 20);  // newest first

private:
    explicit catalog(std::unique_ptr<sqlite::database> db);
    sqlite::database &db();

    std::unique_ptr<sqlite::database> _db;
};

// Everything `stasis checkpoints EXP` shows, read in one go.
struct experiment_tree {
    experiment exp;
    std::vector<branch> branches;
    std::vector<checkpoint> checkpoints;   // by id
    std::vector<artifact_total> totals;    // parallel to checkpoints
};

catalog_result<experiment_tree> load_tree(catalog &cat, std::string_view experiment_name);

struct tree_options {
    bool show_aborted = true;  // false hides aborted checkpoints (pending ones are always shown)
};

// A tree for a person: a header line, then one line per checkpoint (UTC freeze time, state, branch,
// artifacts), children under their parent, the head marked.
std::string render_tree_text(const experiment_tree &tree, const tree_options &options = {});
// The same data as one JSON object: experiment, branches, checkpoints (flat, each with its parent).
std::string render_tree_json(const experiment_tree &tree, const tree_options &options = {});

// "2026-11-22 10:00:01.123" (UTC) and "12.3 MiB", as the tree shows them.
std::string format_utc_ns(int64_t realtime_ns);
std::string format_bytes(int64_t bytes);
// s as a JSON string literal, quotes included.
std::string json_string(std::string_view s);

}  // namespace stasis::control
