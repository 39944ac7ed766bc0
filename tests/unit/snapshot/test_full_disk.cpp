// Saving onto a full file system: a typed error naming the file and "No space left on device", no
// temporary left, an older snapshot under the name untouched, the caller's state untouched, and a
// save elsewhere that then succeeds. Needs root for the 1 MiB tmpfs.
#include <gtest/gtest.h>

#include <sys/mount.h>

#include <cerrno>
#include <cstring>

#include "snapshot_test_util.hpp"
#include "stasis/snapshot/reader.hpp"
#include "stasis/snapshot/writer.hpp"

namespace stasis::snapshot {
namespace {

class FullDisk : public ::testing::Test {
protected:
    void SetUp() override
    {
        // The test suites run as root (scripts/bootstrap test): a full disk is a small tmpfs.
        if (::mount("tmpfs", _small.path().c_str(), "tmpfs", 0, "size=1m") != 0)
            FAIL() << "mount tmpfs on " << _small.path() << ": " << std::strerror(errno)
                   << (errno == EPERM ? " (the test needs root: CAP_SYS_ADMIN)" : "");
        _mounted = true;
    }
    void TearDown() override
    {
        // Also after a failed assertion: gtest runs TearDown whatever the test did.
        if (_mounted && ::umount2(_small.path().c_str(), MNT_DETACH) != 0)
            ADD_FAILURE() << "umount " << _small.path() << ": " << std::strerror(errno);
    }

    test::temp_dir _small, _other;
    bool _mounted = false;
};

TEST_F(FullDisk, ErrorsCleanlyAndLeavesEverythingAsItWas)
{
    const std::string path = _small.file("snap.stasis");
    // An older, small snapshot under the same name.
    const snapshot_data old = test::sample(2, 1);
    ASSERT_TRUE(save_all(path, old));

    // About 2 MiB of packets: does not fit in 1 MiB.
    snapshot_data big = test::sample(0, 2);
    std::mt19937_64 rng(9);
    for (int i = 0; i < 1'400; i++)
        big.links[0].pipes[0].packets.push_back({-i, i, test::frame_bytes(rng, 1'500)});
    const snapshot_data before = big;

    auto ok = save_all(path, big);
    ASSERT_FALSE(ok);
    EXPECT_EQ(ok.error().code, errc::no_space);
    EXPECT_EQ(ok.error().sys_errno, ENOSPC);
    EXPECT_NE(ok.error().message.find("No space left on device"), std::string::npos)
        << ok.error().message;
    EXPECT_TRUE(ok.error().message.starts_with(path + ": ")) << ok.error().message;

    // No temporary; the older snapshot is still there and whole.
    EXPECT_EQ(_small.entries(), std::vector<std::string>{"snap.stasis"});
    auto r = test::load(path);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(*r, old);

    // The caller still has its state, and saves it elsewhere.
    EXPECT_EQ(big, before);
    const std::string elsewhere = _other.file("snap.stasis");
    ASSERT_TRUE(save_all(elsewhere, big));
    r = test::load(elsewhere);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(*r, big);
}

TEST_F(FullDisk, StreamingWriterReportsAtTheFailingCall)
{
    const std::string path = _small.file("s.stasis");
    const snapshot_data s = test::sample(0);
    auto w = snapshot_writer::create(path, s.header);
    ASSERT_TRUE(w) << w.error().message;
    ASSERT_TRUE(w->begin_link(s.links[0].link));
    ASSERT_TRUE(w->add_pipe(s.links[0].pipes[0].pipe));
    std::vector<std::byte> frame(9'000, std::byte{0x5a});
    result<void> last;
    int calls = 0;
    while (last && calls < 1'000) {  // 9 MB at most
        last = w->add_packet(calls, calls, frame);
        calls++;
    }
    ASSERT_FALSE(last) << "1 MiB file system never filled";
    EXPECT_EQ(last.error().code, errc::no_space);
    EXPECT_TRUE(_small.entries().empty());
    // Every later call says the same.
    auto again = w->commit();
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().message, last.error().message);
}

}  // namespace
}  // namespace stasis::snapshot
