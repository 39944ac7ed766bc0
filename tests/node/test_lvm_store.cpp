// The LVM store against tests/node/fake_lvm, a fake `lvm` at the command boundary (no device-mapper
// here): the commands, the tree they make, the JSON report, and lvm's errors passed on with its stderr.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "lvm_store.hpp"
#include "run_command.hpp"

namespace stasis::node {
namespace {

namespace fs = std::filesystem;
constexpr int64_t gib = int64_t(1) << 30;

class LvmStore : public ::testing::Test {
protected:
    void SetUp() override
    {
        const char *fake = std::getenv("STASIS_FAKE_LVM");
        lvm = fake ? fake : "tests/node/fake_lvm";
        char tmpl[] = "/tmp/stasis-lvm-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir = tmpl;
        state = dir + "/lvm.json";
        std::ofstream(state) << R"({"vgs": {"vg0": {
            "pool0": {"pool": "", "origin": "", "size": 10737418240, "attr": "twi-aotz--", "data_percent": 3.0},
            "base": {"pool": "pool0", "origin": "", "size": 1073741824, "attr": "Vwi-a-tz--", "data_percent": 12.5},
            "thick": {"pool": "", "origin": "", "size": 1073741824, "attr": "-wi-a-----"}}}})";
        setenv("STASIS_FAKE_LVM_STATE", state.c_str(), 1);
    }
    void TearDown() override { fs::remove_all(dir); }

    lvm_store open_store()
    {
        auto s = lvm_store::open("vg0", lvm);
        EXPECT_TRUE(s) << s.error().message;
        return std::move(*s);
    }
    std::string lv_attr(const std::string &name)
    {
        auto out = run_checked({lvm, "lvs", "--reportformat", "json", "--units", "b", "--nosuffix", "-o",
                                "lv_name,lv_attr", "vg0"});
        auto lvs = parse_lvs_report(out.value());
        for (const auto &lv : lvs.value())
            if (lv.name == name)
                return lv.attr;
        return "";
    }

    std::string lvm, dir, state;
};

TEST(LvmReport, ParsesLvsJsonWhereEveryValueIsAString)
{
    const char *text = R"(  {
      "report": [
          {
              "lv": [
                  {"lv_name":"n1+cp1", "vg_name":"vg0", "pool_lv":"pool0", "origin":"n1.0", "lv_attr":"Vri---tz-k", "lv_size":"1073741824", "data_percent":"25.00", "lv_tags":"stasis.disk=n1,stasis.parent=n1.0"},
                  {"lv_name":"thick", "vg_name":"vg0", "pool_lv":"", "origin":"", "lv_attr":"-wi-a-----", "lv_size":"4194304", "data_percent":"", "lv_tags":""}
              ]
          }
      ]
  }
)";
    auto lvs = parse_lvs_report(text);
    ASSERT_TRUE(lvs) << lvs.error().message;
    ASSERT_EQ(lvs->size(), 2u);
    EXPECT_EQ((*lvs)[0].name, "n1+cp1");
    EXPECT_EQ((*lvs)[0].origin, "n1.0");
    EXPECT_EQ((*lvs)[0].size_bytes, gib);
    EXPECT_DOUBLE_EQ((*lvs)[0].data_percent, 25.0);
    EXPECT_EQ((*lvs)[0].tags, "stasis.disk=n1,stasis.parent=n1.0");
    EXPECT_EQ((*lvs)[1].data_percent, 0.0);
    EXPECT_FALSE(parse_lvs_report("  Volume group \"vg9\" not found"));
    EXPECT_FALSE(parse_lvs_report(R"({"report": 3})"));
}

TEST_F(LvmStore, ABranchOfASnapshotOfABranch)
{
    auto store = open_store();
    auto live0 = store.create("n1", "vg0/base");
    ASSERT_TRUE(live0) << live0.error().message;
    EXPECT_EQ(live0->name, "n1.0");
    EXPECT_EQ(live0->path, "/dev/vg0/n1.0");
    EXPECT_EQ(live0->format, "raw");
    EXPECT_EQ(live0->parent, "/dev/vg0/base");
    EXPECT_EQ(live0->role, volume_role::live);
    EXPECT_FALSE(live0->read_only);
    EXPECT_EQ(live0->size_bytes, gib);
    EXPECT_EQ(live0->used_bytes, gib / 8);
    EXPECT_EQ(lv_attr("n1.0"), "Vwi-a-tz-k") << "activated in spite of the skip flag (-K)";

    auto plan = store.snapshot(*live0, "cp1", nullptr);
    ASSERT_TRUE(plan) << plan.error().message;
    EXPECT_FALSE(plan->hypervisor_switch);
    EXPECT_EQ(plan->next_live.name, "n1.0") << "the origin goes on as the live volume";
    EXPECT_EQ(plan->snapshot.name, "n1+cp1");
    EXPECT_EQ(plan->snapshot.role, volume_role::snapshot);
    EXPECT_EQ(plan->snapshot.checkpoint, "cp1");
    EXPECT_TRUE(plan->snapshot.read_only);
    EXPECT_EQ(plan->snapshot.parent, "n1.0");
    EXPECT_LE(plan->started_ns, plan->finished_ns);
    EXPECT_EQ(lv_attr("n1+cp1"), "Vri---tz-k") << "a snapshot stays inactive";

    auto live1 = store.branch(plan->snapshot);
    ASSERT_TRUE(live1) << live1.error().message;
    EXPECT_EQ(live1->name, "n1.1");
    EXPECT_EQ(live1->parent, "n1+cp1");
    EXPECT_EQ(live1->role, volume_role::live);
    auto plan2 = store.snapshot(*live1, "cp2", nullptr);
    ASSERT_TRUE(plan2) << plan2.error().message;
    auto live2 = store.branch(plan2->snapshot);
    ASSERT_TRUE(live2);
    EXPECT_EQ(live2->name, "n1.2");
    EXPECT_EQ(live2->parent, "n1+cp2");
    auto other = store.branch(plan->snapshot);  // a second branch of cp1
    ASSERT_TRUE(other);
    EXPECT_EQ(other->name, "n1.3");

    auto all = store.list();
    ASSERT_TRUE(all) << all.error().message;
    std::vector<std::string> names;
    for (const auto &v : *all)
        names.push_back(v.name);
    EXPECT_EQ(names.size(), 6u) << "base, pool and thick LVs are not the store's";
    auto pos = [&](const std::string &n) { return std::find(names.begin(), names.end(), n) - names.begin(); };
    EXPECT_LT(pos("n1.0"), pos("n1+cp1"));
    EXPECT_LT(pos("n1+cp1"), pos("n1.1"));
    EXPECT_LT(pos("n1.1"), pos("n1+cp2"));
    EXPECT_LT(pos("n1+cp2"), pos("n1.2"));
    EXPECT_LT(pos("n1+cp1"), pos("n1.3"));
    EXPECT_EQ(store.list("n2").value().size(), 0u);
}

TEST_F(LvmStore, RemovingASnapshotKeepsItsBranchesAndTheirParentName)
{
    auto store = open_store();
    auto live0 = store.create("n1", "vg0/base").value();
    auto snap = store.snapshot(live0, "cp1", nullptr).value().snapshot;
    auto live1 = store.branch(snap).value();
    ASSERT_TRUE(store.remove("n1+cp1"));
    auto found = store.find("n1.1");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->parent, "n1+cp1") << "the tag keeps what LVM's origin field forgot";
    auto gone = store.find("n1+cp1");
    ASSERT_FALSE(gone);
    EXPECT_NE(gone.error().message.find("no volume n1+cp1"), std::string::npos);
    EXPECT_EQ(store.list("n1").value().size(), 2u);
    ASSERT_TRUE(store.remove("n1.1"));
    auto base_removal = store.remove("base");
    ASSERT_FALSE(base_removal);
    EXPECT_EQ(base_removal.error().what, node_error::kind::state);
}

TEST_F(LvmStore, ErrorsNameTheCommandAndQuoteLvm)
{
    auto missing_vg = lvm_store::open("vg9", lvm);
    ASSERT_FALSE(missing_vg);
    EXPECT_NE(missing_vg.error().message.find("lvs --reportformat json"), std::string::npos)
        << missing_vg.error().message;
    EXPECT_NE(missing_vg.error().message.find("exit 5: "), std::string::npos);
    EXPECT_NE(missing_vg.error().message.find("Volume group \"vg9\" not found"), std::string::npos);

    auto store = open_store();
    auto no_origin = store.create("n1", "vg0/nobase");
    ASSERT_FALSE(no_origin);
    EXPECT_EQ(no_origin.error().what, node_error::kind::command);
    EXPECT_NE(no_origin.error().message.find("lvcreate --snapshot --name n1.0"), std::string::npos)
        << no_origin.error().message;
    EXPECT_NE(no_origin.error().message.find("Snapshot origin LV nobase not found in Volume group vg0."),
              std::string::npos);
    auto thick = store.create("n1", "vg0/thick");
    ASSERT_FALSE(thick);
    EXPECT_NE(thick.error().message.find("not a thin volume"), std::string::npos) << thick.error().message;
    EXPECT_FALSE(store.create("n1", "vg1/base")) << "another VG";
    EXPECT_FALSE(store.create("n 1", "vg0/base")) << "a bad name";

    auto live = store.create("n1", "vg0/base").value();
    auto again = store.create("n1", "vg0/base");
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().what, node_error::kind::state);
    ASSERT_TRUE(store.snapshot(live, "cp1", nullptr));
    auto twice = store.snapshot(live, "cp1", nullptr);
    ASSERT_FALSE(twice);
    EXPECT_EQ(twice.error().what, node_error::kind::state);
    EXPECT_FALSE(store.branch(live)) << "a branch is of a snapshot";

    // What the store guards against, lvm itself refuses: the real message and exit status.
    auto clash = run_command({lvm, "lvcreate", "--snapshot", "--name", "n1.0", "vg0/base"});
    ASSERT_TRUE(clash);
    EXPECT_EQ(clash->exit_status, 5);
    EXPECT_EQ(clash->err, "  Logical Volume \"n1.0\" already exists in volume group \"vg0\"\n");
    auto bad_flag = run_command({lvm, "lvcreate", "--size", "1G", "vg0/base"});
    ASSERT_TRUE(bad_flag);
    EXPECT_EQ(bad_flag->exit_status, 3);
    auto no_lv = run_checked({lvm, "lvremove", "-f", "vg0/none"});
    ASSERT_FALSE(no_lv);
    EXPECT_NE(no_lv.error().message.find("Failed to find logical volume \"vg0/none\""), std::string::npos);
}

TEST_F(LvmStore, AStoreIsFoundAgainFromTheVolumeGroupAlone)
{
    {
        auto store = open_store();
        auto live = store.create("n1", "vg0/base").value();
        ASSERT_TRUE(store.snapshot(live, "cp1", nullptr));
    }
    auto again = open_store();
    auto snap = again.find("n1+cp1");
    ASSERT_TRUE(snap);
    EXPECT_EQ(snap->disk, "n1");
    EXPECT_EQ(snap->checkpoint, "cp1");
    auto b = again.branch(*snap);
    ASSERT_TRUE(b);
    EXPECT_EQ(b->name, "n1.1");
}

}  // namespace
}  // namespace stasis::node
