// stasis-noded's agent against fake guests (no QEMU): the Prepare/Save/Abort/Thaw/Load/Release state
// machine, the events, the manifest, the disk snapshots in a real qcow2 store, and error replies.
#include <time.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "node_agent.hpp"
#include "qcow2_store.hpp"
#include "run_command.hpp"

namespace stasis::noded {
namespace {

namespace ctl = stasis::control;
namespace fs = std::filesystem;
using node::guest_state;
using node::node_error;

int64_t now_ns()
{
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

void sleep_until(int64_t t)
{
    while (now_ns() < t)
        std::this_thread::sleep_for(std::chrono::microseconds(200));
}

// What the fake guests did, shared by every backend the host made (a restore makes a new one).
struct guest_log {
    std::atomic<int> freezes{0}, resumes{0}, saves{0}, restores{0}, releases{0};
    std::atomic<bool> fail_freeze{false};
    std::atomic<int64_t> stop_late_ns{0};  // its stop lands this long after F, as a busy QEMU's does
    std::atomic<int64_t> resumed_for{0};   // the instant its last resume_at was asked for
    std::atomic<int64_t> frozen_for{0};    // the instant its last freeze_at was asked for
    std::atomic<int64_t> cont_ns{1'000'000};  // its cont lands this long after it is issued
    std::atomic<bool> frames_file{false};     // its save writes a file beside the state, as QEMU's taps do
    std::string save_warning;                 // its save succeeds with this warning
    std::string last_disk;
    // How its QEMU ended unasked, as qemu_backend::lost() says it ("" while it runs).
    void set_lost(std::string why)
    {
        std::lock_guard lock(mu);
        lost = std::move(why);
    }
    std::string lost_text()
    {
        std::lock_guard lock(mu);
        return lost;
    }

private:
    std::mutex mu;
    std::string lost;
};

class fake_backend final : public node::guest_backend {
public:
    fake_backend(std::string name, guest_log &log) : _name(std::move(name)), _log(log) {}
    node::result<void> start() override
    {
        _state = guest_state::running;
        return {};
    }
    node::result<node::instant_report> freeze_at(int64_t f) override
    {
        if (_state != guest_state::running)
            return node::fail(node_error::kind::state, _name + " is not running");
        _log.frozen_for = f;
        sleep_until(f + _log.stop_late_ns);
        if (_log.fail_freeze)
            return node::fail(node_error::kind::closed, "QEMU for " + _name + " exited");
        ++_log.freezes;
        _state = guest_state::frozen;
        return node::instant_report{.target_ns = f, .issued_ns = f, .returned_ns = now_ns(),
                                    .landed_ns = f + _log.stop_late_ns};
    }
    node::result<node::save_report> save(const std::string &path) override
    {
        if (_state != guest_state::frozen)
            return node::fail(node_error::kind::state, _name + " is not frozen");
        std::ofstream(path) << "state of " << _name;
        ++_log.saves;
        node::save_report r{.path = path, .size_bytes = int64_t(fs::file_size(path)), .started_ns = 0,
                            .finished_ns = 0};
        if (_log.frames_file) {
            std::ofstream(path + ".nic0.pcap") << "frames of " << _name;
            r.files.push_back(path + ".nic0.pcap");
            r.tap_frames = 1;
        }
        if (!_log.save_warning.empty())
            r.warnings.push_back(_log.save_warning);
        return r;
    }
    node::result<node::restore_report> restore(const std::string &path) override
    {
        std::ifstream in(path);
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (text != "state of " + _name)
            return node::fail(node_error::kind::protocol, path + " is not " + _name + "'s state");
        ++_log.restores;
        _state = guest_state::frozen;
        return node::restore_report{.path = path, .started_ns = 1, .launched_ns = 2, .finished_ns = 3,
                                    .frozen_at_ns = 0};
    }
    node::result<node::instant_report> resume_at(int64_t r) override
    {
        _log.resumed_for = r;  // asked for, whatever its state (a guest whose stop failed is thawed too)
        if (_state != guest_state::frozen)
            return node::fail(node_error::kind::state, _name + " is not frozen");
        sleep_until(r + _log.cont_ns);
        ++_log.resumes;
        _state = guest_state::running;
        return node::instant_report{.target_ns = r, .issued_ns = r, .returned_ns = now_ns(),
                                    .landed_ns = r + _log.cont_ns};
    }
    node::result<void> release() override
    {
        if (_state != guest_state::absent && _state != guest_state::released)
            ++_log.releases;
        _state = guest_state::released;
        return {};
    }
    node::guest_status status() override { return {.state = _state, .pid = 0, .detail = {}}; }
    std::string lost() override { return _log.lost_text(); }
    node::catch_up_report last_catch_up() const override { return {}; }

private:
    std::string _name;
    guest_log &_log;
    guest_state _state = guest_state::absent;
};

class fake_host final : public guest_host {
public:
    std::unique_ptr<node::guest_backend> make(const std::string &guest, const std::string &disk) override
    {
        logs[guest].last_disk = disk;
        return std::make_unique<fake_backend>(guest, logs[guest]);
    }
    node::result<void> switch_disk(node::guest_backend &, const node::snapshot_plan &plan) override
    {
        std::lock_guard lock(mu);  // the guests save in parallel
        switched.push_back(plan.next_live.name);
        return {};
    }
    std::mutex mu;
    std::map<std::string, guest_log> logs;
    std::vector<std::string> switched;
};

class noded_agent_test : public ::testing::Test {
protected:
    void SetUp() override
    {
        char tmpl[] = "/tmp/stasis-noded-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir = tmpl;
    }
    void TearDown() override { fs::remove_all(dir); }

    std::unique_ptr<node_agent> make_agent(node::disk_store *store = nullptr, std::string base = {})
    {
        return std::make_unique<node_agent>("n1", std::vector<guest_def>{{"g1", base}, {"g2", base}}, host, store);
    }

    static ctl::Reply prepare(node_agent &a, const std::string &ckpt, int64_t f)
    {
        ctl::Request q;
        q.mutable_prepare()->set_checkpoint(ckpt);
        q.mutable_prepare()->set_freeze_ns(f);
        return a.handle(q);
    }
    static ctl::Reply save(node_agent &a, const std::string &path)
    {
        ctl::Request q;
        q.mutable_save()->set_path(path);
        return a.handle(q);
    }
    static ctl::Reply thaw(node_agent &a, int64_t r)
    {
        ctl::Request q;
        q.mutable_thaw()->set_at_ns(r);
        return a.handle(q);
    }
    static ctl::Reply abort(node_agent &a, const std::string &ckpt, int64_t r)
    {
        ctl::Request q;
        q.mutable_abort()->set_checkpoint(ckpt);
        q.mutable_abort()->set_resume_ns(r);
        return a.handle(q);
    }
    static ctl::Reply load(node_agent &a, const std::string &path, bool discard = false)
    {
        ctl::Request q;
        q.mutable_load()->set_path(path);
        q.mutable_load()->set_discard_frozen(discard);
        return a.handle(q);
    }
    static ctl::Reply release(node_agent &a, bool force)
    {
        ctl::Request q;
        q.mutable_release()->set_force(force);
        return a.handle(q);
    }
    // Ticks until an event of `kind` (every event seen goes to `seen`), at most 3 s.
    static std::optional<ctl::Event> wait_event(node_agent &a, ctl::Event::Kind kind,
                                                std::vector<ctl::Event> *seen = nullptr)
    {
        const int64_t deadline = now_ns() + 3'000'000'000;
        while (now_ns() < deadline) {
            for (auto &e : a.tick()) {
                if (seen)
                    seen->push_back(e);
                if (e.kind() == kind)
                    return e;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        return std::nullopt;
    }

    std::string dir;
    fake_host host;
};

TEST_F(noded_agent_test, hello_names_the_agent_and_its_capabilities)
{
    auto a = make_agent();
    ctl::Request q;
    q.mutable_hello();
    auto r = a->handle(q);
    EXPECT_EQ(r.status(), ctl::OK);
    EXPECT_EQ(r.hello().agent(), "stasis-noded");
    const auto &caps = r.hello().capabilities();
    for (const char *c : {"prepare", "save", "load", "abort", "release", "events", "clock.probe"})
        EXPECT_NE(std::find(caps.begin(), caps.end(), c), caps.end()) << c;
    q.mutable_clock_probe();
    r = a->handle(q);
    EXPECT_LE(r.clock().receive_ns(), r.clock().transmit_ns());
    EXPECT_GT(r.clock().receive_ns(), 0);
}

TEST_F(noded_agent_test, prepare_freezes_every_guest_at_f_then_save_and_release)
{
    auto a = make_agent();
    ASSERT_TRUE(a->start_guests());
    const int64_t f = now_ns() + 50'000'000;
    auto p = prepare(*a, "c1", f);
    ASSERT_EQ(p.status(), ctl::OK) << p.message();
    EXPECT_TRUE(p.freeze().frozen());
    EXPECT_EQ(p.freeze().freeze_ns(), f);
    EXPECT_EQ(prepare(*a, "c1", f).freeze().checkpoint(), "c1");  // a repeat is answered, not redone

    ctl::Request st;
    st.mutable_freeze_status();
    auto before = a->handle(st);
    EXPECT_TRUE(before.freeze().frozen());
    EXPECT_FALSE(before.freeze().reached());
    ASSERT_EQ(before.freeze().workers_size(), 2);
    EXPECT_EQ(before.freeze().workers(0).noticed_ns(), 0);
    EXPECT_EQ(save(*a, dir + "/early").status(), ctl::INVALID_ARGUMENT);  // not frozen yet

    auto frozen = wait_event(*a, ctl::Event::FROZEN);
    ASSERT_TRUE(frozen);
    EXPECT_GE(now_ns(), f);
    EXPECT_EQ(frozen->checkpoint(), "c1");
    EXPECT_EQ(frozen->agent(), "n1");
    ASSERT_EQ(frozen->freeze().workers_size(), 2);
    for (const auto &w : frozen->freeze().workers()) {
        EXPECT_GE(w.noticed_ns(), f);
        EXPECT_LT(w.noticed_ns() - f, 20'000'000) << "the fake guests stop within 20 ms of F";
    }
    EXPECT_EQ(frozen->freeze().links_size(), 0);
    EXPECT_EQ(host.logs["g1"].freezes, 1);
    EXPECT_EQ(host.logs["g2"].freezes, 1);

    auto rel = release(*a, false);
    EXPECT_EQ(rel.status(), ctl::INVALID_ARGUMENT) << "frozen but not saved";
    EXPECT_NE(rel.message().find("not saved"), std::string::npos);

    const std::string path = dir + "/snaps/demo/c1/n1";
    auto s = save(*a, path);
    ASSERT_EQ(s.status(), ctl::OK) << s.message();
    EXPECT_EQ(s.snapshot().path(), path);
    EXPECT_EQ(s.snapshot().freeze_ns(), f);
    EXPECT_GT(s.snapshot().file_bytes(), 20u);
    EXPECT_EQ(s.snapshot().checksum().rfind("crc32c:", 0), 0u);
    EXPECT_FALSE(fs::exists(path + ".part"));
    std::ifstream in(path + "/manifest.json");
    const auto m = nlohmann::json::parse(in);
    EXPECT_EQ(m["checkpoint"], "c1");
    EXPECT_EQ(m["guests"].size(), 2u);
    EXPECT_TRUE(fs::exists(path + "/g1.state"));
    EXPECT_EQ(save(*a, dir + "/again").status(), ctl::INVALID_ARGUMENT);  // one save per freeze
    auto saved = wait_event(*a, ctl::Event::SAVED);
    ASSERT_TRUE(saved);
    EXPECT_EQ(saved->snapshot().path(), path);
    auto status = a->handle(st);
    EXPECT_TRUE(status.freeze().saved());
    EXPECT_TRUE(status.freeze().reached());

    rel = release(*a, false);
    ASSERT_EQ(rel.status(), ctl::OK) << rel.message();
    EXPECT_TRUE(a->released());
    EXPECT_EQ(host.logs["g1"].releases, 1);
    EXPECT_TRUE(wait_event(*a, ctl::Event::RELEASED));
}

TEST_F(noded_agent_test, abort_before_f_still_freezes_at_f_and_resumes_at_r)
{
    auto a = make_agent();
    ASSERT_TRUE(a->start_guests());
    const int64_t f = now_ns() + 80'000'000, r = f + 60'000'000;
    ASSERT_EQ(prepare(*a, "c1", f).status(), ctl::OK);
    EXPECT_EQ(abort(*a, "c9", r).status(), ctl::INVALID_ARGUMENT);  // another checkpoint
    EXPECT_EQ(abort(*a, "c1", f - 1).status(), ctl::INVALID_ARGUMENT);  // R before F
    auto ab = abort(*a, "c1", r);
    ASSERT_EQ(ab.status(), ctl::OK) << ab.message();
    EXPECT_TRUE(ab.freeze().frozen());
    EXPECT_EQ(ab.freeze().resume_ns(), r);
    std::vector<ctl::Event> seen;
    ASSERT_TRUE(wait_event(*a, ctl::Event::RESUMED, &seen));
    EXPECT_GE(now_ns(), r);
    ASSERT_GE(seen.size(), 2u);
    EXPECT_EQ(seen.front().kind(), ctl::Event::FROZEN);
    EXPECT_EQ(host.logs["g1"].freezes, 1);
    EXPECT_EQ(host.logs["g2"].resumes, 1);
    EXPECT_EQ(a->phase(), node_phase::running);
}

// Each guest goes on as long after R as its stop landed after F, its cont issued early by its expected
// latency (1 ms before any was measured, then the median of its last conts), so that its pause is the
// network's R - F; the RESUMED event says when each stopped and went on. From the live freeze, again once
// its cont was measured, and after a load (the stops' instants from the manifest).
TEST_F(noded_agent_test, each_guest_resumes_as_long_after_r_as_it_stopped_after_f)
{
    const std::string path = dir + "/c1/n1";
    constexpr int64_t ms = 1'000'000, late = 8 * ms;
    {
        auto a = make_agent();
        ASSERT_TRUE(a->start_guests());
        host.logs["g1"].stop_late_ns = late;
        host.logs["g1"].cont_ns = 2 * ms;
        const int64_t f = now_ns() + 20 * ms;
        ASSERT_EQ(prepare(*a, "c1", f).status(), ctl::OK);
        ASSERT_TRUE(wait_event(*a, ctl::Event::FROZEN));
        ASSERT_EQ(save(*a, path).status(), ctl::OK);
        int64_t r = now_ns() + 30 * ms;
        ASSERT_EQ(thaw(*a, r).status(), ctl::OK);
        auto resumed = wait_event(*a, ctl::Event::RESUMED);
        ASSERT_TRUE(resumed);
        std::printf("[live] %s\n", resumed->message().c_str());
        EXPECT_EQ(host.logs["g1"].resumed_for, r + late - 1 * ms) << "issued 1 ms early: none measured yet";
        EXPECT_EQ(host.logs["g2"].resumed_for, r - 1 * ms) << "g2 stopped at F: it lands at R";
        EXPECT_NE(resumed->message().find("g1 R+9.00 ms (stopped F+8.00 ms; paused R-F+1.00 ms)"), std::string::npos)
            << resumed->message();
        EXPECT_NE(resumed->message().find("g2 R+0.00 ms (stopped F+0.00 ms; paused R-F+0.00 ms)"), std::string::npos)
            << resumed->message();

        // g1's cont took 2 ms: the next one is issued 2 ms early and its pause is R - F.
        const int64_t f2 = now_ns() + 20 * ms;
        ASSERT_EQ(prepare(*a, "c2", f2).status(), ctl::OK);
        ASSERT_TRUE(wait_event(*a, ctl::Event::FROZEN));
        r = now_ns() + 30 * ms;
        ASSERT_EQ(thaw(*a, r).status(), ctl::OK);
        resumed = wait_event(*a, ctl::Event::RESUMED);
        ASSERT_TRUE(resumed);
        std::printf("[live, again] %s\n", resumed->message().c_str());
        EXPECT_EQ(host.logs["g1"].resumed_for, r + late - 2 * ms);
        EXPECT_NE(resumed->message().find("g1 R+8.00 ms (stopped F+8.00 ms; paused R-F+0.00 ms)"), std::string::npos)
            << resumed->message();
        // Its stop took 8 ms twice, and is still issued at F, never before (resume_plan.hpp says why).
        EXPECT_EQ(host.logs["g1"].frozen_for, f2);
    }
    host.logs["g1"].stop_late_ns = 0;
    auto b = make_agent();  // a new daemon loads c1: the stops' instants come from its manifest
    ASSERT_EQ(load(*b, path).status(), ctl::OK);
    const int64_t r = now_ns() + 30 * ms;
    ASSERT_EQ(thaw(*b, r).status(), ctl::OK);
    auto resumed = wait_event(*b, ctl::Event::RESUMED);
    ASSERT_TRUE(resumed);
    EXPECT_NE(resumed->message().find("(stopped F+8.00 ms;"), std::string::npos) << resumed->message();
    EXPECT_EQ(host.logs["g1"].resumed_for, r + late - 1 * ms);
}

// One stalled cont does not move the next resume (the median of the last five); a stop that landed very
// late moves the resume by at most max_resume_shift_ns.
TEST(resume_plan, the_expected_cont_is_the_median_and_the_shift_is_capped)
{
    noded::cont_latency c;
    EXPECT_EQ(c.expected_ns(), noded::cont_latency::default_ns);
    for (int64_t ns : {900'000, 1'100'000, 70'000'000, 1'000'000})
        c.add(ns);
    EXPECT_EQ(c.expected_ns(), 1'100'000);
    for (int i = 0; i < 5; ++i)
        c.add(3'000'000);
    EXPECT_EQ(c.expected_ns(), 3'000'000) << "only the last five count";
    EXPECT_EQ(noded::resume_issue_ns(1'000'000'000, 5'000'000, 1'000'000), 1'004'000'000);
    EXPECT_EQ(noded::resume_issue_ns(1'000'000'000, 500'000'000, 1'000'000),
              1'000'000'000 + noded::max_resume_shift_ns - 1'000'000);
    EXPECT_EQ(noded::resume_issue_ns(1'000'000'000, -3, 0), 1'000'000'000) << "a stop before F: none";
}

// A backend's files beside the state (QEMU's tap frames) are in the manifest with their CRC, which a Load
// checks; its warnings are in the manifest and the Save reply (which the controller reports).
TEST_F(noded_agent_test, a_saves_extra_files_are_checked_at_load_and_its_warnings_reported)
{
    const std::string path = dir + "/c1/n1";
    host.logs["g1"].frames_file = true;
    host.logs["g1"].save_warning = "a frame that reached tapa after the stop is held by QEMU itself";
    {
        auto a = make_agent();
        ASSERT_TRUE(a->start_guests());
        ASSERT_EQ(prepare(*a, "c1", now_ns() + 20'000'000).status(), ctl::OK);
        ASSERT_TRUE(wait_event(*a, ctl::Event::FROZEN));
        auto s = save(*a, path);
        ASSERT_EQ(s.status(), ctl::OK) << s.message();
        ASSERT_EQ(s.snapshot().warnings_size(), 1);
        EXPECT_EQ(s.snapshot().warnings(0), "g1: " + host.logs["g1"].save_warning);
        EXPECT_NE(s.message().find("held by QEMU itself"), std::string::npos) << s.message();
        std::ifstream in(path + "/manifest.json");
        const auto m = nlohmann::json::parse(in);
        const auto &g1 = m["guests"][0]["name"] == "g1" ? m["guests"][0] : m["guests"][1];
        ASSERT_EQ(g1["files"].size(), 1u);
        EXPECT_EQ(g1["files"][0]["file"], "g1.state.nic0.pcap");
        EXPECT_EQ(g1["tap_frames"], 1);
        EXPECT_EQ(g1["warnings"][0], host.logs["g1"].save_warning);
        ASSERT_EQ(release(*a, false).status(), ctl::OK);
    }
    std::ofstream(path + "/g1.state.nic0.pcap", std::ios::app) << " changed";
    auto b = make_agent();
    auto l = load(*b, path);
    EXPECT_EQ(l.status(), ctl::FAILED) << l.message();
    EXPECT_NE(l.message().find("g1.state.nic0.pcap: CRC-32C"), std::string::npos) << l.message();
}

TEST_F(noded_agent_test, abort_after_save_removes_the_directory_and_resumes)
{
    auto a = make_agent();
    ASSERT_TRUE(a->start_guests());
    ASSERT_EQ(prepare(*a, "c1", now_ns() + 20'000'000).status(), ctl::OK);
    ASSERT_TRUE(wait_event(*a, ctl::Event::FROZEN));
    const std::string path = dir + "/c1/n1";
    ASSERT_EQ(save(*a, path).status(), ctl::OK);
    auto ab = abort(*a, "c1", now_ns() + 10'000'000);
    ASSERT_EQ(ab.status(), ctl::OK) << ab.message();
    EXPECT_NE(ab.message().find("removed " + path), std::string::npos) << ab.message();
    EXPECT_FALSE(fs::exists(path));
    ASSERT_TRUE(wait_event(*a, ctl::Event::RESUMED));
    EXPECT_EQ(a->phase(), node_phase::running);
}

TEST_F(noded_agent_test, thaw_before_f_cancels_the_freeze)
{
    auto a = make_agent();
    ASSERT_TRUE(a->start_guests());
    ASSERT_EQ(prepare(*a, "c1", now_ns() + 500'000'000).status(), ctl::OK);
    auto t = thaw(*a, 0);
    ASSERT_EQ(t.status(), ctl::OK);
    EXPECT_EQ(t.message(), "the scheduled freeze is cancelled");
    EXPECT_EQ(a->phase(), node_phase::running);
    EXPECT_EQ(host.logs["g1"].freezes, 0);
    EXPECT_EQ(thaw(*a, 0).status(), ctl::INVALID_ARGUMENT);  // not frozen any more
    EXPECT_EQ(prepare(*a, "c2", now_ns() + 10'000'000).status(), ctl::OK);  // and it can freeze again
    EXPECT_TRUE(wait_event(*a, ctl::Event::FROZEN));
}

TEST_F(noded_agent_test, a_guest_that_fails_to_freeze_is_a_failed_event_and_no_save)
{
    auto a = make_agent();
    ASSERT_TRUE(a->start_guests());
    host.logs["g2"].fail_freeze = true;
    ASSERT_EQ(prepare(*a, "c1", now_ns() + 10'000'000).status(), ctl::OK);
    auto ev = wait_event(*a, ctl::Event::FAILED);
    ASSERT_TRUE(ev);
    EXPECT_NE(ev->message().find("g2: QEMU for g2 exited"), std::string::npos) << ev->message();
    auto s = save(*a, dir + "/c1");
    EXPECT_EQ(s.status(), ctl::FAILED);
    EXPECT_NE(s.message().find("g2 did not freeze"), std::string::npos) << s.message();
    EXPECT_FALSE(fs::exists(dir + "/c1"));
    const int64_t r = now_ns() + 5'000'000;
    ASSERT_EQ(abort(*a, "c1", r).status(), ctl::OK);
    auto after = wait_event(*a, ctl::Event::FAILED);  // g2 cannot resume what never froze
    ASSERT_TRUE(after);
    EXPECT_EQ(host.logs["g1"].resumes, 1);
    // Its stop never landed, so nothing is known of its lateness or of how its cont will go (QEMU may
    // carry out the queued stop and cont at once): it is told to go on at R, not early.
    EXPECT_EQ(host.logs["g2"].resumed_for, r);
}

TEST_F(noded_agent_test, a_lost_guest_is_told_at_once_reported_counted_frozen_and_refused_by_save)
{
    auto a = make_agent();
    ASSERT_TRUE(a->start_guests());
    const std::string why = "QEMU of g1 (pid 4242) killed by signal 9 (SIGKILL)";
    host.logs["g1"].set_lost(why);
    auto ev = wait_event(*a, ctl::Event::FAILED);
    ASSERT_TRUE(ev);
    EXPECT_NE(ev->message().find("g1 is lost: " + why), std::string::npos) << ev->message();
    EXPECT_NE(ev->message().find("stasis timetravel"), std::string::npos) << ev->message();
    EXPECT_TRUE(a->tick().empty()) << "told once";

    ctl::Request q;
    q.mutable_freeze_status();
    auto r = a->handle(q);
    ASSERT_EQ(r.freeze().lost_size(), 1);
    EXPECT_EQ(r.freeze().lost(0).guest(), "g1");
    EXPECT_EQ(r.freeze().lost(0).why(), why);
    q.mutable_hello();
    r = a->handle(q);
    EXPECT_NE(r.message().find("lost: g1: " + why), std::string::npos) << r.message();

    // Counted frozen at F, so that a time travel can replace it; the other guest really freezes.
    const int64_t f = now_ns() + 20'000'000;
    ASSERT_EQ(prepare(*a, "c1", f).status(), ctl::OK);
    auto frozen = wait_event(*a, ctl::Event::FROZEN);
    ASSERT_TRUE(frozen);
    EXPECT_EQ(frozen->freeze().lost_size(), 1);
    EXPECT_EQ(host.logs["g2"].freezes, 1);
    EXPECT_EQ(host.logs["g1"].freezes, 0);
    auto s = save(*a, dir + "/c1");
    EXPECT_EQ(s.status(), ctl::FAILED);
    EXPECT_NE(s.message().find("cannot save: g1 is lost"), std::string::npos) << s.message();
    EXPECT_FALSE(fs::exists(dir + "/c1"));
}

TEST_F(noded_agent_test, load_restores_every_guest_frozen_until_thaw)
{
    const std::string path = dir + "/c1/n1";
    int64_t f = 0;
    {
        auto a = make_agent();
        ASSERT_TRUE(a->start_guests());
        f = now_ns() + 10'000'000;
        ASSERT_EQ(prepare(*a, "c1", f).status(), ctl::OK);
        ASSERT_TRUE(wait_event(*a, ctl::Event::FROZEN));
        ASSERT_EQ(save(*a, path).status(), ctl::OK);
        ASSERT_EQ(release(*a, false).status(), ctl::OK);
    }
    auto b = make_agent();  // a restarted daemon: no guest yet
    EXPECT_EQ(prepare(*b, "c2", now_ns() + 10'000'000).status(), ctl::INVALID_ARGUMENT);
    EXPECT_EQ(load(*b, dir + "/nothing").status(), ctl::NOT_FOUND);
    auto l = load(*b, path);
    ASSERT_EQ(l.status(), ctl::OK) << l.message();
    EXPECT_EQ(l.snapshot().freeze_ns(), f);
    EXPECT_EQ(host.logs["g1"].restores, 1);
    EXPECT_EQ(b->phase(), node_phase::frozen);
    EXPECT_EQ(load(*b, path).status(), ctl::INVALID_ARGUMENT);  // frozen with a state: discard_frozen
    ASSERT_EQ(load(*b, path, true).status(), ctl::OK);
    EXPECT_EQ(host.logs["g1"].restores, 2);
    ctl::Request st;
    st.mutable_freeze_status();
    auto s = b->handle(st);
    EXPECT_TRUE(s.freeze().saved());
    EXPECT_EQ(s.freeze().checkpoint(), "c1");
    ASSERT_EQ(thaw(*b, now_ns() + 5'000'000).status(), ctl::OK);
    ASSERT_TRUE(wait_event(*b, ctl::Event::RESUMED));
    EXPECT_EQ(host.logs["g2"].resumes, 1);

    // A snapshot of other guests is refused by name; a corrupted state by its CRC.
    std::vector<guest_def> other{{"g1", {}}, {"g3", {}}};
    node_agent c("n2", other, host, nullptr);
    auto wrong = load(c, path);
    EXPECT_EQ(wrong.status(), ctl::INVALID_ARGUMENT);
    EXPECT_NE(wrong.message().find("no guest g3"), std::string::npos) << wrong.message();
    std::ofstream(path + "/g2.state") << "state of g2 but changed";
    auto d = make_agent();
    auto bad = load(*d, path);
    EXPECT_EQ(bad.status(), ctl::FAILED);
    EXPECT_NE(bad.message().find("CRC-32C"), std::string::npos) << bad.message();
    EXPECT_EQ(d->phase(), node_phase::absent);
}

TEST_F(noded_agent_test, errors_are_replies_never_crashes)
{
    auto a = make_agent();
    ctl::Request q;
    EXPECT_EQ(a->handle(q).status(), ctl::BAD_REQUEST);  // no operation
    q.mutable_link_show();
    EXPECT_EQ(a->handle(q).status(), ctl::BAD_REQUEST);
    EXPECT_EQ(save(*a, "").status(), ctl::BAD_REQUEST);
    EXPECT_EQ(load(*a, "").status(), ctl::BAD_REQUEST);
    EXPECT_EQ(thaw(*a, 0).status(), ctl::INVALID_ARGUMENT);
    EXPECT_EQ(abort(*a, "c1", 0).status(), ctl::OK);  // nothing to abort is not an error
    EXPECT_EQ(release(*a, false).status(), ctl::INVALID_ARGUMENT);
    ASSERT_TRUE(a->start_guests());
    EXPECT_EQ(prepare(*a, "c1", now_ns() - 1'000'000).status(), ctl::INVALID_ARGUMENT);  // in the past
    EXPECT_EQ(load(*a, dir).status(), ctl::INVALID_ARGUMENT);  // running
    EXPECT_FALSE(a->start_guests());
    auto forced = release(*a, true);
    EXPECT_EQ(forced.status(), ctl::OK) << forced.message();
    EXPECT_TRUE(a->released());
}

TEST_F(noded_agent_test, disks_are_snapshotted_at_save_and_branched_at_load)
{
    const std::string base = dir + "/base.raw";
    ASSERT_TRUE(node::run_checked({"qemu-img", "create", "-q", "-f", "raw", base, "4M"}));
    auto store = node::qcow2_store::open(dir + "/disks");
    ASSERT_TRUE(store);
    const std::string path = dir + "/c1/n1";
    {
        auto a = make_agent(&*store, base);
        ASSERT_TRUE(a->start_guests());
        EXPECT_EQ(host.logs["g1"].last_disk, dir + "/disks/layers/g1.1.qcow2");
        ASSERT_EQ(prepare(*a, "c1", now_ns() + 10'000'000).status(), ctl::OK);
        ASSERT_TRUE(wait_event(*a, ctl::Event::FROZEN));
        auto s = save(*a, path);
        ASSERT_EQ(s.status(), ctl::OK) << s.message();
        std::sort(host.switched.begin(), host.switched.end());
        EXPECT_EQ(host.switched, (std::vector<std::string>{"g1.2", "g2.2"}));
        std::ifstream in(path + "/manifest.json");
        const auto m = nlohmann::json::parse(in);
        EXPECT_EQ(m["guests"][0]["disk"]["volume"], "g1+c1");
        ASSERT_EQ(release(*a, false).status(), ctl::OK);
    }
    auto live = store->list("g1");
    ASSERT_TRUE(live);
    ASSERT_EQ(live->size(), 1u) << "the layer written after the checkpoint goes with the release";
    EXPECT_EQ(live->front().name, "g1+c1");

    auto b = make_agent(&*store, base);
    ASSERT_EQ(load(*b, path).status(), ctl::OK);
    EXPECT_EQ(host.logs["g1"].last_disk, dir + "/disks/layers/g1.2.qcow2");  // numbers of removed layers are reused
    auto branch = store->find("g1.2");
    ASSERT_TRUE(branch);
    EXPECT_EQ(branch->parent, "g1+c1");
    EXPECT_EQ(branch->role, node::volume_role::live);
}

}  // namespace
}  // namespace stasis::noded
