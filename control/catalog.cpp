// The catalog's experiments and branches, and the stored names of its enums.
#include <array>

#include "catalog_impl.hpp"

namespace stasis::control {

using namespace detail;

namespace {

// Indexed by the enums' values; the schema's CHECK lists hold the same names.
constexpr std::array<std::string_view, 5> experiment_state_names = {"registered", "running", "frozen",
                                                                     "swapped_out", "stopped"};
constexpr std::array<std::string_view, 3> checkpoint_state_names = {"pending", "committed", "aborted"};
constexpr std::array<std::string_view, 7> op_kind_names = {"checkpoint", "swapout",    "swapin", "thaw",
                                                            "timetravel", "abort", "recover"};
constexpr std::array<std::string_view, 4> op_state_names = {"running", "done", "rolled_back", "failed"};

template <class E, size_t N>
std::optional<E> parse(const std::array<std::string_view, N> &names, std::string_view s)
{
    for (size_t i = 0; i < N; ++i)
        if (names[i] == s)
            return E(i);
    return std::nullopt;
}

constexpr const char *experiment_columns =
    "e.id, e.name, e.file_path, e.file_text, e.state, e.branch_id, b.name, e.head_id, e.created_ns "
    "FROM experiments e LEFT JOIN branches b ON b.id = e.branch_id";

experiment read_experiment(const sqlite::statement &s, const sqlite::database &db)
{
    return {s.int64(0), s.text(1), s.text(2), s.text(3),
            stored_enum(parse_experiment_state(s.text(4)), db, "experiment state", s.text(4)),
            s.int64(5), s.text(6), s.opt_int64(7), s.int64(8)};
}

constexpr const char *branch_columns = "id, experiment_id, name, base_id, created_ns FROM branches";

branch read_branch(const sqlite::statement &s)
{
    return {s.int64(0), s.int64(1), s.text(2), s.opt_int64(3), s.int64(4)};
}

void check_name(std::string_view what, std::string_view name)
{
    if (name.empty() || name.size() > 64 || name.find_first_of(" \t\r\n/\"'\\") != std::string_view::npos)
        fail(catalog_errc::invalid, std::string(what) + " name '" + std::string(name) +
                                        "' must be 1 to 64 characters without spaces, quotes or slashes");
}

}  // namespace

std::string_view to_string(experiment_state s) { return experiment_state_names.at(size_t(s)); }
std::string_view to_string(checkpoint_state s) { return checkpoint_state_names.at(size_t(s)); }
std::string_view to_string(op_kind k) { return op_kind_names.at(size_t(k)); }
std::string_view to_string(op_state s) { return op_state_names.at(size_t(s)); }
std::optional<experiment_state> parse_experiment_state(std::string_view s)
{
    return parse<experiment_state>(experiment_state_names, s);
}
std::optional<checkpoint_state> parse_checkpoint_state(std::string_view s)
{
    return parse<checkpoint_state>(checkpoint_state_names, s);
}
std::optional<op_kind> parse_op_kind(std::string_view s) { return parse<op_kind>(op_kind_names, s); }
std::optional<op_state> parse_op_state(std::string_view s) { return parse<op_state>(op_state_names, s); }

namespace detail {

std::string next_name(sqlite::database &db, const char *table, int64_t experiment_id, char prefix)
{
    std::string p(1, prefix);
    auto s = db.prepare(std::string("SELECT coalesce(max(CAST(substr(name, 2) AS INTEGER)), 0) FROM ") + table +
                        " WHERE experiment_id = ?1 AND name GLOB ?2 AND name NOT GLOB ?3");
    s.bind_all(experiment_id, p + "[1-9]*", p + "*[^0-9]*");
    s.step();
    return p + std::to_string(s.int64(0) + 1);
}

experiment find_experiment(sqlite::database &db, int64_t id)
{
    auto s = db.prepare(std::string("SELECT ") + experiment_columns + " WHERE e.id = ?1");
    if (!s.bind_all(id).step())
        fail(catalog_errc::not_found, db.path() + ": no experiment with id " + std::to_string(id));
    return read_experiment(s, db);
}

std::optional<experiment> find_experiment(sqlite::database &db, std::string_view name)
{
    auto s = db.prepare(std::string("SELECT ") + experiment_columns + " WHERE e.name = ?1");
    if (!s.bind_all(name).step())
        return std::nullopt;
    return read_experiment(s, db);
}

}  // namespace detail

catalog_result<experiment> catalog::ensure_experiment(std::string_view name, std::string_view file_path,
                                                      std::string_view file_text)
{
    return guard([&] {
        check_name("experiment", name);
        sqlite::transaction tx(db());
        if (auto found = find_experiment(db(), name))
            return *found;
        int64_t now = now_ns();
        db().prepare("INSERT INTO experiments (name, file_path, file_text, state, created_ns) "
                     "VALUES (?1, ?2, ?3, 'registered', ?4)")
            .bind_all(name, file_path, file_text, now)
            .run();
        int64_t id = db().last_insert_rowid();
        db().prepare("INSERT INTO branches (experiment_id, name, created_ns) VALUES (?1, 'main', ?2)")
            .bind_all(id, now)
            .run();
        int64_t main = db().last_insert_rowid();
        db().prepare("UPDATE experiments SET branch_id = ?1 WHERE id = ?2").bind_all(main, id).run();
        tx.commit();
        return find_experiment(db(), id);
    });
}

catalog_result<experiment> catalog::experiment_by_name(std::string_view name)
{
    return guard([&] {
        auto found = find_experiment(db(), name);
        if (!found)
            fail(catalog_errc::not_found, path() + ": no experiment '" + std::string(name) + "'");
        return *found;
    });
}

catalog_result<experiment> catalog::experiment_by_id(int64_t id)
{
    return guard([&] { return find_experiment(db(), id); });
}

catalog_result<std::vector<experiment>> catalog::experiments()
{
    return guard([&] {
        std::vector<experiment> all;
        auto s = db().prepare(std::string("SELECT ") + experiment_columns + " ORDER BY e.name");
        while (s.step())
            all.push_back(read_experiment(s, db()));
        return all;
    });
}

catalog_result<void> catalog::set_state(int64_t experiment_id, experiment_state state)
{
    return guard([&] {
        db().prepare("UPDATE experiments SET state = ?1 WHERE id = ?2").bind_all(to_string(state), experiment_id).run();
        if (db().changes() == 0)
            find_experiment(db(), experiment_id);  // throws not_found
    });
}

catalog_result<void> catalog::set_head(int64_t experiment_id, std::optional<int64_t> checkpoint_id)
{
    return guard([&] {
        sqlite::transaction tx(db());
        auto e = find_experiment(db(), experiment_id);
        if (checkpoint_id)
            committed_of(db(), e, *checkpoint_id, "head");
        db().prepare("UPDATE experiments SET head_id = ?1 WHERE id = ?2").bind_all(checkpoint_id, e.id).run();
        tx.commit();
    });
}

catalog_result<void> catalog::set_branch(int64_t experiment_id, int64_t branch_id)
{
    return guard([&] {
        sqlite::transaction tx(db());
        auto e = find_experiment(db(), experiment_id);
        auto s = db().prepare("SELECT experiment_id FROM branches WHERE id = ?1");
        if (!s.bind_all(branch_id).step() || s.int64(0) != e.id)
            fail(catalog_errc::not_found, path() + ": experiment " + e.name + " has no branch with id " +
                                              std::to_string(branch_id));
        db().prepare("UPDATE experiments SET branch_id = ?1 WHERE id = ?2").bind_all(branch_id, e.id).run();
        tx.commit();
    });
}

catalog_result<branch> catalog::start_branch(int64_t experiment_id, int64_t base_checkpoint_id,
                                             std::string_view name)
{
    return guard([&] {
        sqlite::transaction tx(db());
        auto e = find_experiment(db(), experiment_id);
        committed_of(db(), e, base_checkpoint_id, "branch base");
        std::string chosen = name.empty() ? next_name(db(), "branches", e.id, 'b') : std::string(name);
        check_name("branch", chosen);
        auto taken = db().prepare("SELECT 1 FROM branches WHERE experiment_id = ?1 AND name = ?2");
        if (taken.bind_all(e.id, chosen).step())
            fail(catalog_errc::exists, path() + ": experiment " + e.name + " already has a branch " + chosen);
        db().prepare("INSERT INTO branches (experiment_id, name, base_id, created_ns) VALUES (?1, ?2, ?3, ?4)")
            .bind_all(e.id, chosen, base_checkpoint_id, now_ns())
            .run();
        int64_t id = db().last_insert_rowid();
        db().prepare("UPDATE experiments SET branch_id = ?1, head_id = ?2 WHERE id = ?3")
            .bind_all(id, base_checkpoint_id, e.id)
            .run();
        tx.commit();
        auto s = db().prepare(std::string("SELECT ") + branch_columns + " WHERE id = ?1");
        s.bind_all(id).step();
        return read_branch(s);
    });
}

catalog_result<branch> catalog::branch_by_name(int64_t experiment_id, std::string_view name)
{
    return guard([&] {
        auto s = db().prepare(std::string("SELECT ") + branch_columns + " WHERE experiment_id = ?1 AND name = ?2");
        if (!s.bind_all(experiment_id, name).step())
            fail(catalog_errc::not_found, path() + ": no branch '" + std::string(name) + "' in experiment " +
                                              std::to_string(experiment_id));
        return read_branch(s);
    });
}

catalog_result<std::vector<branch>> catalog::branches(int64_t experiment_id)
{
    return guard([&] {
        std::vector<branch> all;
        auto s = db().prepare(std::string("SELECT ") + branch_columns + " WHERE experiment_id = ?1 ORDER BY id");
        s.bind_all(experiment_id);
        while (s.step())
            all.push_back(read_branch(s));
        return all;
    });
}

}  // namespace stasis::control
