// The checkpoint catalog: opening and refusing files, the checkpoint tree and its rendering, artifacts.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>
#include <sstream>

#include "catalog_testing.hpp"

namespace stasis::control {
namespace {

using testing::must;
using testing::temp_dir;

constexpr int64_t s_ns = 1'000'000'000;
constexpr int64_t t0_ns = 1795341600 * s_ns;  // 2026-11-22 10:00:00 UTC

// Runs SQL on a file with the raw C API, as another program (or a newer Stasis) would.
int64_t raw_sql(const std::string &path, const std::string &sql)
{
    sqlite3 *db = nullptr;
    sqlite3_open(path.c_str(), &db);
    sqlite3_stmt *s = nullptr;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

std::string read_file(const std::string &path)
{
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

TEST(CatalogOpen, creates_the_file_and_keeps_state_across_reopen)
{
    temp_dir dir;
    auto path = dir.file("catalog.db");
    int64_t id = 0;
    {
        auto cat = must(catalog::open(path));
        auto e = must(cat.ensure_experiment("demo", "/exp/demo.yaml", "nodes: 2\n"));
        id = e.id;
        EXPECT_EQ(e.state, experiment_state::registered);
        EXPECT_EQ(e.branch, "main");
        EXPECT_FALSE(e.head_id);
        must(cat.set_state(id, experiment_state::running));
        auto c = must(cat.begin_checkpoint(id, t0_ns, "first"));
        must(cat.commit_checkpoint(c.id));
    }
    EXPECT_EQ(raw_sql(path, "PRAGMA user_version"), catalog::schema_version);
    EXPECT_EQ(raw_sql(path, "PRAGMA application_id"), catalog::application_id);
    auto cat = must(catalog::open(path));
    auto e = must(cat.experiment_by_name("demo"));
    EXPECT_EQ(e.id, id);
    EXPECT_EQ(e.state, experiment_state::running);
    EXPECT_EQ(e.file_path, "/exp/demo.yaml");
    EXPECT_EQ(e.file_text, "nodes: 2\n");
    auto head = must(cat.checkpoint_by_id(e.head_id.value()));
    EXPECT_EQ(head.name, "c1");
    EXPECT_EQ(head.state, checkpoint_state::committed);
    EXPECT_EQ(head.freeze_ns, t0_ns);
    EXPECT_EQ(head.message, "first");
    // Registering again returns the stored experiment, text unchanged.
    auto again = must(cat.ensure_experiment("demo", "/elsewhere.yaml", "nodes: 3\n"));
    EXPECT_EQ(again.id, id);
    EXPECT_EQ(again.file_text, "nodes: 2\n");
    EXPECT_EQ(cat.experiment_by_name("nope").error().code, catalog_errc::not_found);
}

TEST(CatalogOpen, refuses_a_newer_schema_naming_the_file)
{
    temp_dir dir;
    auto path = dir.file("catalog.db");
    must(catalog::open(path));
    raw_sql(path, "PRAGMA user_version = " + std::to_string(catalog::schema_version + 1));
    auto r = catalog::open(path);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, catalog_errc::newer_schema);
    EXPECT_NE(r.error().message.find(path), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("version 2"), std::string::npos) << r.error().message;
}

TEST(CatalogOpen, refuses_a_file_that_is_not_sqlite_and_leaves_it_alone)
{
    temp_dir dir;
    auto path = dir.file("notes.txt");
    std::string text;
    for (int i = 0; i < 200; ++i)
        text += "this is a text file, not a database\n";
    std::ofstream(path) << text;
    auto r = catalog::open(path);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, catalog_errc::not_catalog);
    EXPECT_NE(r.error().message.find(path + ": not a Stasis catalog"), std::string::npos) << r.error().message;
    EXPECT_EQ(read_file(path), text);
}

TEST(CatalogOpen, refuses_another_programs_database_and_leaves_it_alone)
{
    temp_dir dir;
    auto path = dir.file("other.db");
    raw_sql(path, "CREATE TABLE songs (title TEXT)");
    auto r = catalog::open(path);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, catalog_errc::not_catalog);
    EXPECT_NE(r.error().message.find(path + ": not a Stasis catalog"), std::string::npos) << r.error().message;
    EXPECT_EQ(raw_sql(path, "SELECT count(*) FROM sqlite_schema"), 1);
    EXPECT_EQ(raw_sql(path, "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = 'wal'"), 0);
}

TEST(CatalogOpen, names_the_file_it_cannot_create)
{
    temp_dir dir;
    auto path = dir.file("missing/dir/catalog.db");
    auto r = catalog::open(path);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, catalog_errc::sqlite);
    EXPECT_NE(r.error().message.find(path), std::string::npos) << r.error().message;
}

TEST(CatalogOpen, every_state_name_is_accepted_by_the_schema)
{
    temp_dir dir;
    auto cat = must(catalog::open(dir.file("c.db")));
    auto e = must(cat.ensure_experiment("demo", "demo.yaml", ""));
    for (auto s : {experiment_state::registered, experiment_state::running, experiment_state::frozen,
                   experiment_state::swapped_out, experiment_state::stopped}) {
        must(cat.set_state(e.id, s));
        EXPECT_EQ(must(cat.experiment_by_id(e.id)).state, s);
        EXPECT_EQ(parse_experiment_state(to_string(s)), s);
    }
    for (auto k : {op_kind::checkpoint, op_kind::swapout, op_kind::swapin, op_kind::thaw, op_kind::timetravel,
                   op_kind::abort, op_kind::recover}) {
        auto op = must(cat.begin_op({.experiment_id = e.id, .kind = k}));
        EXPECT_EQ(op.kind, k);
        EXPECT_EQ(parse_op_kind(to_string(k)), k);
        must(cat.finish_op(op.id, op_state::failed));
    }
    for (auto s : {op_state::running, op_state::done, op_state::rolled_back, op_state::failed})
        EXPECT_EQ(parse_op_state(to_string(s)), s);
    EXPECT_EQ(parse_checkpoint_state("aborted"), checkpoint_state::aborted);
    EXPECT_FALSE(parse_experiment_state("swapped out"));
}

// demo: c1 and c2 on main; time travel to c1 starts b1 (c3, c4); time travel to c3, a branch of a
// branch, starts b2 where c5 aborts and c6 commits.
struct demo_tree {
    temp_dir dir;
    catalog cat = must(catalog::open(dir.file("catalog.db")));
    experiment e = must(cat.ensure_experiment("demo", "/exp/demo.yaml", "text"));

    checkpoint take(int64_t freeze_ns, std::vector<artifact> files, std::string_view message = {})
    {
        auto c = must(cat.begin_checkpoint(e.id, freeze_ns, message));
        must(cat.add_artifacts(c.id, files));
        return must(cat.commit_checkpoint(c.id));
    }

    demo_tree()
    {
        must(cat.set_state(e.id, experiment_state::running));
        auto c1 = take(t0_ns + 1'123'000'000, {{"n1-link", "link-snapshot", "n1", "/s/c1/link", 1 << 20, "crc32c:1"},
                                                {"n2", "guest-memory", "n2", "/s/c1/mem", 10 << 20, "crc32c:2"},
                                                {"n2", "disk", "n2", "/s/c1/disk", 1363149, "crc32c:3"}},
                       "baseline");
        take(t0_ns + 300 * s_ns, {{"n1-link", "link-snapshot", "n1", "/s/c2/link", 512, "crc32c:4"}});
        must(cat.start_branch(e.id, c1.id));
        auto c3 = take(t0_ns + 433'500'000'000, {});
        take(t0_ns + 540'250'000'000, {{"n1-link", "link-snapshot", "n1", "/s/c4/a", 1536, "x"},
                                       {"n2", "disk", "n2", "/s/c4/b", 2048, "y"}});
        must(cat.start_branch(e.id, c3.id));
        auto c5 = must(cat.begin_checkpoint(e.id, t0_ns + 600 * s_ns));
        must(cat.abort_checkpoint(c5.id, "n2 did not freeze"));
        take(t0_ns + 690'007'000'000, {{"n2", "guest-memory", "n2", "/s/c6/mem", int64_t(5) << 30, "z"}});
    }
};

TEST(CatalogTree, branches_of_branches_keep_parents_and_bases)
{
    demo_tree d;
    auto &cat = d.cat;
    auto cps = must(cat.checkpoints(d.e.id));
    ASSERT_EQ(cps.size(), 6u);
    auto id = [&](int n) { return cps[n - 1].id; };
    std::vector<std::tuple<std::string, std::optional<int64_t>, std::string, checkpoint_state>> expect = {
        {"c1", std::nullopt, "main", checkpoint_state::committed}, {"c2", id(1), "main", checkpoint_state::committed},
        {"c3", id(1), "b1", checkpoint_state::committed},          {"c4", id(3), "b1", checkpoint_state::committed},
        {"c5", id(3), "b2", checkpoint_state::aborted},            {"c6", id(3), "b2", checkpoint_state::committed},
    };
    for (size_t i = 0; i < cps.size(); ++i) {
        auto [name, parent, branch, state] = expect[i];
        EXPECT_EQ(cps[i].name, name);
        EXPECT_EQ(cps[i].parent_id, parent) << name;
        EXPECT_EQ(cps[i].branch, branch) << name;
        EXPECT_EQ(cps[i].state, state) << name;
    }
    EXPECT_EQ(cps[4].message, "n2 did not freeze");
    auto b = must(cat.branches(d.e.id));
    ASSERT_EQ(b.size(), 3u);
    EXPECT_FALSE(b[0].base_id);
    EXPECT_EQ(b[1].base_id, id(1));
    EXPECT_EQ(b[2].base_id, id(3));
    auto e = must(cat.experiment_by_name("demo"));
    EXPECT_EQ(e.branch, "b2");
    EXPECT_EQ(e.head_id, id(6));
    EXPECT_EQ(must(cat.checkpoint_by_name(e.id, "c4")).id, id(4));

    // A caller-chosen name, then the automatic one continues after it; a taken name is refused.
    EXPECT_EQ(must(cat.start_branch(e.id, id(2), "b7")).name, "b7");
    EXPECT_EQ(must(cat.start_branch(e.id, id(2))).name, "b8");
    EXPECT_EQ(cat.start_branch(e.id, id(2), "b1").error().code, catalog_errc::exists);
    EXPECT_EQ(cat.start_branch(e.id, id(2), "has space").error().code, catalog_errc::invalid);
    // Aborted checkpoints are never a base or a head, and stay aborted.
    EXPECT_EQ(cat.start_branch(e.id, id(5)).error().code, catalog_errc::invalid);
    EXPECT_EQ(cat.set_head(e.id, id(5)).error().code, catalog_errc::invalid);
    EXPECT_EQ(cat.commit_checkpoint(id(5)).error().code, catalog_errc::invalid);
    EXPECT_EQ(cat.abort_checkpoint(id(6), "late").error().code, catalog_errc::invalid);
}

TEST(CatalogTree, renders_text_a_person_can_read)
{
    demo_tree d;
    auto tree = must(load_tree(d.cat, "demo"));
    EXPECT_EQ(render_tree_text(tree),
              "experiment demo: running on branch b2 (from c3), head c6\n"
              "c1          2026-11-22 10:00:01.123  committed  main  3 artifacts, 12.3 MiB  (baseline)\n"
              "├── c2      2026-11-22 10:05:00.000  committed  main  1 artifact, 512 B\n"
              "└── c3      2026-11-22 10:07:13.500  committed  b1    no artifacts\n"
              "    ├── c4  2026-11-22 10:09:00.250  committed  b1    2 artifacts, 3.5 KiB\n"
              "    ├── c5  2026-11-22 10:10:00.000  aborted    b2    no artifacts           (n2 did not freeze)\n"
              "    └── c6  2026-11-22 10:11:30.007  committed  b2    1 artifact, 5.0 GiB    <- head\n");
    EXPECT_EQ(render_tree_text(tree, {.show_aborted = false}),
              "experiment demo: running on branch b2 (from c3), head c6\n"
              "c1          2026-11-22 10:00:01.123  committed  main  3 artifacts, 12.3 MiB  (baseline)\n"
              "├── c2      2026-11-22 10:05:00.000  committed  main  1 artifact, 512 B\n"
              "└── c3      2026-11-22 10:07:13.500  committed  b1    no artifacts\n"
              "    ├── c4  2026-11-22 10:09:00.250  committed  b1    2 artifacts, 3.5 KiB\n"
              "    └── c6  2026-11-22 10:11:30.007  committed  b2    1 artifact, 5.0 GiB    <- head\n");
    EXPECT_EQ(load_tree(d.cat, "nope").error().code, catalog_errc::not_found);
}

TEST(CatalogTree, renders_json_with_escaping)
{
    experiment_tree t;
    t.exp = {7, "q\"x", "/e\\f.yaml", "", experiment_state::swapped_out, 1, "main", 11, 5};
    t.branches = {{1, 7, "main", std::nullopt, 5}};
    t.checkpoints = {{11, 7, "c1", std::nullopt, 1, "main", checkpoint_state::committed, 1000, 900, 1100, "a\nb"},
                     {12, 7, "c2", 11, 1, "main", checkpoint_state::aborted, 2000, 1900, std::nullopt, ""}};
    t.totals = {{2, 3000}, {0, 0}};
    EXPECT_EQ(render_tree_json(t),
              R"({"experiment":{"id":7,"name":"q\"x","state":"swapped_out","branch":"main","head":"c1",)"
              R"("file_path":"/e\\f.yaml","created_ns":5},"branches":[{"name":"main","base":null,"created_ns":5}],)"
              R"("checkpoints":[{"id":11,"name":"c1","parent":null,"branch":"main","state":"committed",)"
              R"("freeze_ns":1000,"freeze_utc":"1970-01-01 00:00:00.000","created_ns":900,"ended_ns":1100,)"
              R"("message":"a\u000ab","artifacts":2,"size_bytes":3000,"head":true},)"
              R"({"id":12,"name":"c2","parent":"c1","branch":"main","state":"aborted","freeze_ns":2000,)"
              R"("freeze_utc":"1970-01-01 00:00:00.000","created_ns":1900,"ended_ns":null,"message":"",)"
              R"("artifacts":0,"size_bytes":0,"head":false}]})"
              "\n");
    EXPECT_EQ(render_tree_json(t, {.show_aborted = false}).find("\"c2\""), std::string::npos);
}

TEST(CatalogTree, formats_times_in_utc_and_sizes_in_binary_units)
{
    EXPECT_EQ(format_utc_ns(0), "1970-01-01 00:00:00.000");
    EXPECT_EQ(format_utc_ns(-1), "1969-12-31 23:59:59.999");
    EXPECT_EQ(format_utc_ns(t0_ns + 1'123'999'999), "2026-11-22 10:00:01.123");
    EXPECT_EQ(format_bytes(0), "0 B");
    EXPECT_EQ(format_bytes(1023), "1023 B");
    EXPECT_EQ(format_bytes(1024), "1.0 KiB");
    EXPECT_EQ(format_bytes(12897485), "12.3 MiB");
    EXPECT_EQ(format_bytes((int64_t(1) << 30) - 1), "1.0 GiB");
    EXPECT_EQ(format_bytes(int64_t(3) << 40), "3.0 TiB");
}

TEST(CatalogArtifacts, sums_per_checkpoint_and_per_experiment)
{
    demo_tree d;
    auto &cat = d.cat;
    auto c1 = must(cat.checkpoint_by_name(d.e.id, "c1"));
    auto files = must(cat.artifacts(c1.id));
    ASSERT_EQ(files.size(), 3u);
    EXPECT_EQ(files[1].agent, "n2");
    EXPECT_EQ(files[1].kind, "guest-memory");
    EXPECT_EQ(files[1].host, "n2");
    EXPECT_EQ(files[1].path, "/s/c1/mem");
    EXPECT_EQ(files[1].size_bytes, 10 << 20);
    EXPECT_EQ(files[1].checksum, "crc32c:2");
    EXPECT_EQ(files[1].checkpoint_id, c1.id);
    auto total = must(cat.checkpoint_total(c1.id));
    EXPECT_EQ(total.count, 3);
    EXPECT_EQ(total.size_bytes, (1 << 20) + (10 << 20) + 1363149);

    // Artifacts of an aborted checkpoint do not count; a committed checkpoint takes no more.
    auto c7 = must(cat.begin_checkpoint(d.e.id, t0_ns + 900 * s_ns));
    std::vector<artifact> partial = {{"n1-link", "link-snapshot", "n1", "/s/c7/link", 999, "w"}};
    must(cat.add_artifacts(c7.id, partial));
    must(cat.abort_checkpoint(c7.id, "timeout"));
    auto all = must(cat.experiment_total(d.e.id));
    EXPECT_EQ(all.count, 3 + 1 + 2 + 1);
    EXPECT_EQ(all.size_bytes, total.size_bytes + 512 + 1536 + 2048 + (int64_t(5) << 30));
    EXPECT_EQ(cat.add_artifacts(c1.id, partial).error().code, catalog_errc::invalid);

    // A batch is added whole or not at all.
    auto c8 = must(cat.begin_checkpoint(d.e.id, t0_ns + 950 * s_ns));
    std::vector<artifact> bad = {{"a", "disk", "h", "/ok", 1, "c"}, {"b", "disk", "h", "/neg", -1, "c"}};
    EXPECT_EQ(cat.add_artifacts(c8.id, bad).error().code, catalog_errc::invalid);
    EXPECT_EQ(must(cat.checkpoint_total(c8.id)).count, 0);
}

}  // namespace
}  // namespace stasis::control
