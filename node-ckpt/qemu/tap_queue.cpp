// Taking a stopped QEMU's tap queue through a duplicate of its descriptor, and sending frames back into a
// tap from the host side (tap_queue.hpp says why and how).
#include "stasis/node/tap_queue.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

extern "C" {  // glibc 2.36 declares these without C linkage
#include <sys/pidfd.h>
}

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

namespace stasis::node {

namespace {

std::string errno_text(const char *what) { return std::string(what) + ": " + std::strerror(errno); }

// The descriptor number under which `pid` has `tap` open ("iff:\tTAP" in its fdinfo), -1 if none.
int find_tap_fd(pid_t pid, const std::string &tap)
{
    std::error_code ec;
    const std::string want = "iff:\t" + tap;
    for (const auto &e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fdinfo", ec)) {
        std::ifstream in(e.path());
        for (std::string line; std::getline(in, line);)
            if (line == want)
                return std::atoi(e.path().filename().c_str());
    }
    return -1;
}

struct fd_guard {
    int fd = -1;
    ~fd_guard()
    {
        if (fd >= 0)
            close(fd);
    }
};

constexpr unsigned char guard_bytes[60] = {0x02, 0x53, 0x54, 0x41, 0x53, 0x00,   // to no guest
                                           0x02, 0x53, 0x54, 0x41, 0x53, 0x01,   // from stasis
                                           0x88, 0xb5, 's', 't', 'a', 's', 'i', 's', ' ', 'g', 'u', 'a',
                                           'r', 'd'};

}  // namespace

std::string guard_frame() { return {reinterpret_cast<const char *>(guard_bytes), sizeof guard_bytes}; }

bool is_guard_frame(const std::string &frame) { return frame == guard_frame(); }

result<tap_queue> take_tap_queue(pid_t pid, const std::string &tap)
{
    const std::string who = "tap " + tap + " of pid " + std::to_string(pid);
    const int target = find_tap_fd(pid, tap);
    if (target < 0)
        return fail(node_error::kind::state, who + ": the process has no descriptor of it");
    fd_guard pidfd{pidfd_open(pid, 0)};
    if (pidfd.fd < 0)
        return fail(node_error::kind::io, who + ": " + errno_text("pidfd_open"));
    fd_guard fd{pidfd_getfd(pidfd.fd, target, 0)};
    if (fd.fd < 0)
        return fail(node_error::kind::io, who + ": " + errno_text("pidfd_getfd"));
    ifreq ifr{};
    if (ioctl(fd.fd, TUNGETIFF, &ifr) != 0)
        return fail(node_error::kind::io, who + ": " + errno_text("TUNGETIFF"));
    int header = 0;
    if ((ifr.ifr_flags & IFF_VNET_HDR) && ioctl(fd.fd, TUNGETVNETHDRSZ, &header) != 0)
        return fail(node_error::kind::io, who + ": " + errno_text("TUNGETVNETHDRSZ"));
    // The descriptor's flags are QEMU's too (one open file): poll instead of setting O_NONBLOCK.
    tap_queue q;
    std::string buf(65536 + size_t(header), '\0');
    for (;;) {
        pollfd p{fd.fd, POLLIN, 0};
        const int ready = poll(&p, 1, 0);
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready < 0)
            return fail(node_error::kind::io, who + ": " + errno_text("poll"));
        if (ready == 0 || !(p.revents & POLLIN))
            return q;
        const ssize_t n = read(fd.fd, buf.data(), buf.size());
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0)
            return fail(node_error::kind::io, who + ": " + errno_text("read"));
        if (n <= header)
            continue;
        std::string frame(buf.data() + header, size_t(n - header));
        if (is_guard_frame(frame))
            q.qemu_holds_one = true;
        else
            q.frames.push_back(std::move(frame));
    }
}

result<void> put_tap_queue(pid_t pid, const std::string &tap, const frame_list &frames)
{
    if (frames.empty())
        return {};
    const std::string who = "tap " + tap + " in the network namespace of pid " + std::to_string(pid);
    // setns changes the calling thread's namespace only: a thread of its own opens the socket, which stays
    // in that namespace.
    result<void> done;
    std::thread([&] {
        fd_guard ns{open(("/proc/" + std::to_string(pid) + "/ns/net").c_str(), O_RDONLY | O_CLOEXEC)};
        if (ns.fd < 0 || setns(ns.fd, CLONE_NEWNET) != 0) {
            done = fail(node_error::kind::io, who + ": " + errno_text(ns.fd < 0 ? "open its ns/net" : "setns"));
            return;
        }
        fd_guard s{socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0)};  // protocol 0: sends, receives nothing
        const int on = 1;
        sockaddr_ll to{};
        to.sll_family = AF_PACKET;
        to.sll_ifindex = int(if_nametoindex(tap.c_str()));
        if (s.fd < 0 || setsockopt(s.fd, SOL_PACKET, PACKET_QDISC_BYPASS, &on, sizeof on) != 0 || to.sll_ifindex == 0 ||
            bind(s.fd, reinterpret_cast<sockaddr *>(&to), sizeof to) != 0) {
            done = fail(node_error::kind::io, who + ": " + errno_text(to.sll_ifindex == 0 ? "no such interface"
                                                                                           : "AF_PACKET socket"));
            return;
        }
        for (size_t i = 0; i < frames.size(); ++i)
            if (send(s.fd, frames[i].data(), frames[i].size(), 0) != ssize_t(frames[i].size())) {
                done = fail(node_error::kind::io, who + ": frame " + std::to_string(i + 1) + " of " +
                                                      std::to_string(frames.size()) + ": " + errno_text("send"));
                return;
            }
    }).join();
    return done;
}

result<void> write_frames(const std::string &path, const frame_list &frames)
{
    pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
    if (!dead)
        return fail(node_error::kind::io, "pcap_open_dead failed");
    pcap_dumper_t *out = pcap_dump_open(dead, path.c_str());
    if (!out) {
        const std::string why = pcap_geterr(dead);
        pcap_close(dead);
        return fail(node_error::kind::io, "cannot create " + path + ": " + why);
    }
    for (const auto &f : frames) {
        pcap_pkthdr h{};
        h.caplen = h.len = uint32_t(f.size());
        pcap_dump(reinterpret_cast<u_char *>(out), &h, reinterpret_cast<const u_char *>(f.data()));
    }
    const bool flushed = pcap_dump_flush(out) == 0 && fsync(fileno(pcap_dump_file(out))) == 0;
    const int err = errno;
    pcap_dump_close(out);
    pcap_close(dead);
    if (!flushed) {
        unlink(path.c_str());
        return fail(node_error::kind::io, "cannot write " + path + ": " + std::strerror(err));
    }
    return {};
}

result<frame_list> read_frames(const std::string &path)
{
    char err[PCAP_ERRBUF_SIZE] = {};
    pcap_t *in = pcap_open_offline(path.c_str(), err);
    if (!in)
        return fail(node_error::kind::io, "cannot read " + path + ": " + err);
    frame_list frames;
    pcap_pkthdr *h = nullptr;
    const u_char *data = nullptr;
    int r = 0;
    while ((r = pcap_next_ex(in, &h, &data)) == 1)
        frames.emplace_back(reinterpret_cast<const char *>(data), h->caplen);
    const std::string why = r == PCAP_ERROR ? pcap_geterr(in) : "";
    const int link = pcap_datalink(in);
    pcap_close(in);
    if (r == PCAP_ERROR)
        return fail(node_error::kind::protocol, path + ": " + why);
    if (link != DLT_EN10MB)
        return fail(node_error::kind::protocol, path + ": not an Ethernet capture (link type " + std::to_string(link) + ")");
    return frames;
}

}  // namespace stasis::node
