// The catalog's operation log, and who owns an operation: a live controller or a crashed one.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "catalog_impl.hpp"

namespace stasis::control {

using namespace detail;

namespace {

struct proc_stat {
    char state;           // R, S, D, Z (zombie), X (dead), ...
    int64_t start_ticks;  // field 22: start time after boot, in clock ticks
};

std::optional<proc_stat> read_proc_stat(int64_t pid)
{
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(in, line))
        return std::nullopt;
    // "PID (COMM) STATE ...": COMM may hold spaces and parentheses, so fields count from the last ')'.
    auto close = line.rfind(')');
    if (close == std::string::npos)
        return std::nullopt;
    std::istringstream fields(line.substr(close + 1));
    proc_stat st{};
    std::string skip;
    fields >> st.state;
    for (int field = 4; field < 22; ++field)
        fields >> skip;
    if (!(fields >> st.start_ticks))
        return std::nullopt;
    return st;
}

operation find_op(sqlite::database &db, int64_t id)
{
    auto s = db.prepare(std::string("SELECT ") + operation_columns + " WHERE id = ?1");
    if (!s.bind_all(id).step())
        fail(catalog_errc::not_found, db.path() + ": no operation with id " + std::to_string(id));
    return read_operation(s, db);
}

operation running_op(sqlite::database &db, int64_t id, std::string_view action)
{
    auto op = find_op(db, id);
    if (op.state != op_state::running)
        fail(catalog_errc::invalid, db.path() + ": cannot " + std::string(action) + " operation " +
                                        std::to_string(id) + ": it is " + std::string(to_string(op.state)));
    return op;
}

// Refuses when a live owner other than `except` runs an operation on the experiment.
void refuse_if_live(sqlite::database &db, const experiment &e, int64_t except)
{
    auto s = db.prepare(std::string("SELECT ") + operation_columns +
                        " WHERE experiment_id = ?1 AND state = 'running' AND id != ?2 ORDER BY id");
    s.bind_all(e.id, except);
    while (s.step()) {
        auto op = read_operation(s, db);
        if (owner_alive(op))
            fail(catalog_errc::op_running,
                 db.path() + ": experiment " + e.name + " is busy: operation " + std::to_string(op.id) + " (" +
                     std::string(to_string(op.kind)) + ", phase " + op.phase + ") has run in pid " +
                     std::to_string(op.owner.pid) + " since " + format_utc_ns(op.started_ns) + " UTC");
    }
}

void check_checkpoint_of(sqlite::database &db, int64_t experiment_id, std::optional<int64_t> checkpoint_id)
{
    if (checkpoint_id && find_checkpoint(db, *checkpoint_id).experiment_id != experiment_id)
        fail(catalog_errc::invalid, db.path() + ": checkpoint " + std::to_string(*checkpoint_id) +
                                        " is not one of experiment " + std::to_string(experiment_id));
}

std::vector<operation> all_ops(sqlite::statement s, const sqlite::database &db)
{
    std::vector<operation> ops;
    while (s.step())
        ops.push_back(read_operation(s, db));
    return ops;
}

}  // namespace

op_owner op_owner::self()
{
    auto st = read_proc_stat(getpid());
    return {getpid(), st ? st->start_ticks : 0};
}

bool owner_alive(const op_owner &owner)
{
    if (owner.pid <= 0)
        return false;
    if (kill(pid_t(owner.pid), 0) != 0 && errno == ESRCH)
        return false;
    auto st = read_proc_stat(owner.pid);
    if (!st)
        return false;  // gone between the two looks
    if (st->state == 'Z' || st->state == 'X')
        return false;  // exited, not yet reaped
    return owner.start_ticks == 0 || st->start_ticks == owner.start_ticks;
}

namespace detail {

operation read_operation(const sqlite::statement &s, const sqlite::database &db)
{
    return {s.int64(0),
            s.int64(1),
            stored_enum(parse_op_kind(s.text(2)), db, "operation kind", s.text(2)),
            stored_enum(parse_op_state(s.text(3)), db, "operation state", s.text(3)),
            s.text(4),
            s.opt_int64(5),
            {s.int64(6), s.int64(7)},
            s.int64(8),
            s.opt_int64(9),
            s.text(10),
            s.text(11)};
}

}  // namespace detail

catalog_result<operation> catalog::begin_op(const op_start &start)
{
    return guard([&] {
        sqlite::transaction tx(db());
        auto e = find_experiment(db(), start.experiment_id);
        refuse_if_live(db(), e, 0);
        check_checkpoint_of(db(), e.id, start.checkpoint_id);
        db().prepare("INSERT INTO operations (experiment_id, kind, state, phase, checkpoint_id, owner_pid, "
                     "owner_start_ticks, started_ns, detail) VALUES (?1, ?2, 'running', ?3, ?4, ?5, ?6, ?7, ?8)")
            .bind_all(e.id, to_string(start.kind), start.phase, start.checkpoint_id, start.owner.pid,
                      start.owner.start_ticks, now_ns(), start.detail)
            .run();
        int64_t id = db().last_insert_rowid();
        tx.commit();
        return find_op(db(), id);
    });
}

catalog_result<void> catalog::update_op(int64_t op_id, const op_update &u)
{
    return guard([&] {
        sqlite::transaction tx(db());
        auto op = running_op(db(), op_id, "update");
        check_checkpoint_of(db(), op.experiment_id, u.checkpoint_id);
        db().prepare("UPDATE operations SET phase = coalesce(?1, phase), checkpoint_id = coalesce(?2, checkpoint_id), "
                     "detail = coalesce(?3, detail), message = coalesce(?4, message) WHERE id = ?5")
            .bind_all(u.phase, u.checkpoint_id, u.detail, u.message, op.id)
            .run();
        tx.commit();
    });
}

catalog_result<void> catalog::set_phase(int64_t op_id, std::string_view phase)
{
    return update_op(op_id, {.phase = std::string(phase)});
}

catalog_result<void> catalog::finish_op(int64_t op_id, op_state state, std::string_view message,
                                        std::optional<std::string> detail)
{
    return guard([&] {
        if (state == op_state::running)
            fail(catalog_errc::invalid, path() + ": an operation finishes as done, rolled_back or failed");
        sqlite::transaction tx(db());
        auto op = running_op(db(), op_id, "finish");
        db().prepare("UPDATE operations SET state = ?1, ended_ns = ?2, "
                     "message = CASE WHEN ?3 = '' THEN message ELSE ?3 END, detail = coalesce(?4, detail) "
                     "WHERE id = ?5")
            .bind_all(to_string(state), now_ns(), message, detail, op.id)
            .run();
        tx.commit();
    });
}

catalog_result<operation> catalog::adopt_op(int64_t op_id, const op_owner &owner)
{
    return guard([&] {
        sqlite::transaction tx(db());
        auto op = running_op(db(), op_id, "adopt");
        auto e = find_experiment(db(), op.experiment_id);
        bool same = op.owner.pid == owner.pid && op.owner.start_ticks == owner.start_ticks;
        refuse_if_live(db(), e, same ? op.id : 0);  // op itself included unless it is already ours
        db().prepare("UPDATE operations SET owner_pid = ?1, owner_start_ticks = ?2 WHERE id = ?3")
            .bind_all(owner.pid, owner.start_ticks, op.id)
            .run();
        tx.commit();
        return find_op(db(), op.id);
    });
}

catalog_result<operation> catalog::op_by_id(int64_t op_id)
{
    return guard([&] { return find_op(db(), op_id); });
}

catalog_result<std::vector<operation>> catalog::unfinished_ops(std::optional<int64_t> experiment_id)
{
    return guard([&] {
        auto s = db().prepare(std::string("SELECT ") + operation_columns +
                              " WHERE state = 'running' AND (?1 IS NULL OR experiment_id = ?1) ORDER BY id");
        return all_ops(std::move(s.bind_all(experiment_id)), db());
    });
}

catalog_result<std::vector<operation>> catalog::recent_ops(int64_t experiment_id, int limit)
{
    return guard([&] {
        auto s = db().prepare(std::string("SELECT ") + operation_columns +
                              " WHERE experiment_id = ?1 ORDER BY id DESC LIMIT ?2");
        return all_ops(std::move(s.bind_all(experiment_id, limit)), db());
    });
}

}  // namespace stasis::control
