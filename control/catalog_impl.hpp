// Shared by the catalog's sources: the exception-to-result boundary, the clock, and row readers.
#pragma once

#include <sqlite3.h>
#include <time.h>

#include <type_traits>
#include <utility>

#include "sqlite_db.hpp"
#include "stasis/control/catalog.hpp"
#include "stasis/realtime.hpp"

namespace stasis::control::detail {

// A broken rule found inside a catalog call; guard() turns it into the call's error.
struct failure {
    catalog_error error;
};

[[noreturn]] inline void fail(catalog_errc code, std::string message)
{
    throw failure{{code, std::move(message)}};
}

inline catalog_error from_sqlite(const sqlite::error &e)
{
    switch (e.primary()) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return {catalog_errc::busy, e.what()};
    case SQLITE_NOTADB:
        return {catalog_errc::not_catalog, e.what()};
    default:
        return {catalog_errc::sqlite, e.what()};
    }
}

// Runs `fn` and returns its value, or the failure or SQLite error it threw as a catalog_error.
template <class F>
auto guard(F &&fn) -> catalog_result<decltype(fn())>
{
    try {
        if constexpr (std::is_void_v<decltype(fn())>) {
            fn();
            return {};
        } else {
            return fn();
        }
    } catch (const failure &f) {
        return std::unexpected(f.error);
    } catch (const sqlite::error &e) {
        return std::unexpected(from_sqlite(e));
    }
}

inline int64_t now_ns()
{
    return realtime_ns();
}

// The text of a stored enum; an unknown one means a file from a newer Stasis or a damaged one.
template <class E>
E stored_enum(std::optional<E> v, const sqlite::database &db, std::string_view what, const std::string &text)
{
    if (!v)
        fail(catalog_errc::invalid, db.path() + ": unknown " + std::string(what) + " '" + text + "'");
    return *v;
}

// Column lists and readers: each SELECT of a record uses its list and its reader.
inline constexpr const char *checkpoint_columns =
    "c.id, c.experiment_id, c.name, c.parent_id, c.branch_id, b.name, c.state, c.freeze_ns, c.created_ns, "
    "c.ended_ns, c.message FROM checkpoints c JOIN branches b ON b.id = c.branch_id";
checkpoint read_checkpoint(const sqlite::statement &s, const sqlite::database &db);

inline constexpr const char *operation_columns =
    "id, experiment_id, kind, state, phase, checkpoint_id, owner_pid, owner_start_ticks, started_ns, "
    "ended_ns, message, detail FROM operations";
operation read_operation(const sqlite::statement &s, const sqlite::database &db);

// Lookups inside a call: each throws not_found (naming the file and the id) when there is none.
experiment find_experiment(sqlite::database &db, int64_t id);
std::optional<experiment> find_experiment(sqlite::database &db, std::string_view name);
checkpoint find_checkpoint(sqlite::database &db, int64_t id);
// The checkpoint, when it is a committed one of `e`; otherwise fails saying it cannot be the `role`.
checkpoint committed_of(sqlite::database &db, const experiment &e, int64_t checkpoint_id, std::string_view role);
// The next free PREFIX<N> among an experiment's names in `table` (c1, c2, ... or b1, b2, ...).
std::string next_name(sqlite::database &db, const char *table, int64_t experiment_id, char prefix);

}  // namespace stasis::control::detail
