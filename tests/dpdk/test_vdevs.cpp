// The delay node on net_null (an endless source: the rate limit under overload) and net_pcap (frames
// from a capture file to a capture file, byte for byte).
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>
#include <pcap/pcap.h>
#include <rte_bus_vdev.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>

#include "delay_node.hpp"

namespace stasis::test {
namespace {

using namespace stasis::dataplane;

int vdev_counter = 0;

// Creates a vdev and returns its DPDK name.
std::string add_vdev(const std::string &driver, const std::string &args)
{
    const std::string name = driver + std::to_string(100 + vdev_counter++);
    if (rte_vdev_init(name.c_str(), args.c_str()) != 0)
        throw std::runtime_error("cannot create vdev " + name + "," + args);
    return name;
}

link_config link_between(const std::string &a, const std::string &b, const pipe_params &p)
{
    link_config l;
    l.name = "l0";
    l.a.port = a;
    l.b.port = b;
    l.a_to_b = l.b_to_a = p;
    return l;
}

std::unique_ptr<delay_node> start(const link_config &l)
{
    daemon_config cfg;
    cfg.links = {l};
    cfg.worker_lcores = {1};
    cfg.mbufs = 16383;
    worker_options wo;
    wo.idle_sleep_ns = 0;
    auto node = std::make_unique<delay_node>(cfg, node_clock::calibrate(), wo);
    node->start();
    return node;
}

TEST(vdev_null, rate_limit_holds_under_overload)
{
    const std::string a = add_vdev("net_null", "size=1000,copy=1"), b = add_vdev("net_null", "size=1000,copy=1");
    pipe_params p;
    p.rate_bps = 80'000'000;  // 10 MB/s of frames: far below what net_null offers
    p.queue_slots = 100;
    auto node = start(link_between(a, b, p));
    const auto &c = node->counters(*node->find("l0"), true);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const uint64_t b0 = c.tx_bytes.get();
    const auto t0 = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::seconds(2));
    const uint64_t b1 = c.tx_bytes.get();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double rate = double(b1 - b0) * 8 / s;
    // 5%: the window's edges see the worker's backlog when a busy machine deschedules it.
    EXPECT_NEAR(rate, 80e6, 0.05 * 80e6) << "sent bytes per second against the configured rate";
    EXPECT_GT(c.drop_queue.get(), 1000u) << "the overload is tail-dropped";
    EXPECT_LE(c.queue_packets.get(), 100u);
    node.reset();
}

// Writes n Ethernet frames of increasing size with a sequence byte pattern.
void write_capture(const std::string &path, int n)
{
    pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
    pcap_dumper_t *d = pcap_dump_open(dead, path.c_str());
    ASSERT_NE(d, nullptr) << pcap_geterr(dead);
    for (int i = 0; i < n; i++) {
        std::string frame(60 + i % 1400, char(i));
        frame[12] = 0x08;
        frame[13] = 0x00;
        pcap_pkthdr h{};
        h.caplen = h.len = uint32_t(frame.size());
        h.ts.tv_usec = i;
        pcap_dump(reinterpret_cast<u_char *>(d), &h, reinterpret_cast<const u_char *>(frame.data()));
    }
    pcap_dump_close(d);
    pcap_close(dead);
}

TEST(vdev_pcap, frames_cross_byte_for_byte_and_in_order)
{
    char dir[] = "/tmp/stasis-pcap-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    const std::string in = std::string(dir) + "/in.pcap", out = std::string(dir) + "/out.pcap",
                      sink = std::string(dir) + "/sink.pcap";
    constexpr int n = 500;
    write_capture(in, n);
    const std::string a = add_vdev("net_pcap", "rx_pcap=" + in + ",tx_pcap=" + sink);
    const std::string b = add_vdev("net_pcap", "tx_pcap=" + out);
    pipe_params p;
    p.delay_ns = 1'000'000;
    p.queue_slots = 1000;  // the whole file arrives at once
    auto node = start(link_between(a, b, p));
    const auto &c = node->counters(*node->find("l0"), true);
    for (int i = 0; i < 200 && c.tx_packets.get() < n; i++)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(c.rx_packets.get(), uint64_t(n));
    EXPECT_EQ(c.tx_packets.get(), uint64_t(n));
    node.reset();
    uint16_t id;
    for (const std::string &dev : {a, b})
        if (rte_eth_dev_get_port_by_name(dev.c_str(), &id) == 0)
            rte_eth_dev_close(id);  // flushes and closes the capture files
    rte_vdev_uninit(a.c_str());
    rte_vdev_uninit(b.c_str());

    char err[PCAP_ERRBUF_SIZE];
    pcap_t *r = pcap_open_offline(out.c_str(), err);
    ASSERT_NE(r, nullptr) << err;
    pcap_pkthdr *h;
    const u_char *data;
    int i = 0;
    while (pcap_next_ex(r, &h, &data) == 1) {
        ASSERT_LT(i, n);
        ASSERT_EQ(h->len, uint32_t(60 + i % 1400)) << "frame " << i;
        EXPECT_EQ(data[20], u_char(i)) << "frame " << i << " out of order or altered";
        i++;
    }
    pcap_close(r);
    EXPECT_EQ(i, n);
    for (const std::string &f : {in, out, sink})
        unlink(f.c_str());
    rmdir(dir);
}

}  // namespace
}  // namespace stasis::test
