// Bad captures: each refused with a message naming the file and what is wrong (and the packet and
// offset when a record is at fault), and no output file left behind.
#include <gtest/gtest.h>

#include <filesystem>

#include "pcap_files.hpp"

namespace stasis::replay::test {
namespace {

class BadPcap : public ::testing::Test {
protected:
    temp_dir dir;
    std::string in = dir / "in.pcap", out = dir / "out.pcap";

    // The replay's error message; fails the test if there is none.
    std::string error_of()
    {
        replay_options o;
        o.in_path = in;
        o.out_path = out;
        o.params.delay_ns = 1 * ms;
        try {
            run_replay(o);
        } catch (const replay_error &e) {
            EXPECT_FALSE(std::filesystem::exists(out)) << "an output file was left behind";
            for (const auto &f : std::filesystem::directory_iterator(dir.path()))
                EXPECT_EQ(f.path().string().find(".tmp-"), std::string::npos) << f.path();
            return e.what();
        }
        ADD_FAILURE() << "the replay accepted " << in;
        return "";
    }
    std::vector<packet> three()
    {
        return {{epoch, 100, 100, 1}, {epoch + 1, 100, 100, 2}, {epoch + 2, 100, 100, 3}};
    }
};

TEST_F(BadPcap, TruncatedRecordData)
{
    write_pcap(in, three());
    std::filesystem::resize_file(in, 24 + 2 * (16 + 100) + 16 + 40);  // third record: 40 of 100 bytes
    const std::string e = error_of();
    EXPECT_NE(e.find(in + ": packet 3 (offset 256)"), std::string::npos) << e;
    EXPECT_NE(e.find("truncated"), std::string::npos) << e;
}

TEST_F(BadPcap, TruncatedRecordHeader)
{
    write_pcap(in, three());
    std::filesystem::resize_file(in, 24 + 16 + 100 + 7);  // second record: 7 of its 16 header bytes
    const std::string e = error_of();
    EXPECT_NE(e.find(in + ": packet 2 (offset 140)"), std::string::npos) << e;
    EXPECT_NE(e.find("truncated"), std::string::npos) << e;
}

TEST_F(BadPcap, WrongLinkType)
{
    write_pcap(in, three(), 113);  // DLT_LINUX_SLL: `tcpdump -i any`
    const std::string e = error_of();
    EXPECT_NE(e.find(in + ": link type DLT 113 (LINUX_SLL"), std::string::npos) << e;
    EXPECT_NE(e.find("DLT_EN10MB"), std::string::npos) << e;
}

TEST_F(BadPcap, EmptyFile)
{
    std::ofstream(in).close();
    EXPECT_EQ(error_of(), in + ": empty file (0 bytes), not a pcap");
}

TEST_F(BadPcap, HeaderButNoPackets)
{
    write_pcap(in, {});
    EXPECT_EQ(error_of(), in + ": no packets");
}

TEST_F(BadPcap, NotAPcap)
{
    std::ofstream(in) << "hello, this is a text file and not a capture at all\n";
    const std::string e = error_of();
    EXPECT_NE(e.find(in + ": not a pcap or pcapng capture"), std::string::npos) << e;
}

TEST_F(BadPcap, Missing)
{
    in = dir / "nowhere.pcap";
    EXPECT_EQ(error_of(), in + ": No such file or directory");
}

TEST_F(BadPcap, TimestampGoingBackwards)
{
    auto p = three();
    p.push_back({epoch + 1, 100, 100, 4});  // before packet 3 (epoch + 2)
    write_pcap(in, p);
    const std::string e = error_of();
    EXPECT_NE(e.find(in + ": packet 4 (offset 372): timestamp"), std::string::npos) << e;
    EXPECT_NE(e.find("goes back 1 ns before packet 3"), std::string::npos) << e;
}

TEST_F(BadPcap, CaplenAboveWireLength)
{
    write_pcap(in, {{epoch, 100, 100, 1}, {epoch + 1, 50, 100, 2}});
    const std::string e = error_of();
    EXPECT_NE(e.find(in + ": packet 2 (offset 140): captured length 100 exceeds the wire length 50"),
              std::string::npos) << e;
}

TEST_F(BadPcap, MicrosecondCaptureIsReadExactly)
{
    // Not an error: a microsecond pcap is scaled to ns by libpcap.
    write_pcap(in, {{epoch + 5 * us, 100, 100, 1}}, 1, false);
    replay_options o;
    o.in_path = in;
    o.out_path = out;
    o.params.delay_ns = 1 * ms;
    run_replay(o);
    const auto got = read_pcap(out);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].ts_ns, epoch + 5 * us + 1 * ms);
}

}  // namespace
}  // namespace stasis::replay::test
