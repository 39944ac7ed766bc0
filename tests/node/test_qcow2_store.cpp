// The qcow2 disk store with the real qemu-img: a branch of a snapshot of a branch, each layer's data read
// back through qemu-io, the backing chains as qemu-img reports them, the tree found again after a reopen,
// and the errors it names.
#include <sys/stat.h>

#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "qcow2_store.hpp"
#include "run_command.hpp"

namespace stasis::node {
namespace {

using kind = node_error::kind;
namespace fs = std::filesystem;

constexpr int64_t kib64 = 64 * 1024;

class qcow2_store_test : public ::testing::Test {
protected:
    void SetUp() override
    {
        char tmpl[] = "/tmp/stasis-qcow2-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir = tmpl;
        base = dir + "/base.raw";
        ASSERT_TRUE(run_checked({"qemu-img", "create", "-q", "-f", "raw", base, "16M"}));
        write(base, "raw", 0x11, 0);  // block 0 comes from the base in every layer
    }
    void TearDown() override
    {
        for (const auto &e : fs::recursive_directory_iterator(dir))
            chmod(e.path().c_str(), 0755);  // 0444 layers: remove_all does not care, but be explicit
        fs::remove_all(dir);
    }

    // Writes 64 KiB of `pattern` at block `block` (64 KiB blocks) of the image.
    static void write(const std::string &image, const std::string &format, int pattern, int block)
    {
        auto w = run_checked({"qemu-io", "-f", format, "-c",
                              "write -P " + std::to_string(pattern) + " " + std::to_string(block * kib64) + " " +
                                  std::to_string(kib64),
                              image});
        ASSERT_TRUE(w) << w.error().message;
    }
    // Whether block `block` of the image reads back as `pattern` (through its whole backing chain).
    static bool reads(const std::string &image, int pattern, int block)
    {
        auto r = run_command({"qemu-io", "-r", "-f", "qcow2", "-c",
                              "read -P " + std::to_string(pattern) + " " + std::to_string(block * kib64) + " " +
                                  std::to_string(kib64),
                              image});
        return r && r->exit_status == 0 && r->out.find("Pattern verification failed") == std::string::npos;
    }
    // The files of the image's backing chain, the image first, as qemu-img reports them.
    static std::vector<std::string> chain(const std::string &image)
    {
        auto out = run_checked({"qemu-img", "info", "-U", "--output=json", "--backing-chain", image});
        EXPECT_TRUE(out);
        std::vector<std::string> files;
        for (const auto &layer : nlohmann::json::parse(*out))
            files.push_back(layer.value("filename", ""));
        return files;
    }

    std::string dir;
    std::string base;
};

TEST_F(qcow2_store_test, branch_of_a_snapshot_of_a_branch_keeps_each_layers_data)
{
    auto store = qcow2_store::open(dir + "/disks");
    ASSERT_TRUE(store) << store.error().message;
    auto live = store->create("web", base);
    ASSERT_TRUE(live) << live.error().message;
    EXPECT_EQ(live->name, "web.1");
    EXPECT_EQ(live->role, volume_role::live);
    EXPECT_EQ(live->size_bytes, 16 << 20);
    write(live->path, "qcow2", 0x22, 1);

    // c1 while nothing has the disk open: the store switches on its own.
    auto c1 = store->snapshot(*live, "c1", {});
    ASSERT_TRUE(c1) << c1.error().message;
    EXPECT_EQ(c1->snapshot.name, "web+c1");
    EXPECT_EQ(c1->snapshot.path, live->path);  // qcow2: the old live file is the snapshot
    EXPECT_TRUE(c1->snapshot.read_only);
    EXPECT_TRUE(c1->hypervisor_switch);
    write(c1->next_live.path, "qcow2", 0x33, 1);  // after the checkpoint: must not show in a restore of c1

    auto b1 = store->branch(c1->snapshot);  // a restore of c1
    ASSERT_TRUE(b1) << b1.error().message;
    EXPECT_EQ(b1->parent, "web+c1");
    EXPECT_TRUE(reads(b1->path, 0x11, 0));
    EXPECT_TRUE(reads(b1->path, 0x22, 1));
    EXPECT_FALSE(reads(b1->path, 0x33, 1));
    EXPECT_TRUE(reads(c1->next_live.path, 0x33, 1));
    write(b1->path, "qcow2", 0x44, 2);

    // The branch is checkpointed (c2) and restored again: a branch of a snapshot of a branch.
    auto c2 = store->snapshot(*b1, "c2", {});
    ASSERT_TRUE(c2) << c2.error().message;
    write(c2->next_live.path, "qcow2", 0x55, 2);
    auto b2 = store->branch(c2->snapshot);
    ASSERT_TRUE(b2) << b2.error().message;
    EXPECT_TRUE(reads(b2->path, 0x11, 0));
    EXPECT_TRUE(reads(b2->path, 0x22, 1));
    EXPECT_TRUE(reads(b2->path, 0x44, 2));
    EXPECT_FALSE(reads(b2->path, 0x55, 2));
    write(b2->path, "qcow2", 0x66, 3);
    EXPECT_FALSE(reads(c2->next_live.path, 0x66, 3));  // siblings do not see each other
    EXPECT_FALSE(reads(b1->path, 0x66, 3));

    EXPECT_EQ(chain(b2->path), (std::vector<std::string>{b2->path, b1->path, live->path, base}));
    EXPECT_EQ(chain(c1->next_live.path), (std::vector<std::string>{c1->next_live.path, live->path, base}));

    // A new store object on the same directory (a restarted daemon) sees the same tree.
    auto again = qcow2_store::open(dir + "/disks");
    ASSERT_TRUE(again);
    auto all = again->list("web");
    ASSERT_TRUE(all) << all.error().message;
    std::vector<std::string> seen;
    for (const auto &v : *all)
        seen.push_back(v.name + ":" + to_string(v.role) + "<" + v.parent);
    EXPECT_EQ(seen, (std::vector<std::string>{"web+c1:snapshot<" + base, "web+c2:snapshot<web+c1",
                                              "web.2:live<web+c1", "web.4:live<web+c2", "web.5:live<web+c2"}));
}

TEST_F(qcow2_store_test, a_failed_hypervisor_switch_leaves_no_snapshot_and_no_overlay)
{
    auto store = qcow2_store::open(dir + "/disks");
    ASSERT_TRUE(store);
    auto live = store->create("db", base);
    ASSERT_TRUE(live);
    std::string asked;
    auto s = store->snapshot(*live, "c1", [&](const snapshot_plan &plan) -> result<void> {
        asked = plan.next_live.path;
        EXPECT_TRUE(fs::exists(plan.next_live.path));  // created before the hypervisor is asked
        return fail(kind::command, "QMP: blockdev-snapshot-sync refused");
    });
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().message, "QMP: blockdev-snapshot-sync refused");
    EXPECT_FALSE(fs::exists(asked));
    auto all = store->list();
    ASSERT_TRUE(all);
    ASSERT_EQ(all->size(), 1u);
    EXPECT_EQ(all->front().role, volume_role::live);
    // and the same live volume can be snapshotted afterwards
    EXPECT_TRUE(store->snapshot(*live, "c1", [](const snapshot_plan &) -> result<void> { return {}; }));
}

TEST_F(qcow2_store_test, errors_are_typed_and_name_what_failed)
{
    auto store = qcow2_store::open(dir + "/disks");
    ASSERT_TRUE(store);
    auto live = store->create("web", base);
    ASSERT_TRUE(live);

    auto twice = store->create("web", base);
    ASSERT_FALSE(twice);
    EXPECT_EQ(twice.error().what, kind::state);
    EXPECT_NE(twice.error().message.find("already has"), std::string::npos) << twice.error().message;

    auto bad_name = store->create("a/b", base);
    ASSERT_FALSE(bad_name);
    EXPECT_EQ(bad_name.error().what, kind::command);

    auto no_base = store->create("other", dir + "/missing.raw");
    ASSERT_FALSE(no_base);
    EXPECT_EQ(no_base.error().what, kind::command);
    EXPECT_NE(no_base.error().message.find("missing.raw"), std::string::npos) << no_base.error().message;

    auto c1 = store->snapshot(*live, "c1", {});
    ASSERT_TRUE(c1);
    auto again = store->snapshot(c1->next_live, "c1", {});
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().what, kind::state);
    EXPECT_NE(again.error().message.find("web+c1 already exists"), std::string::npos) << again.error().message;

    auto of_snapshot = store->snapshot(c1->snapshot, "c9", {});  // read-only now
    ASSERT_FALSE(of_snapshot);
    EXPECT_EQ(of_snapshot.error().what, kind::state);

    auto branch_live = store->branch(c1->next_live);
    ASSERT_FALSE(branch_live);
    EXPECT_EQ(branch_live.error().what, kind::state);
    EXPECT_NE(branch_live.error().message.find("not a snapshot"), std::string::npos);

    auto missing = store->find("web+c7");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().what, kind::command);
    EXPECT_EQ(missing.error().message, "no volume web+c7 in disk store " + dir + "/disks");

    auto no_program = qcow2_store::open(dir + "/disks", "/nonexistent/qemu-img");
    ASSERT_TRUE(no_program);
    auto l = no_program->list();
    ASSERT_FALSE(l);
    EXPECT_EQ(l.error().what, kind::io);
    EXPECT_NE(l.error().message.find("/nonexistent/qemu-img"), std::string::npos);
}

TEST_F(qcow2_store_test, removing_a_snapshot_under_a_branch_keeps_the_chain)
{
    auto store = qcow2_store::open(dir + "/disks");
    ASSERT_TRUE(store);
    auto live = store->create("web", base);
    ASSERT_TRUE(live);
    write(live->path, "qcow2", 0x22, 1);
    auto c1 = store->snapshot(*live, "c1", {});
    ASSERT_TRUE(c1);

    // c1 has a dependent (the live volume on it): it loses its name, its data stays.
    ASSERT_TRUE(store->remove("web+c1"));
    EXPECT_FALSE(store->find("web+c1"));
    auto layer = store->find("web.1");
    ASSERT_TRUE(layer) << layer.error().message;
    EXPECT_EQ(layer->role, volume_role::layer);
    EXPECT_TRUE(reads(c1->next_live.path, 0x22, 1));

    // Removing the last dependent removes the unnamed layer under it too; the base stays.
    ASSERT_TRUE(store->remove(c1->next_live.name));
    auto all = store->list();
    ASSERT_TRUE(all);
    EXPECT_TRUE(all->empty());
    EXPECT_TRUE(fs::exists(base));
    EXPECT_TRUE(fs::is_empty(dir + "/disks/layers"));
}

}  // namespace
}  // namespace stasis::node
