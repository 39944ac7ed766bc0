// The QMP client against a fake monitor: negotiation, errors, events interleaved with replies, stale
// replies, timeouts, a monitor that dies, passing a file descriptor.
#include <fcntl.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>

#include <gtest/gtest.h>

#include "fake_qmp.hpp"
#include "stasis/node/qmp_client.hpp"

namespace stasis::node {
namespace {

using test::fake_qmp;
using json = nlohmann::json;
using ms = std::chrono::milliseconds;
using kind = node_error::kind;

class qmp_client_test : public ::testing::Test {
protected:
    void SetUp() override
    {
        char tmpl[] = "/tmp/stasis-qmp-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        _dir = tmpl;
        path = _dir + "/qmp.sock";
    }
    void TearDown() override { std::filesystem::remove_all(_dir); }

    std::string path;

private:
    std::string _dir;
};

TEST_F(qmp_client_test, negotiates_capabilities_first_and_keeps_the_greeting)
{
    fake_qmp fake(path, [](fake_qmp &f, const json &req, int) { f.reply(req, {{"status", "running"}}); });
    auto qmp = qmp_client::connect(path, ms(2000));
    ASSERT_TRUE(qmp) << qmp.error().message;
    EXPECT_EQ(qmp->greeting()["version"]["qemu"]["major"], 7);
    auto status = qmp->execute("query-status");
    ASSERT_TRUE(status) << status.error().message;
    EXPECT_EQ((*status)["status"], "running");
    EXPECT_EQ(fake.commands(), (std::vector<std::string>{"qmp_capabilities", "query-status"}));
}

TEST_F(qmp_client_test, a_qmp_error_is_a_command_error_naming_the_socket_and_the_reason)
{
    fake_qmp fake(path, [](fake_qmp &f, const json &req, int) {
        f.send({{"error", {{"class", "CommandNotFound"}, {"desc", "The command bogus has not been found"}}},
                {"id", req["id"]}});
    });
    auto qmp = qmp_client::connect(path, ms(2000));
    ASSERT_TRUE(qmp) << qmp.error().message;
    auto r = qmp->execute("bogus");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().what, kind::command);
    EXPECT_NE(r.error().message.find(path), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("CommandNotFound"), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("has not been found"), std::string::npos) << r.error().message;
}

TEST_F(qmp_client_test, events_before_a_reply_are_queued_in_order_with_their_timestamps)
{
    fake_qmp fake(path, [](fake_qmp &f, const json &req, int) {
        f.event("NIC_RX_FILTER_CHANGED", 100, 1);
        f.event("STOP", 1'700'000'000, 123'456);
        f.reply(req);
    });
    auto qmp = qmp_client::connect(path, ms(2000));
    ASSERT_TRUE(qmp) << qmp.error().message;
    ASSERT_TRUE(qmp->execute("stop"));
    auto stop = qmp->wait_event("STOP", ms(100));
    ASSERT_TRUE(stop) << stop.error().message;
    EXPECT_EQ(stop->timestamp_ns, 1'700'000'000'123'456'000);
    auto rest = qmp->take_events();
    ASSERT_EQ(rest.size(), 1u);
    EXPECT_EQ(rest[0].name, "NIC_RX_FILTER_CHANGED");
    EXPECT_TRUE(qmp->take_events().empty());
}

TEST_F(qmp_client_test, an_event_after_the_reply_is_waited_for)
{
    fake_qmp fake(path, [](fake_qmp &f, const json &req, int) {
        f.reply(req);
        std::this_thread::sleep_for(ms(50));
        f.event("RESUME", 5, 0);
    });
    auto qmp = qmp_client::connect(path, ms(2000));
    ASSERT_TRUE(qmp);
    ASSERT_TRUE(qmp->execute("cont"));
    auto resume = qmp->wait_event("RESUME", ms(2000));
    ASSERT_TRUE(resume) << resume.error().message;
    EXPECT_EQ(resume->timestamp_ns, 5'000'000'000);
    auto none = qmp->wait_event("RESUME", ms(50));
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error().what, kind::timeout);
}

TEST_F(qmp_client_test, a_timed_out_command_fails_and_its_late_reply_is_not_taken_for_the_next)
{
    json late;
    fake_qmp fake(path, [&late](fake_qmp &f, const json &req, int) {
        if (req["execute"] == "slow") {
            late = req;  // answered only when the next command comes
            return;
        }
        f.reply(late, "late answer of slow");
        f.reply(req, "answer of fast");
    });
    auto qmp = qmp_client::connect(path, ms(2000));
    ASSERT_TRUE(qmp);
    const auto t0 = std::chrono::steady_clock::now();
    auto slow = qmp->execute("slow", nullptr, ms(100));
    ASSERT_FALSE(slow);
    EXPECT_EQ(slow.error().what, kind::timeout);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, ms(1000));
    auto fast = qmp->execute("fast");
    ASSERT_TRUE(fast) << fast.error().message;
    EXPECT_EQ(*fast, "answer of fast");
}

TEST_F(qmp_client_test, qemu_dying_mid_command_is_a_closed_error_naming_the_socket)
{
    fake_qmp fake(path, [](fake_qmp &f, const json &, int) { f.close_connection(); });
    auto qmp = qmp_client::connect(path, ms(2000));
    ASSERT_TRUE(qmp);
    auto r = qmp->execute("quit", nullptr, ms(2000));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().what, kind::closed);
    EXPECT_NE(r.error().message.find(path), std::string::npos) << r.error().message;
    auto again = qmp->execute("query-status", nullptr, ms(500));
    ASSERT_FALSE(again);
    EXPECT_TRUE(again.error().what == kind::closed || again.error().what == kind::io) << again.error().message;
}

TEST_F(qmp_client_test, a_peer_that_is_not_qmp_is_refused)
{
    fake_qmp fake(path, [](fake_qmp &, const json &, int) {}, json{{"hello", "I am not QEMU"}});
    auto qmp = qmp_client::connect(path, ms(1000));
    ASSERT_FALSE(qmp);
    EXPECT_EQ(qmp.error().what, kind::protocol);
    EXPECT_NE(qmp.error().message.find("not a QMP socket"), std::string::npos) << qmp.error().message;
}

TEST_F(qmp_client_test, a_line_that_is_not_json_is_a_protocol_error)
{
    fake_qmp fake(path, [](fake_qmp &f, const json &, int) { f.send_raw("this is not json\n"); });
    auto qmp = qmp_client::connect(path, ms(2000));
    ASSERT_TRUE(qmp);
    auto r = qmp->execute("query-status");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().what, kind::protocol);
}

TEST_F(qmp_client_test, no_socket_is_a_timeout_naming_the_path)
{
    const auto t0 = std::chrono::steady_clock::now();
    auto qmp = qmp_client::connect(path, ms(150));
    ASSERT_FALSE(qmp);
    EXPECT_EQ(qmp.error().what, kind::timeout);
    EXPECT_NE(qmp.error().message.find(path), std::string::npos) << qmp.error().message;
    EXPECT_GE(std::chrono::steady_clock::now() - t0, ms(150));
}

TEST_F(qmp_client_test, a_greeting_that_never_comes_times_out)
{
    fake_qmp fake(path, [](fake_qmp &, const json &, int) {}, nullptr);
    auto qmp = qmp_client::connect(path, ms(200));
    ASSERT_FALSE(qmp);
    EXPECT_EQ(qmp.error().what, kind::timeout);
}

TEST_F(qmp_client_test, getfd_passes_the_file_descriptor_itself)
{
    const std::string file = path + ".state";
    const int fd = open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0);
    struct stat mine{};
    fstat(fd, &mine);
    ino_t received_inode = 0;
    json received_args;
    fake_qmp fake(path, [&](fake_qmp &f, const json &req, int passed) {
        struct stat st{};
        if (passed >= 0 && fstat(passed, &st) == 0)
            received_inode = st.st_ino;
        received_args = req["arguments"];
        f.reply(req);
    });
    auto qmp = qmp_client::connect(path, ms(2000));
    ASSERT_TRUE(qmp);
    auto r = qmp->execute_with_fd("getfd", {{"fdname", "stasis-save"}}, fd);
    close(fd);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(received_inode, mine.st_ino);
    EXPECT_EQ(received_args["fdname"], "stasis-save");
}

}  // namespace
}  // namespace stasis::node
