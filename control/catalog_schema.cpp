// Opening a catalog file: identity and version checks, the schema, the connection's pragmas.
#include <sqlite3.h>

#include <cstdio>

#include "catalog_impl.hpp"

namespace stasis::control {

using namespace detail;

namespace {

// Version 1. The CHECK lists are the enums' stored names: adding a state is a schema change.
constexpr const char *schema_v1 = R"sql(
CREATE TABLE experiments (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    file_path   TEXT NOT NULL,
    file_text   TEXT NOT NULL,
    state       TEXT NOT NULL
                CHECK (state IN ('registered', 'running', 'frozen', 'swapped_out', 'stopped')),
    branch_id   INTEGER REFERENCES branches(id),     -- the current branch (NULL only while registering)
    head_id     INTEGER REFERENCES checkpoints(id),  -- what the current run descends from
    created_ns  INTEGER NOT NULL
);
CREATE TABLE branches (
    id            INTEGER PRIMARY KEY,
    experiment_id INTEGER NOT NULL REFERENCES experiments(id),
    name          TEXT NOT NULL,
    base_id       INTEGER REFERENCES checkpoints(id),  -- NULL for main
    created_ns    INTEGER NOT NULL,
    UNIQUE (experiment_id, name)
);
CREATE TABLE checkpoints (
    id            INTEGER PRIMARY KEY,
    experiment_id INTEGER NOT NULL REFERENCES experiments(id),
    name          TEXT NOT NULL,
    parent_id     INTEGER REFERENCES checkpoints(id),
    branch_id     INTEGER NOT NULL REFERENCES branches(id),
    state         TEXT NOT NULL CHECK (state IN ('pending', 'committed', 'aborted')),
    freeze_ns     INTEGER NOT NULL,
    created_ns    INTEGER NOT NULL,
    ended_ns      INTEGER,
    message       TEXT NOT NULL DEFAULT '',
    UNIQUE (experiment_id, name)
);
CREATE INDEX checkpoints_parent ON checkpoints(parent_id);
CREATE TABLE artifacts (
    id            INTEGER PRIMARY KEY,
    checkpoint_id INTEGER NOT NULL REFERENCES checkpoints(id),
    agent         TEXT NOT NULL,
    kind          TEXT NOT NULL,
    host          TEXT NOT NULL,
    path          TEXT NOT NULL,
    size_bytes    INTEGER NOT NULL CHECK (size_bytes >= 0),
    checksum      TEXT NOT NULL
);
CREATE INDEX artifacts_checkpoint ON artifacts(checkpoint_id);
CREATE TABLE operations (
    id                INTEGER PRIMARY KEY,
    experiment_id     INTEGER NOT NULL REFERENCES experiments(id),
    kind              TEXT NOT NULL CHECK (kind IN
                      ('checkpoint', 'swapout', 'swapin', 'thaw', 'timetravel', 'abort', 'recover')),
    state             TEXT NOT NULL CHECK (state IN ('running', 'done', 'rolled_back', 'failed')),
    phase             TEXT NOT NULL,
    checkpoint_id     INTEGER REFERENCES checkpoints(id),
    owner_pid         INTEGER NOT NULL,
    owner_start_ticks INTEGER NOT NULL,
    started_ns        INTEGER NOT NULL,
    ended_ns          INTEGER,
    message           TEXT NOT NULL DEFAULT '',
    detail            TEXT NOT NULL DEFAULT ''
);
CREATE INDEX operations_running ON operations(experiment_id) WHERE state = 'running';
)sql";

std::string hex32(int64_t v)
{
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08x", unsigned(uint32_t(v)));
    return buf;
}

// Creates the schema in an empty file, or checks that the file is a catalog this version can use.
// Inside a write transaction, so that two controllers creating the same file do it once.
void create_or_check(sqlite::database &db)
{
    sqlite::transaction tx(db);
    int64_t app = db.query_int("PRAGMA application_id");
    int64_t version = db.query_int("PRAGMA user_version");
    int64_t tables = db.query_int("SELECT count(*) FROM sqlite_schema");
    if (app == 0 && version == 0 && tables == 0) {
        db.exec(schema_v1);
        db.exec("PRAGMA application_id = " + std::to_string(catalog::application_id));
        db.exec("PRAGMA user_version = " + std::to_string(catalog::schema_version));
        tx.commit();
        return;
    }
    if (app != catalog::application_id)
        fail(catalog_errc::not_catalog, db.path() + ": not a Stasis catalog (an SQLite database with " +
                                            std::to_string(tables) + " tables and application_id " +
                                            hex32(app) + ")");
    if (version > catalog::schema_version)
        fail(catalog_errc::newer_schema,
             db.path() + ": catalog schema version " + std::to_string(version) +
                 " is newer than this Stasis understands (" + std::to_string(catalog::schema_version) +
                 "); use a newer stasis");
    if (version < 1)
        fail(catalog_errc::not_catalog, db.path() + ": a Stasis catalog without a schema version");
    // Version 1 is the first: older versions to migrate will be handled here.
}

}  // namespace

catalog::catalog(std::unique_ptr<sqlite::database> db) : _db(std::move(db)) {}
catalog::catalog(catalog &&) noexcept = default;
catalog &catalog::operator=(catalog &&) noexcept = default;
catalog::~catalog() = default;

sqlite::database &catalog::db() { return *_db; }
const std::string &catalog::path() const { return _db->path(); }

catalog_result<catalog> catalog::open(const std::string &path)
{
    return guard([&] {
        auto db = std::make_unique<sqlite::database>(sqlite::database::open(
            path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW, 10'000));
        // Before the first write, so that a file of something else is left untouched.
        try {
            create_or_check(*db);
        } catch (const sqlite::error &e) {
            if (e.primary() != SQLITE_NOTADB)
                throw;
            fail(catalog_errc::not_catalog, path + ": not a Stasis catalog (not an SQLite database)");
        }
        auto s = db->prepare("PRAGMA journal_mode = WAL");
        if (!s.step() || s.text(0) != "wal")
            fail(catalog_errc::sqlite, path + ": cannot use a write-ahead log (journal mode " + s.text(0) + ")");
        db->exec("PRAGMA synchronous = FULL");
        db->exec("PRAGMA foreign_keys = ON");
        return catalog(std::move(db));
    });
}

}  // namespace stasis::control
