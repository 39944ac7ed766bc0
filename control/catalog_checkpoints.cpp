// The catalog's checkpoints (pending, committed, aborted) and the artifacts they consist of.
#include "catalog_impl.hpp"

namespace stasis::control {

using namespace detail;

namespace {

std::string describe(const checkpoint &c) { return c.name + " (id " + std::to_string(c.id) + ")"; }

// The pending checkpoint `id`, or invalid naming its state.
checkpoint pending(sqlite::database &db, int64_t id, std::string_view action)
{
    auto c = find_checkpoint(db, id);
    if (c.state != checkpoint_state::pending)
        fail(catalog_errc::invalid, db.path() + ": cannot " + std::string(action) + " checkpoint " + describe(c) +
                                        ": it is " + std::string(to_string(c.state)) + ", not pending");
    return c;
}

constexpr const char *artifact_columns =
    "agent, kind, host, path, size_bytes, checksum, id, checkpoint_id FROM artifacts";

}  // namespace

namespace detail {

checkpoint read_checkpoint(const sqlite::statement &s, const sqlite::database &db)
{
    return {s.int64(0),     s.int64(1),     s.text(2),
            s.opt_int64(3), s.int64(4),     s.text(5),
            stored_enum(parse_checkpoint_state(s.text(6)), db, "checkpoint state", s.text(6)),
            s.int64(7),     s.int64(8),     s.opt_int64(9),
            s.text(10)};
}

checkpoint find_checkpoint(sqlite::database &db, int64_t id)
{
    auto s = db.prepare(std::string("SELECT ") + checkpoint_columns + " WHERE c.id = ?1");
    if (!s.bind_all(id).step())
        fail(catalog_errc::not_found, db.path() + ": no checkpoint with id " + std::to_string(id));
    return read_checkpoint(s, db);
}

checkpoint committed_of(sqlite::database &db, const experiment &e, int64_t checkpoint_id, std::string_view role)
{
    auto c = find_checkpoint(db, checkpoint_id);
    if (c.experiment_id != e.id)
        fail(catalog_errc::invalid, db.path() + ": checkpoint " + describe(c) + " is not one of experiment " + e.name);
    if (c.state != checkpoint_state::committed)
        fail(catalog_errc::invalid, db.path() + ": checkpoint " + describe(c) + " is " +
                                        std::string(to_string(c.state)) + ", it cannot be the " + std::string(role));
    return c;
}

}  // namespace detail

catalog_result<checkpoint> catalog::begin_checkpoint(int64_t experiment_id, int64_t freeze_ns,
                                                     std::string_view message)
{
    return guard([&] {
        sqlite::transaction tx(db());
        auto e = find_experiment(db(), experiment_id);
        db().prepare("INSERT INTO checkpoints (experiment_id, name, parent_id, branch_id, state, freeze_ns, "
                     "created_ns, message) VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?6, ?7)")
            .bind_all(e.id, next_name(db(), "checkpoints", e.id, 'c'), e.head_id, e.branch_id, freeze_ns, now_ns(),
                      message)
            .run();
        int64_t id = db().last_insert_rowid();
        tx.commit();
        return find_checkpoint(db(), id);
    });
}

catalog_result<checkpoint> catalog::commit_checkpoint(int64_t checkpoint_id)
{
    return guard([&] {
        sqlite::transaction tx(db());
        auto c = pending(db(), checkpoint_id, "commit");
        db().prepare("UPDATE checkpoints SET state = 'committed', ended_ns = ?1 WHERE id = ?2")
            .bind_all(now_ns(), c.id)
            .run();
        db().prepare("UPDATE experiments SET head_id = ?1 WHERE id = ?2").bind_all(c.id, c.experiment_id).run();
        tx.commit();
        return find_checkpoint(db(), c.id);
    });
}

catalog_result<checkpoint> catalog::abort_checkpoint(int64_t checkpoint_id, std::string_view message)
{
    return guard([&] {
        sqlite::transaction tx(db());
        auto c = pending(db(), checkpoint_id, "abort");
        db().prepare("UPDATE checkpoints SET state = 'aborted', ended_ns = ?1, "
                     "message = CASE WHEN ?2 = '' THEN message ELSE ?2 END WHERE id = ?3")
            .bind_all(now_ns(), message, c.id)
            .run();
        tx.commit();
        return find_checkpoint(db(), c.id);
    });
}

catalog_result<checkpoint> catalog::checkpoint_by_id(int64_t id)
{
    return guard([&] { return find_checkpoint(db(), id); });
}

catalog_result<checkpoint> catalog::checkpoint_by_name(int64_t experiment_id, std::string_view name)
{
    return guard([&] {
        auto s = db().prepare(std::string("SELECT ") + checkpoint_columns +
                              " WHERE c.experiment_id = ?1 AND c.name = ?2");
        if (!s.bind_all(experiment_id, name).step())
            fail(catalog_errc::not_found, path() + ": no checkpoint '" + std::string(name) + "' in experiment " +
                                              find_experiment(db(), experiment_id).name);
        return read_checkpoint(s, db());
    });
}

catalog_result<std::vector<checkpoint>> catalog::checkpoints(int64_t experiment_id)
{
    return guard([&] {
        std::vector<checkpoint> all;
        auto s = db().prepare(std::string("SELECT ") + checkpoint_columns +
                              " WHERE c.experiment_id = ?1 ORDER BY c.id");
        s.bind_all(experiment_id);
        while (s.step())
            all.push_back(read_checkpoint(s, db()));
        return all;
    });
}

catalog_result<void> catalog::add_artifacts(int64_t checkpoint_id, std::span<const artifact> artifacts)
{
    return guard([&] {
        sqlite::transaction tx(db());
        auto c = pending(db(), checkpoint_id, "add artifacts to");
        for (const auto &a : artifacts) {
            if (a.path.empty() || a.size_bytes < 0)
                fail(catalog_errc::invalid, path() + ": artifact of " + a.agent + " for checkpoint " + c.name +
                                                " needs a path and a size of 0 or more bytes");
            db().prepare("INSERT INTO artifacts (checkpoint_id, agent, kind, host, path, size_bytes, checksum) "
                         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
                .bind_all(c.id, a.agent, a.kind, a.host, a.path, a.size_bytes, a.checksum)
                .run();
        }
        tx.commit();
    });
}

catalog_result<std::vector<artifact>> catalog::artifacts(int64_t checkpoint_id)
{
    return guard([&] {
        find_checkpoint(db(), checkpoint_id);
        std::vector<artifact> all;
        auto s = db().prepare(std::string("SELECT ") + artifact_columns + " WHERE checkpoint_id = ?1 ORDER BY id");
        s.bind_all(checkpoint_id);
        while (s.step())
            all.push_back({s.text(0), s.text(1), s.text(2), s.text(3), s.int64(4), s.text(5), s.int64(6), s.int64(7)});
        return all;
    });
}

catalog_result<artifact_total> catalog::checkpoint_total(int64_t checkpoint_id)
{
    return guard([&] {
        find_checkpoint(db(), checkpoint_id);
        auto s = db().prepare("SELECT count(*), coalesce(sum(size_bytes), 0) FROM artifacts WHERE checkpoint_id = ?1");
        s.bind_all(checkpoint_id).step();
        return artifact_total{s.int64(0), s.int64(1)};
    });
}

catalog_result<artifact_total> catalog::experiment_total(int64_t experiment_id)
{
    return guard([&] {
        find_experiment(db(), experiment_id);
        auto s = db().prepare("SELECT count(*), coalesce(sum(a.size_bytes), 0) FROM artifacts a "
                              "JOIN checkpoints c ON c.id = a.checkpoint_id "
                              "WHERE c.experiment_id = ?1 AND c.state = 'committed'");
        s.bind_all(experiment_id).step();
        return artifact_total{s.int64(0), s.int64(1)};
    });
}

}  // namespace stasis::control
