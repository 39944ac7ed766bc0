// The Xen backend against the fake Xen at the xen_api seam (tests/node/fake_xen.*): no hypervisor runs
// here, so what is checked is the sequence of libxl/libxenctrl calls and the domain states they leave.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "fake_xen.hpp"
#include "xen_backend.hpp"

namespace stasis::node {
namespace {

using testing::fake_hypervisor;
using testing::fake_xen;
namespace fs = std::filesystem;

int64_t now_ns()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}
constexpr int64_t ms = 1'000'000;
constexpr int64_t skew_limit_ns = 20 * ms;  // a loaded 2-core host; the fake itself takes microseconds

class XenBackend : public ::testing::Test {
protected:
    void SetUp() override
    {
        char tmpl[] = "/tmp/stasis-xen-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir = tmpl;
        host = std::make_shared<fake_hypervisor>();
    }
    void TearDown() override { fs::remove_all(dir); }

    std::unique_ptr<xen_backend> make(time_mode mode = time_mode::frozen, const std::string &type = "pvh")
    {
        xen_config c;
        c.name = "node1";
        c.domain_config_json = R"({"c_info":{"type":")" + type + R"("},"b_info":{"max_memkb":262144}})";
        c.mode = mode;
        return std::make_unique<xen_backend>(c, std::make_unique<fake_xen>(host));
    }
    testing::fake_domain &dom(uint32_t domid) { return host->domains.at(domid); }
    int64_t ran(uint32_t domid)
    {
        xen_dominfo d;
        fake_xen(host).info(domid, d);
        return int64_t(d.cpu_time_ns);
    }

    std::string dir;
    std::shared_ptr<fake_hypervisor> host;
};

TEST_F(XenBackend, StartCreatesAPausedDomainWithTheTscModeThenUnpausesIt)
{
    auto b = make();
    ASSERT_TRUE(b->start());
    auto &d = dom(b->domid());
    EXPECT_EQ(d.name, "node1");
    EXPECT_EQ(d.tsc.mode, 1u) << "always_emulate written into b_info.tsc_mode";
    EXPECT_EQ(d.pause_count, 0);
    EXPECT_EQ(b->status().state, guest_state::running);
    EXPECT_EQ(b->status().detail, "running");
    EXPECT_EQ(host->calls, (std::vector<std::string>{"create", "set_time_offset 1 0", "unpause 1"}));
    auto again = b->start();
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().what, node_error::kind::state);
}

TEST_F(XenBackend, FreezeLandsAtFAndTheGuestStopsRunning)
{
    auto b = make();
    ASSERT_TRUE(b->start());
    const int64_t f = now_ns() + 50 * ms;
    auto r = b->freeze_at(f);
    ASSERT_TRUE(r) << r.error().message;
    std::printf("freeze skew %.3f ms (pause issued +%.3f ms)\n", double(r->skew_ns()) / ms,
                double(r->issued_ns - f) / ms);
    EXPECT_GE(r->skew_ns(), 0);
    EXPECT_LT(r->skew_ns(), skew_limit_ns);
    EXPECT_EQ(b->status().detail, "paused");
    const int64_t ran_at_freeze = ran(b->domid());
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    EXPECT_EQ(ran(b->domid()), ran_at_freeze) << "a paused domain does not run";
    EXPECT_GE(ran_at_freeze, 40 * ms) << "it ran until F";

    const int64_t rr = now_ns() + 40 * ms;
    auto res = b->resume_at(rr);
    ASSERT_TRUE(res) << res.error().message;
    EXPECT_GE(res->skew_ns(), 0);
    EXPECT_LT(res->skew_ns(), skew_limit_ns);
    EXPECT_EQ(b->status().detail, "running");
    EXPECT_FALSE(b->last_time().rebooted_clock);
    EXPECT_EQ(b->last_catch_up().step_ns, 0) << "frozen mode";
}

TEST_F(XenBackend, ADomainThatDoesNotPauseIsAnErrorAndStaysRunning)
{
    auto b = make();
    ASSERT_TRUE(b->start());
    host->pause_errno = EBUSY;
    auto r = b->freeze_at(0);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().what, node_error::kind::command);
    EXPECT_NE(r.error().message.find("ERROR_FAIL"), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("Pausing domain: Device or resource busy"), std::string::npos);
    EXPECT_EQ(b->status().state, guest_state::running);

    host->pause_errno = 0;
    host->pause_ignored = true;  // the call says yes, the domain info says no
    r = b->freeze_at(0);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().what, node_error::kind::protocol);
    EXPECT_EQ(b->status().state, guest_state::running);
    EXPECT_FALSE(b->save(dir + "/s")) << "cannot save what is not frozen";
}

TEST_F(XenBackend, SaveReleaseRestoreResumeLosesNothingAndBumpsTheTscIncarnation)
{
    auto b = make();
    ASSERT_TRUE(b->start());
    ASSERT_TRUE(b->freeze_at(now_ns() + 20 * ms));
    const uint32_t first = b->domid();
    const int64_t ran_at_freeze = ran(first);
    const std::string path = dir + "/node1.xen";
    auto s = b->save(path);
    ASSERT_TRUE(s) << s.error().message;
    EXPECT_GT(s->size_bytes, 0);
    EXPECT_FALSE(fs::exists(path + ".part"));
    EXPECT_TRUE(fs::exists(path + ".json"));
    EXPECT_EQ(b->status().detail, "suspended,paused") << "after save the domain is suspended and paused again";
    const int64_t ran_in_save = ran(first) - ran_at_freeze;
    EXPECT_GT(b->last_time().ran_after_freeze_ns, 0) << "a PVH guest must run to suspend itself";
    EXPECT_LE(ran_in_save, b->last_time().ran_after_freeze_ns);
    std::printf("a PVH guest ran %.3f ms after F to acknowledge the suspend\n",
                double(b->last_time().ran_after_freeze_ns) / ms);
    const int64_t saved_ran = ran(first);
    EXPECT_EQ(b->last_time().tsc_saved.incarnation, 1u);

    ASSERT_TRUE(b->release());
    EXPECT_EQ(host->domains.count(first), 0u);
    EXPECT_EQ(b->status().state, guest_state::released);
    EXPECT_TRUE(b->release()) << "idempotent";

    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto r = b->restore(path);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_NE(b->domid(), first) << "a restore is a new domain";
    EXPECT_EQ(b->status().detail, "paused") << "libxl leaves a restored domain paused";
    EXPECT_EQ(ran(b->domid()), saved_ran) << "the guest's work is what was saved";
    EXPECT_EQ(b->last_time().tsc_now.incarnation, 2u);
    // The emulated TSC goes on from the saved elapsed time: the 100 ms between save and restore are not in it.
    EXPECT_NEAR(double(b->last_time().tsc_now.elapsed_ns), double(b->last_time().tsc_saved.elapsed_ns),
                double(skew_limit_ns));
    EXPECT_GT(r->frozen_at_ns, 0);

    auto again = b->restore(path);
    ASSERT_FALSE(again) << "one domain at a time";
    EXPECT_EQ(again.error().what, node_error::kind::state);

    ASSERT_TRUE(b->resume_at(now_ns() + 10 * ms));
    EXPECT_EQ(b->status().detail, "running");
}

TEST_F(XenBackend, SaveThenResumeInPlaceCancelsTheSuspend)
{
    auto b = make();
    ASSERT_TRUE(b->start());
    ASSERT_TRUE(b->freeze_at(0));
    ASSERT_TRUE(b->save(dir + "/s"));
    host->calls.clear();
    ASSERT_TRUE(b->resume_at(now_ns() + 5 * ms));
    EXPECT_EQ(host->calls.front(), "resume 1");
    EXPECT_EQ(host->calls.back(), "unpause 1");
    EXPECT_EQ(b->status().detail, "running");
    EXPECT_TRUE(b->last_time().rebooted_clock);
}

TEST_F(XenBackend, AHvmGuestWithoutPvDriversIsSavedWithoutRunningAfterF)
{
    host->hvm_pv_drivers = false;
    auto b = make(time_mode::frozen, "hvm");
    ASSERT_TRUE(b->start());
    ASSERT_TRUE(b->freeze_at(0));
    const int64_t ran_at_freeze = ran(b->domid());
    ASSERT_TRUE(b->save(dir + "/s"));
    EXPECT_EQ(ran(b->domid()), ran_at_freeze);
    EXPECT_EQ(b->last_time().ran_after_freeze_ns, 0);
    EXPECT_EQ(std::count(host->calls.begin(), host->calls.end(), "unpause 1"), 1) << "only start's";
}

TEST_F(XenBackend, AFailedSuspendDiskFullLeavesTheDomainPausedAndNothingLost)
{
    auto b = make();
    ASSERT_TRUE(b->start());
    ASSERT_TRUE(b->freeze_at(0));
    const uint32_t id = b->domid();
    const std::string path = dir + "/full";
    fs::create_symlink("/dev/full", path + ".part");  // every write: ENOSPC
    auto s = b->save(path);
    ASSERT_FALSE(s);
    EXPECT_NE(s.error().message.find("No space left on device"), std::string::npos) << s.error().message;
    EXPECT_FALSE(fs::exists(path));
    EXPECT_FALSE(fs::exists(path + ".json"));
    EXPECT_EQ(host->domains.count(id), 1u);
    EXPECT_EQ(b->status().detail, "paused") << "suspend cancelled, paused again";
    EXPECT_EQ(b->status().state, guest_state::frozen);
    const int64_t ran_now = ran(id);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(ran(id), ran_now);

    auto ok = b->save(dir + "/ok");  // the next save works
    ASSERT_TRUE(ok) << ok.error().message;
}

TEST_F(XenBackend, AGuestThatNeverAcknowledgesTheSuspendTimesOutAndStaysPaused)
{
    auto b = make();
    ASSERT_TRUE(b->start());
    ASSERT_TRUE(b->freeze_at(0));
    host->guest_acks_suspend = false;
    auto s = b->save(dir + "/s");
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().what, node_error::kind::timeout);
    EXPECT_NE(s.error().message.find("ERROR_GUEST_TIMEDOUT"), std::string::npos) << s.error().message;
    EXPECT_EQ(b->status().detail, "paused");
}

TEST_F(XenBackend, RestoreOfADamagedFileFailsAndCreatesNoDomain)
{
    auto b = make();
    ASSERT_TRUE(b->start());
    ASSERT_TRUE(b->freeze_at(0));
    const std::string path = dir + "/s";
    ASSERT_TRUE(b->save(path));
    ASSERT_TRUE(b->release());
    {
        std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(12);
        f.put('#');  // one byte of the record
    }
    auto r = b->restore(path);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("Failed to read Record"), std::string::npos) << r.error().message;
    EXPECT_TRUE(host->domains.empty());
    {
        std::ofstream(path) << "not a stream";
    }
    r = b->restore(path);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("Invalid ident"), std::string::npos) << r.error().message;
    fs::remove(path + ".json");
    r = b->restore(path);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().what, node_error::kind::io);
    EXPECT_EQ(b->status().state, guest_state::released);
}

// Frozen: the restored guest's resume path re-reads Xen's wall clock, moved back by the pause (seconds).
TEST_F(XenBackend, FrozenModeMovesTheWallClockOffsetBackByThePause)
{
    auto b = make(time_mode::frozen);
    ASSERT_TRUE(b->start());
    const int64_t f = now_ns();
    ASSERT_TRUE(b->freeze_at(f));
    ASSERT_TRUE(b->save(dir + "/s"));
    ASSERT_TRUE(b->release());
    ASSERT_TRUE(b->restore(dir + "/s"));
    ASSERT_TRUE(b->resume_at(f + 1600 * ms));  // a 1.6 s pause
    EXPECT_TRUE(b->last_time().rebooted_clock);
    EXPECT_EQ(b->last_time().offset_before_s, 0);
    EXPECT_EQ(b->last_time().offset_after_s, -2) << "1.6 s rounds to 2";
    EXPECT_EQ(dom(b->domid()).time_offset_s, -2);
    EXPECT_EQ(b->last_catch_up().step_ns, 0);
    EXPECT_NEAR(double(b->last_time().pause_ns), 1600.0 * ms, double(skew_limit_ns));
}

// Catch-up: Xen's clocks ran on through the pause; the offset is left alone and the step is the pause.
TEST_F(XenBackend, CatchUpModeLeavesTheOffsetAndReportsThePauseAsTheStep)
{
    auto b = make(time_mode::catch_up);
    ASSERT_TRUE(b->start());
    ASSERT_TRUE(b->freeze_at(now_ns()));
    ASSERT_TRUE(b->save(dir + "/s"));
    ASSERT_TRUE(b->release());
    ASSERT_TRUE(b->restore(dir + "/s"));
    auto r = b->resume_at(now_ns() + 1200 * ms);
    ASSERT_TRUE(r);
    EXPECT_EQ(b->last_time().offset_after_s, 0);
    EXPECT_EQ(dom(b->domid()).time_offset_s, 0);
    for (const auto &c : host->calls)
        EXPECT_NE(c, "set_time_offset 2 -1");
    EXPECT_NEAR(double(b->last_catch_up().step_ns), 1200.0 * ms, double(skew_limit_ns));
}

TEST_F(XenBackend, ReleaseOfADomainDestroyedBehindItsBackIsFine)
{
    auto b = make();
    ASSERT_TRUE(b->start());
    host->domains.clear();
    EXPECT_EQ(b->status().state, guest_state::absent);
    EXPECT_TRUE(b->release());
}

}  // namespace
}  // namespace stasis::node
