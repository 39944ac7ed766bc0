// A thin RAII wrapper of the sqlite3 C API: a connection, a prepared statement and a transaction.
//
// Every failure throws sqlite::error, whose text names the database file, what was being done and
// SQLite's own message. The catalog catches it at its public boundary and returns a typed result, so
// exceptions never cross into the controller.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace stasis::control::sqlite {

class error : public std::runtime_error {
public:
    error(int code, const std::string &message) : std::runtime_error(message), _code(code) {}
    int code() const noexcept { return _code; }  // the extended SQLite result code
    int primary() const noexcept { return _code & 0xff; }

private:
    int _code;
};

class statement;

class database {
public:
    // Opens (flags are SQLITE_OPEN_*) or throws naming the file.
    static database open(const std::string &path, int flags, int busy_timeout_ms);

    database(database &&o) noexcept;
    database &operator=(database &&o) noexcept;
    database(const database &) = delete;
    database &operator=(const database &) = delete;
    ~database();

    // Runs one or more statements that return no rows.
    void exec(std::string_view sql);
    statement prepare(std::string_view sql);
    // The first column of the first row of a query, as an integer (for PRAGMAs and counts).
    int64_t query_int(std::string_view sql);

    int64_t last_insert_rowid() const;
    int changes() const;
    const std::string &path() const noexcept { return _path; }

    // Throws "PATH: WHAT: sqlite message".
    [[noreturn]] void fail(int rc, std::string_view what) const;

private:
    database(sqlite3 *db, std::string path) noexcept : _db(db), _path(std::move(path)) {}
    void close() noexcept;

    sqlite3 *_db = nullptr;
    std::string _path;
};

class statement {
public:
    statement(statement &&o) noexcept;
    statement &operator=(statement &&o) noexcept;
    statement(const statement &) = delete;
    statement &operator=(const statement &) = delete;
    ~statement();

    // Parameters are numbered from 1, as in SQL's ?1, ?2 ...
    statement &bind(int i, int64_t v);
    statement &bind(int i, int v) { return bind(i, int64_t{v}); }
    statement &bind(int i, std::string_view v);
    statement &bind(int i, const std::string &v) { return bind(i, std::string_view(v)); }
    statement &bind(int i, const char *v) { return bind(i, std::string_view(v)); }
    statement &bind(int i, std::nullopt_t);
    template <class T>
    statement &bind(int i, const std::optional<T> &v)
    {
        return v ? bind(i, *v) : bind(i, std::nullopt);
    }
    // Binds every argument in order, from ?1.
    template <class... Args>
    statement &bind_all(const Args &...args)
    {
        int i = 0;
        (bind(++i, args), ...);
        return *this;
    }

    // True when a row is ready to read, false when the statement is done.
    bool step();
    // Steps to the end; for statements that return no rows.
    void run();

    bool is_null(int col) const;
    int64_t int64(int col) const;
    std::optional<int64_t> opt_int64(int col) const;
    std::string text(int col) const;

private:
    friend class database;
    statement(sqlite3_stmt *stmt, const database *db) noexcept : _stmt(stmt), _db(db) {}
    void check_bind(int rc, int i);

    sqlite3_stmt *_stmt = nullptr;
    const database *_db = nullptr;
};

// BEGIN IMMEDIATE (takes the write lock at once, so read-then-write is atomic between controllers);
// rolled back by the destructor unless commit() returned.
class transaction {
public:
    explicit transaction(database &db);
    ~transaction();
    transaction(const transaction &) = delete;
    transaction &operator=(const transaction &) = delete;

    void commit();

private:
    database &_db;
    bool _done = false;
};

}  // namespace stasis::control::sqlite
