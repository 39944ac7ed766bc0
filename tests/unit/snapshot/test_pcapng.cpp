// The pcapng export read back by libpcap: packet count, lengths, bytes and nanosecond timestamps
// (F + arrival), and one interface per link and direction.
#include <gtest/gtest.h>

#include <pcap/pcap.h>

#include <cstring>

#include "snapshot_test_util.hpp"
#include "stasis/snapshot/pcapng.hpp"
#include "stasis/snapshot/writer.hpp"

namespace stasis::snapshot {
namespace {

TEST(Pcapng, LibpcapReadsItBack)
{
    test::temp_dir dir;
    const snapshot_data s = test::sample(30);
    const std::string snap = dir.file("snap.stasis"), out = dir.file("frozen.pcapng");
    ASSERT_TRUE(save_all(snap, s));
    auto r = snapshot_reader::open(snap);
    ASSERT_TRUE(r) << r.error().message;
    auto stats = export_pcapng(*r, out);
    ASSERT_TRUE(stats) << stats.error().message;
    EXPECT_EQ(stats->interfaces, 6u);

    // The expected packets, in file order.
    std::vector<const packet *> want;
    for (const link_data &l : s.links)
        for (const pipe_data &p : l.pipes)
            for (const packet &pk : p.packets)
                want.push_back(&pk);
    EXPECT_EQ(stats->packets, want.size());

    char err[PCAP_ERRBUF_SIZE] = {};
    pcap_t *pc = pcap_open_offline_with_tstamp_precision(out.c_str(), PCAP_TSTAMP_PRECISION_NANO, err);
    ASSERT_NE(pc, nullptr) << err;
    EXPECT_EQ(pcap_datalink(pc), DLT_EN10MB);
    size_t n = 0;
    pcap_pkthdr *h;
    const u_char *data;
    int rc;
    while ((rc = pcap_next_ex(pc, &h, &data)) == 1) {
        ASSERT_LT(n, want.size());
        const packet &p = *want[n];
        const int64_t ts = test::freeze_ns + p.arrival_rel_ns;
        EXPECT_EQ(h->caplen, p.frame.size()) << n;
        EXPECT_EQ(h->len, p.frame.size()) << n;
        EXPECT_EQ(int64_t(h->ts.tv_sec), ts / 1'000'000'000) << n;
        EXPECT_EQ(int64_t(h->ts.tv_usec), ts % 1'000'000'000) << n;  // nanoseconds here
        EXPECT_EQ(std::memcmp(data, p.frame.data(), p.frame.size()), 0) << n;
        n++;
    }
    EXPECT_EQ(rc, PCAP_ERROR_BREAK) << pcap_geterr(pc);
    EXPECT_EQ(n, want.size());
    pcap_close(pc);
    EXPECT_EQ(dir.entries(), (std::vector<std::string>{"frozen.pcapng", "snap.stasis"}));
}

TEST(Pcapng, InterfaceNamesAndResolution)
{
    test::temp_dir dir;
    const std::string snap = dir.file("snap.stasis"), out = dir.file("frozen.pcapng");
    ASSERT_TRUE(save_all(snap, test::sample(1)));
    auto r = snapshot_reader::open(snap);
    ASSERT_TRUE(r);
    ASSERT_TRUE(export_pcapng(*r, out));
    // The interface description blocks carry if_name "lan1/b_to_a" and if_tsresol 9.
    const std::vector<char> bytes = test::read_bytes(out);
    const std::string text(bytes.begin(), bytes.end());
    for (const char *name : {"lan0/a_to_b", "lan0/b_to_a", "lan1/a_to_b", "lan1/b_to_a", "wan/a_to_b",
                             "wan/b_to_a"})
        EXPECT_NE(text.find(name), std::string::npos) << name;
    const char tsresol[] = {9, 0, 1, 0, 9};  // code 9, length 1, value 9
    EXPECT_NE(text.find(std::string(tsresol, 5)), std::string::npos);
}

}  // namespace
}  // namespace stasis::snapshot
