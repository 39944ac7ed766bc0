// The sqlite3 wrapper: every non-OK result code becomes an sqlite::error naming the file.
#include "sqlite_db.hpp"

#include <sqlite3.h>

#include <utility>

namespace stasis::control::sqlite {

database database::open(const std::string &path, int flags, int busy_timeout_ms)
{
    sqlite3 *db = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_EXRESCODE, nullptr);
    database d(db, path);  // closes the handle even when opening failed
    if (rc != SQLITE_OK)
        d.fail(rc, "cannot open");
    sqlite3_busy_timeout(db, busy_timeout_ms);
    return d;
}

database::database(database &&o) noexcept : _db(std::exchange(o._db, nullptr)), _path(std::move(o._path)) {}

database &database::operator=(database &&o) noexcept
{
    if (this != &o) {
        close();
        _db = std::exchange(o._db, nullptr);
        _path = std::move(o._path);
    }
    return *this;
}

database::~database() { close(); }

void database::close() noexcept
{
    // Statements and transactions never outlive a call, so nothing is left open here.
    if (_db)
        sqlite3_close_v2(_db);
    _db = nullptr;
}

void database::fail(int rc, std::string_view what) const
{
    std::string msg = _path + ": " + std::string(what) + ": ";
    const char *detail = _db ? sqlite3_errmsg(_db) : nullptr;
    msg += detail && sqlite3_extended_errcode(_db) == rc ? detail : sqlite3_errstr(rc);
    throw error(rc, msg);
}

void database::exec(std::string_view sql)
{
    std::string text(sql);
    int rc = sqlite3_exec(_db, text.c_str(), nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK)
        fail(sqlite3_extended_errcode(_db), "cannot run \"" + text.substr(0, 60) + "\"");
}

statement database::prepare(std::string_view sql)
{
    sqlite3_stmt *stmt = nullptr;
    int rc = sqlite3_prepare_v2(_db, sql.data(), int(sql.size()), &stmt, nullptr);
    if (rc != SQLITE_OK)
        fail(rc, "cannot prepare \"" + std::string(sql.substr(0, 60)) + "\"");
    return statement(stmt, this);
}

int64_t database::query_int(std::string_view sql)
{
    auto s = prepare(sql);
    return s.step() ? s.int64(0) : 0;
}

int64_t database::last_insert_rowid() const { return sqlite3_last_insert_rowid(_db); }
int database::changes() const { return sqlite3_changes(_db); }

statement::statement(statement &&o) noexcept : _stmt(std::exchange(o._stmt, nullptr)), _db(o._db) {}

statement &statement::operator=(statement &&o) noexcept
{
    if (this != &o) {
        sqlite3_finalize(_stmt);
        _stmt = std::exchange(o._stmt, nullptr);
        _db = o._db;
    }
    return *this;
}

statement::~statement() { sqlite3_finalize(_stmt); }

void statement::check_bind(int rc, int i)
{
    if (rc != SQLITE_OK)
        _db->fail(rc, "cannot bind parameter " + std::to_string(i) + " of \"" + sqlite3_sql(_stmt) + "\"");
}

statement &statement::bind(int i, int64_t v)
{
    check_bind(sqlite3_bind_int64(_stmt, i, v), i);
    return *this;
}

statement &statement::bind(int i, std::string_view v)
{
    // An empty view may have a null data(), which SQLite would store as NULL rather than ''.
    check_bind(sqlite3_bind_text64(_stmt, i, v.data() ? v.data() : "", v.size(), SQLITE_TRANSIENT, SQLITE_UTF8), i);
    return *this;
}

statement &statement::bind(int i, std::nullopt_t)
{
    check_bind(sqlite3_bind_null(_stmt, i), i);
    return *this;
}

bool statement::step()
{
    int rc = sqlite3_step(_stmt);
    if (rc == SQLITE_ROW)
        return true;
    if (rc == SQLITE_DONE)
        return false;
    std::string sql = sqlite3_sql(_stmt);
    _db->fail(rc, "cannot run \"" + sql.substr(0, 60) + "\"");
}

void statement::run()
{
    while (step()) {
    }
}

bool statement::is_null(int col) const { return sqlite3_column_type(_stmt, col) == SQLITE_NULL; }
int64_t statement::int64(int col) const { return sqlite3_column_int64(_stmt, col); }

std::optional<int64_t> statement::opt_int64(int col) const
{
    return is_null(col) ? std::nullopt : std::optional<int64_t>(int64(col));
}

std::string statement::text(int col) const
{
    auto *p = reinterpret_cast<const char *>(sqlite3_column_text(_stmt, col));
    return p ? std::string(p, size_t(sqlite3_column_bytes(_stmt, col))) : std::string();
}

transaction::transaction(database &db) : _db(db) { _db.exec("BEGIN IMMEDIATE"); }

transaction::~transaction()
{
    if (!_done) {
        try {
            _db.exec("ROLLBACK");
        } catch (const error &) {
            // SQLite already rolled back (after an I/O error or a full disk); nothing left to undo.
        }
    }
}

void transaction::commit()
{
    _db.exec("COMMIT");
    _done = true;
}

}  // namespace stasis::control::sqlite
