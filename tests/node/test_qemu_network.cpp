// Two guests on persistent taps joined by a bridge in a network namespace, a TCP pattern stream and UDP RTT
// probes between them, checkpointed mid-stream: both frozen at F, saved, killed, restored, resumed at R.
// No delay node here: the guests stop and go on a few ms apart with nothing to hold what one sends the other
// meanwhile, so TCP may retransmit (reported); what must hold is that the application gets every byte,
// intact. Then: frames that reach a stopped guest's tap are kept across a swap-out.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <chrono>
#include <cstdio>
#include <functional>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>

#include <optional>
#include <set>

#include "guest_env.hpp"
#include "stasis/node/qemu_backend.hpp"
#include "stasis/node/tap_queue.hpp"

namespace stasis::node {
namespace {

using json = nlohmann::json;
using ms = std::chrono::milliseconds;
using test::ms_ns;
using test::now_ns;

int sh(const std::string &command) { return std::system((command + " >/dev/null 2>&1").c_str()); }

// A namespace with a bridge and two persistent taps; deleting the namespace deletes them.
class tap_lab {
public:
    tap_lab() : name(prefix + std::to_string(getpid()))
    {
        remove_stale();
        const std::string ip = "ip -n " + name + " ";
        ok = sh("ip netns add " + name) == 0 && sh(ip + "link set lo up") == 0 &&
             sh(ip + "link add br0 type bridge") == 0 && sh(ip + "link set br0 up") == 0;
        for (const char *tap : {"tapa", "tapb"})
            ok = ok && sh(ip + "tuntap add dev " + tap + " mode tap") == 0 &&
                 sh(ip + "link set " + tap + " master br0") == 0 && sh(ip + "link set " + tap + " up") == 0;
    }
    ~tap_lab() { sh("ip netns del " + name); }

    std::string name;
    bool ok = false;

private:
    static constexpr const char *prefix = "stasis-node-";

    // The namespaces of earlier runs that were killed before their destructor ran (their QEMUs died
    // with them: die_with_parent).
    static void remove_stale()
    {
        std::error_code ec;
        for (const auto &e : std::filesystem::directory_iterator("/run/netns", ec)) {
            const std::string n = e.path().filename();
            if (n.rfind(prefix, 0) != 0)
                continue;
            const int pid = std::atoi(n.c_str() + std::strlen(prefix));
            if (pid > 0 && kill(pid, 0) != 0 && errno == ESRCH)
                sh("ip netns del " + n);
        }
    }
};

// Guest number n (10.77.0.n, MAC 52:54:00:77:00:0n) of the project's image on `tap` in the lab.
qemu_config guest_config(const tap_lab &lab, const test::guest_image &image, const test::temp_dir &tmp,
                         const std::string &name, const std::string &tap, int n)
{
    qemu_config c;
    c.name = name;
    c.launcher = {"ip", "netns", "exec", lab.name};
    c.kernel = image.kernel;
    c.initrd = image.initrd;
    c.append = "console=ttyS0 panic=-1 tsc=reliable stasis.name=" + name + " stasis.ip=10.77.0." +
               std::to_string(n) + "/24";
    c.run_dir = tmp.path() + "/" + name;
    c.nics = {{tap, "52:54:00:77:00:0" + std::to_string(n)}};
    c.die_with_parent = true;
    return c;
}

json counter_delta(const json &before, const json &after)
{
    static const std::vector<std::pair<const char *, const char *>> fields{
        {"Tcp", "RetransSegs"},       {"TcpExt", "TCPLostRetransmit"}, {"TcpExt", "TCPTimeouts"},
        {"TcpExt", "TCPSpuriousRTOs"}, {"TcpExt", "TCPLossProbes"},    {"TcpExt", "TCPFastRetrans"},
        {"TcpExt", "TCPSlowStartRetrans"},
    };
    json d;
    for (const auto &[group, field] : fields)
        d[field] = after[group].value(field, 0) - before[group].value(field, 0);
    return d;
}

// Runs f(a) and f(b) at once: both guests freeze (or resume) at the same instant.
template <class F>
void both(F &&f, qemu_backend &a, qemu_backend &b)
{
    std::thread t([&] { f(a); });
    f(b);
    t.join();
}

// The guest image (meson test sets it), root, and a namespace with a bridge and two taps; a folder.
class qemu_network : public ::testing::Test {
protected:
    void SetUp() override
    {
        image = test::image_from_env();
        if (image.kernel.empty())
            GTEST_FAIL() << "STASIS_GUEST_KERNEL / STASIS_GUEST_INITRD not set (meson test sets them)";
        if (geteuid() != 0)
            GTEST_FAIL() << "needs root for the network namespace and taps";
        lab.emplace();
        ASSERT_TRUE(lab->ok) << "cannot set up namespace " << lab->name << " with a bridge and two taps";
        tmp.emplace();
        ASSERT_FALSE(tmp->path().empty());
    }

    test::guest_image image;
    std::optional<tap_lab> lab;
    std::optional<test::temp_dir> tmp;
};

TEST_F(qemu_network, tcp_stream_survives_a_checkpoint_of_both_guests)
{

    qemu_backend a(guest_config(*lab, image, *tmp, "sender", "tapa", 1));
    qemu_backend b(guest_config(*lab, image, *tmp, "receiver", "tapb", 2));
    ASSERT_OK(a.start());
    ASSERT_OK(b.start());
    auto ga = a.agent(ms(180'000));
    ASSERT_OK(ga);
    auto gb = b.agent(ms(180'000));
    ASSERT_OK(gb);

    ASSERT_OK((*gb)->call("stream-recv", {{"port", 5001}}));
    ASSERT_OK((*gb)->call("echo-serve", {{"port", 7007}}));
    ASSERT_OK((*ga)->call("stream-send", {{"ip", "10.77.0.2"}, {"port", 5001}, {"rate_bps", 4'000'000}}));
    ASSERT_OK((*ga)->call("rtt-start", {{"ip", "10.77.0.2"}, {"port", 7007}, {"interval_us", 20'000}}));
    std::this_thread::sleep_for(ms(2000));
    auto control_a = (*ga)->call("counters");  // a control window of the same length without a cut
    ASSERT_OK(control_a);
    std::this_thread::sleep_for(ms(4000));
    auto before_a = (*ga)->call("counters");
    ASSERT_OK(before_a);
    auto before_b = (*gb)->call("counters");
    ASSERT_OK(before_b);
    auto status = (*gb)->call("stream-status");
    ASSERT_OK(status);
    const int64_t received_before = (*status)["stream_recv"]["received_bytes"];
    ASSERT_GT(received_before, 0) << "the stream did not start: " << status->dump();

    const int64_t f = now_ns() + 300 * ms_ns;
    instant_report fa, fb, ra, rb;
    both([&](qemu_backend &g) { auto r = g.freeze_at(f); ASSERT_OK(r); (&g == &a ? fa : fb) = *r; }, a, b);
    int64_t saved_bytes = 0, tap_frames = 0;
    for (auto *g : {&a, &b}) {
        auto s = g->save(tmp->path() + "/" + g->config().name + ".state");
        ASSERT_OK(s);
        saved_bytes += s->size_bytes;
        tap_frames += s->tap_frames;
        ASSERT_OK(g->release());
    }
    for (auto *g : {&a, &b})
        ASSERT_OK(g->restore(tmp->path() + "/" + g->config().name + ".state"));
    const int64_t r = std::max(f + 4'000 * ms_ns, now_ns() + 300 * ms_ns);
    both([&](qemu_backend &g) { auto x = g.resume_at(r); ASSERT_OK(x); (&g == &a ? ra : rb) = *x; }, a, b);

    std::this_thread::sleep_for(ms(4000));
    ga = a.agent(ms(20'000));
    ASSERT_OK(ga);
    gb = b.agent(ms(20'000));
    ASSERT_OK(gb);
    auto stopped = (*ga)->call("stream-stop");
    ASSERT_OK(stopped);
    const int64_t sent = (*stopped)["stream_send"]["sent_bytes"];
    json recv;
    for (int i = 0; i < 100; ++i) {  // until the receiver has it all, or 10 s
        auto s = (*gb)->call("stream-status");
        ASSERT_OK(s);
        recv = (*s)["stream_recv"];
        if (recv["received_bytes"].get<int64_t>() >= sent)
            break;
        std::this_thread::sleep_for(ms(100));
    }
    auto rtt = (*ga)->call("rtt-stop");
    ASSERT_OK(rtt);
    auto after_a = (*ga)->call("counters");
    ASSERT_OK(after_a);
    auto after_b = (*gb)->call("counters");
    ASSERT_OK(after_b);
    const json control = counter_delta((*control_a)["counters"], (*before_a)["counters"]);
    const json da = counter_delta((*before_a)["counters"], (*after_a)["counters"]);
    const json db = counter_delta((*before_b)["counters"], (*after_b)["counters"]);

    std::printf("[two guests] freeze skew %+.3f / %+.3f ms, resume skew %+.3f / %+.3f ms, saved %.1f MiB and %lld "
                "frames from the taps\n",
                fa.skew_ns() / 1e6, fb.skew_ns() / 1e6, ra.skew_ns() / 1e6, rb.skew_ns() / 1e6,
                saved_bytes / 1048576.0, (long long)tap_frames);
    std::printf("[two guests] stream: sent %lld, received %lld (%lld before the cut), first bad offset %lld\n",
                (long long)sent, (long long)recv["received_bytes"].get<int64_t>(), (long long)received_before,
                (long long)recv["first_bad_offset"].get<int64_t>());
    std::printf("[two guests] TCP counters, 4 s control window: sender %s\n", control.dump().c_str());
    std::printf("[two guests] TCP counters, 4 s across the cut: sender %s, receiver %s\n", da.dump().c_str(),
                db.dump().c_str());
    std::printf("[two guests] RTT probes: %s\n", (*rtt)["rtt"].dump().c_str());

    EXPECT_EQ(recv["first_bad_offset"].get<int64_t>(), -1) << "corrupted stream";
    EXPECT_EQ(recv["received_bytes"].get<int64_t>(), sent) << "bytes lost";
    EXPECT_GT(sent, received_before + 1'000'000) << "the stream did not go on after the resume";
    EXPECT_FALSE(recv["closed"].get<bool>() && recv["error"] != "") << recv.dump();
    // A probe sent just before F comes back after R in wall time, but the guests' clocks did not see the
    // pause: no RTT sample may contain it.
    EXPECT_LT((*rtt)["rtt"]["max_ns"].get<int64_t>(), 1'000 * ms_ns);
}


// An AF_PACKET socket on `tap` in namespace `ns`: it sends, and receives every frame both ways (ETH_P_ALL:
// a bridge port's own ARP handlers never see what the bridge takes).
int arp_socket(const std::string &ns, const std::string &tap)
{
    int fd = -1;
    std::thread([&] {
        const int nsfd = open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
        if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) != 0)
            return;
        close(nsfd);
        fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
        sockaddr_ll at{};
        at.sll_family = AF_PACKET;
        at.sll_protocol = htons(ETH_P_ALL);
        at.sll_ifindex = int(if_nametoindex(tap.c_str()));
        if (fd >= 0 && bind(fd, reinterpret_cast<sockaddr *>(&at), sizeof at) != 0) {
            close(fd);
            fd = -1;
        }
    }).join();
    return fd;
}

// "Who has 10.77.0.2? Tell 10.77.0.SENDER", broadcast from a MAC of no guest.
std::string arp_request(int sender)
{
    const unsigned char frame[42] = {
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x99, 0x08, 0x06,  // Ethernet
        0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01,                                            // request
        0x02, 0x00, 0x00, 0x00, 0x00, 0x99, 10, 77, 0, (unsigned char)sender,                // sender
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 10, 77, 0, 2,                                    // target
    };
    return {reinterpret_cast<const char *>(frame), sizeof frame};
}

// Frames that reach a guest's tap after it stopped wait in the tap's queue; a swap-out would drop them with
// the old QEMU. The save keeps them (a pcap beside the state) and the restore puts them into the new QEMU's
// tap: ARP requests sent to the stopped guest are answered after the restore and the resume, every one.
// Without the guard frame QEMU reads the first request into its own queue and 4 of 5 are answered; without
// the save keeping the tap's queue, none.
TEST_F(qemu_network, frames_waiting_in_the_tap_of_a_stopped_guest_survive_a_swap_out)
{
    qemu_backend g(guest_config(*lab, image, *tmp, "receiver", "tapb", 2));
    ASSERT_OK(g.start());
    ASSERT_OK(g.agent(ms(180'000)));

    const int sock = arp_socket(lab->name, "tapb");
    ASSERT_GE(sock, 0) << "no AF_PACKET socket on tapb in " << lab->name;
    ASSERT_OK(g.freeze_at(now_ns()));
    constexpr int requests = 5;
    for (int i = 0; i < requests; ++i) {  // as a delay node's port on the tap sends them
        const std::string f = arp_request(101 + i);
        ASSERT_EQ(send(sock, f.data(), f.size(), 0), ssize_t(f.size()));
    }
    const std::string state = tmp->path() + "/receiver.state";
    auto saved = g.save(state);
    ASSERT_OK(saved);
    std::printf("[tap queue] the save kept %lld frame(s) from tapb\n", (long long)saved->tap_frames);
    EXPECT_GE(saved->tap_frames, requests);
    ASSERT_EQ(saved->files.size(), 1u);
    auto kept = read_frames(saved->files[0]);
    ASSERT_OK(kept);
    int kept_requests = 0;
    for (const auto &f : *kept)
        kept_requests += f.size() >= 42 && f.compare(0, 14, arp_request(0), 0, 14) == 0;
    EXPECT_EQ(kept_requests, requests) << "the pcap beside the state holds the requests, the first one too: QEMU's "
                                          "read-ahead took the guard frame";
    EXPECT_TRUE(saved->warnings.empty()) << saved->warnings.front();

    ASSERT_OK(g.release());  // the old QEMU's tap queue goes with it
    auto restored = g.restore(state);
    ASSERT_OK(restored);
    EXPECT_EQ(restored->tap_frames, saved->tap_frames);
    ASSERT_OK(g.resume_at(now_ns()));

    std::set<int> answered;  // the sender addresses the guest's ARP replies go to
    const int64_t until = now_ns() + 10'000 * ms_ns;
    char buf[2048];
    while (int(answered.size()) < requests && now_ns() < until) {
        pollfd p{sock, POLLIN, 100};
        if (poll(&p, 1, 100) <= 0)
            continue;
        const ssize_t n = recv(sock, buf, sizeof buf, 0);
        // An ARP reply (op 2) from 10.77.0.2 to 10.77.0.10x.
        if (n >= 42 && buf[20] == 0 && buf[21] == 2 && (unsigned char)buf[31] == 2 && (unsigned char)buf[38] == 10 &&
            (unsigned char)buf[39] == 77)
            answered.insert((unsigned char)buf[41]);
    }
    close(sock);
    std::printf("[tap queue] ARP replies after the restore: %zu of %d\n", answered.size(), requests);
    EXPECT_EQ(int(answered.size()), requests) << "every request that waited in the tap reached the guest";
}

}  // namespace
}  // namespace stasis::node
