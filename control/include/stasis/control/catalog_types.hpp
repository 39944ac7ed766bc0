// The records of the checkpoint catalog (experiments, branches, checkpoints, artifacts, operations),
// their states as typed enums with their stored names, and the catalog's error type.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

namespace stasis::control {

enum class catalog_errc {
    sqlite,        // SQLite failed (I/O, full disk, corruption): the message has SQLite's words
    busy,          // another process held the write lock past the busy timeout
    not_catalog,   // the file is not an SQLite database, or one that is not a Stasis catalog
    newer_schema,  // written by a newer Stasis: this one refuses to touch it
    not_found,     // no such experiment, branch, checkpoint or operation
    exists,        // a name already taken (branch)
    invalid,       // a rule broken: wrong state for the call, a record of another experiment
    op_running,    // a live controller is running an operation on the experiment
};

struct catalog_error {
    catalog_errc code;
    std::string message;  // complete, for a person: names the file or the record

    const char *what() const noexcept { return message.c_str(); }
};

template <class T>
using catalog_result = std::expected<T, catalog_error>;

enum class experiment_state : uint8_t { registered, running, frozen, swapped_out, stopped };
enum class checkpoint_state : uint8_t { pending, committed, aborted };
enum class op_kind : uint8_t { checkpoint, swapout, swapin, thaw, timetravel, abort, recover };
enum class op_state : uint8_t { running, done, rolled_back, failed };

// The names stored in the file ("swapped_out", "rolled_back", ...); parse_* is the inverse.
std::string_view to_string(experiment_state s);
std::string_view to_string(checkpoint_state s);
std::string_view to_string(op_kind k);
std::string_view to_string(op_state s);
std::optional<experiment_state> parse_experiment_state(std::string_view s);
std::optional<checkpoint_state> parse_checkpoint_state(std::string_view s);
std::optional<op_kind> parse_op_kind(std::string_view s);
std::optional<op_state> parse_op_state(std::string_view s);

struct experiment {
    int64_t id = 0;
    std::string name;
    std::string file_path;  // as given at registration
    std::string file_text;  // the experiment file's text at registration
    experiment_state state = experiment_state::registered;
    int64_t branch_id = 0;          // the current branch
    std::string branch;             // its name
    std::optional<int64_t> head_id; // the checkpoint the current run descends from
    int64_t created_ns = 0;
};

// A line of descent. `main` starts with the experiment; each restore of an older checkpoint starts
// another whose base is that checkpoint.
struct branch {
    int64_t id = 0;
    int64_t experiment_id = 0;
    std::string name;
    std::optional<int64_t> base_id;  // none for main
    int64_t created_ns = 0;
};

struct checkpoint {
    int64_t id = 0;
    int64_t experiment_id = 0;
    std::string name;                  // c1, c2, ... unique in the experiment, never reused
    std::optional<int64_t> parent_id;  // the head when it was begun
    int64_t branch_id = 0;
    std::string branch;
    checkpoint_state state = checkpoint_state::pending;
    int64_t freeze_ns = 0;                  // F, CLOCK_REALTIME
    int64_t created_ns = 0;                 // when it was begun
    std::optional<int64_t> ended_ns;        // when it was committed or aborted
    std::string message;                    // why it was taken; why it was aborted
};

// A file a checkpoint consists of. id and checkpoint_id are set by the catalog.
struct artifact {
    std::string agent;  // the agent that wrote it
    std::string kind;   // link-snapshot, guest-memory, disk, ...
    std::string host;
    std::string path;
    int64_t size_bytes = 0;
    std::string checksum;  // as the agent reported it, e.g. "crc32c:1a2b3c4d"
    int64_t id = 0;
    int64_t checkpoint_id = 0;
};

struct artifact_total {
    int64_t count = 0;
    int64_t size_bytes = 0;
};

// Who runs an operation: a pid and the process's start time in clock ticks since boot (field 22 of
// /proc/PID/stat), so that a reused pid is not mistaken for the controller that crashed.
struct op_owner {
    int64_t pid = 0;
    int64_t start_ticks = 0;

    static op_owner self();
};

// True when the owner's process still runs: it exists, is not a zombie, and started when recorded.
// The catalog is local to one host (SQLite's WAL needs shared memory), so a pid means this host's.
bool owner_alive(const op_owner &owner);

struct operation {
    int64_t id = 0;
    int64_t experiment_id = 0;
    op_kind kind = op_kind::checkpoint;
    op_state state = op_state::running;
    std::string phase;  // free text: probe, prepare, frozen, saved, committed, released, ...
    std::optional<int64_t> checkpoint_id;
    op_owner owner;
    int64_t started_ns = 0;
    std::optional<int64_t> ended_ns;
    std::string message;  // for a person, mostly why it failed or was rolled back
    std::string detail;   // free-form for the controller (JSON: F, R, per-agent state, timings)
};

inline bool owner_alive(const operation &op) { return owner_alive(op.owner); }

struct op_start {
    int64_t experiment_id = 0;
    op_kind kind = op_kind::checkpoint;
    std::string phase = "begin";
    std::optional<int64_t> checkpoint_id = {};
    std::string detail = {};
    op_owner owner = op_owner::self();  // tests may record another process
};

// Fields to change on a running operation; unset ones stay.
struct op_update {
    std::optional<std::string> phase = {};
    std::optional<int64_t> checkpoint_id = {};
    std::optional<std::string> detail = {};
    std::optional<std::string> message = {};
};

}  // namespace stasis::control
