// The catalog's operation log: phases, one live operation per experiment, owners that died, and what a
// controller killed mid-operation leaves for the next one.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "catalog_testing.hpp"

namespace stasis::control {
namespace {

using testing::must;
using testing::temp_dir;

// The pid of a child that has exited: reaped unless `reap` is false (then it is a zombie).
pid_t dead_child(bool reap = true)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    if (reap)
        waitpid(pid, nullptr, 0);
    else
        usleep(50'000);  // long enough to have exited
    return pid;
}

struct CatalogOps : ::testing::Test {
    temp_dir dir;
    catalog cat = must(catalog::open(dir.file("catalog.db")));
    experiment e = must(cat.ensure_experiment("demo", "demo.yaml", ""));
};

TEST_F(CatalogOps, phases_and_finish_are_recorded)
{
    auto op = must(cat.begin_op({.experiment_id = e.id, .kind = op_kind::checkpoint, .phase = "probe"}));
    EXPECT_EQ(op.state, op_state::running);
    EXPECT_EQ(op.phase, "probe");
    EXPECT_EQ(op.owner.pid, getpid());
    EXPECT_GT(op.owner.start_ticks, 0);
    EXPECT_TRUE(owner_alive(op));
    EXPECT_FALSE(op.ended_ns);

    must(cat.set_phase(op.id, "prepare"));
    auto c = must(cat.begin_checkpoint(e.id, 123));
    must(cat.update_op(op.id, {.phase = "frozen", .checkpoint_id = c.id, .detail = R"({"F":123})"}));
    op = must(cat.op_by_id(op.id));
    EXPECT_EQ(op.phase, "frozen");
    EXPECT_EQ(op.checkpoint_id, c.id);
    EXPECT_EQ(op.detail, R"({"F":123})");
    EXPECT_EQ(must(cat.unfinished_ops(e.id)).size(), 1u);

    EXPECT_EQ(cat.finish_op(op.id, op_state::running).error().code, catalog_errc::invalid);
    must(cat.finish_op(op.id, op_state::done, "committed c1", R"({"F":123,"R":456})"));
    op = must(cat.op_by_id(op.id));
    EXPECT_EQ(op.state, op_state::done);
    EXPECT_EQ(op.message, "committed c1");
    EXPECT_EQ(op.detail, R"({"F":123,"R":456})");
    EXPECT_TRUE(op.ended_ns);
    EXPECT_TRUE(must(cat.unfinished_ops()).empty());
    EXPECT_EQ(cat.set_phase(op.id, "late").error().code, catalog_errc::invalid);
    EXPECT_EQ(cat.finish_op(op.id, op_state::failed).error().code, catalog_errc::invalid);
    EXPECT_EQ(cat.set_phase(999, "x").error().code, catalog_errc::not_found);
    EXPECT_EQ(must(cat.recent_ops(e.id)).front().id, op.id);
}

TEST_F(CatalogOps, second_begin_is_refused_while_the_owner_lives)
{
    auto first = must(cat.begin_op({.experiment_id = e.id, .kind = op_kind::swapout, .phase = "frozen"}));
    auto second = cat.begin_op({.experiment_id = e.id, .kind = op_kind::checkpoint});
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().code, catalog_errc::op_running);
    const auto &msg = second.error().message;
    EXPECT_NE(msg.find("demo"), std::string::npos) << msg;
    EXPECT_NE(msg.find("swapout, phase frozen"), std::string::npos) << msg;
    EXPECT_NE(msg.find("pid " + std::to_string(getpid())), std::string::npos) << msg;
    // Another experiment is not blocked.
    auto other = must(cat.ensure_experiment("other", "other.yaml", ""));
    must(cat.begin_op({.experiment_id = other.id, .kind = op_kind::checkpoint}));
    must(cat.finish_op(first.id, op_state::done));
    must(cat.begin_op({.experiment_id = e.id, .kind = op_kind::checkpoint}));
}

TEST_F(CatalogOps, dead_or_reused_owners_do_not_block)
{
    auto me = op_owner::self();
    EXPECT_TRUE(owner_alive(me));
    EXPECT_FALSE(owner_alive(op_owner{me.pid, me.start_ticks + 1}));  // the pid, reused by another process
    pid_t zombie = dead_child(false);
    EXPECT_FALSE(owner_alive(op_owner{zombie, 0}));
    waitpid(zombie, nullptr, 0);

    op_owner dead{dead_child(), 12345};
    EXPECT_FALSE(owner_alive(dead));
    auto crashed = must(cat.begin_op({.experiment_id = e.id, .kind = op_kind::checkpoint, .owner = dead}));
    auto mine = must(cat.begin_op({.experiment_id = e.id, .kind = op_kind::recover}));
    EXPECT_EQ(must(cat.unfinished_ops(e.id)).size(), 2u);
    // Adopting while another live operation runs is refused; once it ends, adoption succeeds.
    EXPECT_EQ(cat.adopt_op(crashed.id).error().code, catalog_errc::op_running);
    must(cat.finish_op(mine.id, op_state::done));
    auto adopted = must(cat.adopt_op(crashed.id));
    EXPECT_EQ(adopted.owner.pid, me.pid);
    EXPECT_EQ(adopted.owner.start_ticks, me.start_ticks);
    // Now it has a live owner again: nobody else may start or adopt.
    EXPECT_EQ(cat.begin_op({.experiment_id = e.id, .kind = op_kind::thaw}).error().code, catalog_errc::op_running);
    EXPECT_EQ(cat.adopt_op(crashed.id, op_owner{me.pid, me.start_ticks + 1}).error().code, catalog_errc::op_running);
    must(cat.finish_op(adopted.id, op_state::rolled_back, "owner died in phase begin"));
    EXPECT_TRUE(must(cat.unfinished_ops()).empty());
}

// A controller killed mid-operation, without closing the catalog: what it recorded is there.
TEST(CatalogCrash, an_operation_survives_its_controller)
{
    temp_dir dir;
    auto path = dir.file("catalog.db");
    int64_t exp_id = must(must(catalog::open(path)).ensure_experiment("demo", "demo.yaml", "")).id;

    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        auto cat = catalog::open(path);
        if (!cat)
            _exit(10);
        auto op = cat->begin_op({.experiment_id = exp_id, .kind = op_kind::checkpoint, .phase = "probe"});
        if (!op)
            _exit(11);
        auto c = cat->begin_checkpoint(exp_id, 42);
        if (!c || !cat->update_op(op->id, {.phase = "frozen", .checkpoint_id = c->id, .detail = R"({"F":42})"}))
            _exit(12);
        _exit(1);  // no destructor runs: the connection is never closed
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 1);

    auto cat = must(catalog::open(path));
    auto ops = must(cat.unfinished_ops(exp_id));
    ASSERT_EQ(ops.size(), 1u);
    auto op = ops[0];
    EXPECT_EQ(op.kind, op_kind::checkpoint);
    EXPECT_EQ(op.phase, "frozen");
    EXPECT_EQ(op.detail, R"({"F":42})");
    EXPECT_EQ(op.owner.pid, child);
    EXPECT_FALSE(owner_alive(op));
    auto c = must(cat.checkpoint_by_id(op.checkpoint_id.value()));
    EXPECT_EQ(c.state, checkpoint_state::pending);
    EXPECT_EQ(c.freeze_ns, 42);

    // Recovery as the controller does it: take the operation over, roll it back.
    must(cat.adopt_op(op.id));
    must(cat.abort_checkpoint(c.id, "controller died while frozen"));
    must(cat.finish_op(op.id, op_state::rolled_back, "recovered"));
    EXPECT_TRUE(must(cat.unfinished_ops(exp_id)).empty());
    EXPECT_FALSE(must(cat.experiment_by_id(exp_id)).head_id);
}

}  // namespace
}  // namespace stasis::control
