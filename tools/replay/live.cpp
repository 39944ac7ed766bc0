// The live replay: a sender thread paces the capture out of tx_iface (busy-waiting on CLOCK_REALTIME),
// a receiver thread captures on rx_iface with kernel receive timestamps and matches frames by their
// bytes; then the link model runs on the actual send instants and feeds the fidelity report.
#include "stasis/replay/live.hpp"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <limits>
#include <thread>
#include <unordered_map>
#include <vector>

#include "json_writer.hpp"
#include "stasis/dataplane/pipe_model.hpp"
#include "stasis/replay/pcap.hpp"
#include "stasis/realtime.hpp"

namespace stasis::replay {

namespace {

constexpr int64_t never = std::numeric_limits<int64_t>::max();

int64_t now_ns()
{
    return realtime_ns();
}

struct frame {
    int64_t offset_ns;            // from the first packet of the capture
    std::string bytes;
    int64_t sent_ns = -1;         // actual send instant; -1: send failed
    int64_t rx_ns = -1;           // kernel receive time; -1: not received
};

class fd_guard {
public:
    explicit fd_guard(int fd) : fd(fd) {}
    ~fd_guard() { if (fd >= 0) ::close(fd); }
    int fd;
};

int packet_socket(const std::string &iface, bool rx)
{
    const unsigned index = if_nametoindex(iface.c_str());
    if (index == 0)
        throw replay_error(iface + ": no such interface");
    // Protocol 0 at creation: nothing is queued until bind() names the interface.
    const int fd = ::socket(AF_PACKET, SOCK_RAW, 0);
    if (fd < 0)
        throw replay_error(iface + ": AF_PACKET socket: " + std::strerror(errno) + " (needs CAP_NET_RAW)");
    const int one = 1, big = 32 << 20;
    if (rx) {
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) != 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
        setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
        timeval tv{0, 20'000};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    } else {
        if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big) != 0)
            setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
        setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);  // best effort
    }
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = rx ? htons(ETH_P_ALL) : 0;
    sll.sll_ifindex = int(index);
    if (::bind(fd, reinterpret_cast<sockaddr *>(&sll), sizeof sll) != 0) {
        const int e = errno;
        ::close(fd);
        throw replay_error(iface + ": bind: " + std::strerror(e));
    }
    return fd;
}

class live_run {
public:
    live_run(const replay_options &o, const live_options &l) : _o(o), _l(l) {}
    replay_summary run(fidelity_report &report, live_stats &stats);

private:
    void load();
    void send(int fd, int64_t start);
    void receive(int fd);

    const replay_options &_o;
    const live_options &_l;
    std::vector<frame> _frames;
    // Frames with equal bytes are matched in send order: the first not yet received.
    std::unordered_map<std::string_view, std::deque<size_t>> _by_bytes;
    std::vector<size_t> _rx_order;
    std::atomic<uint64_t> _matched{0}, _target{std::numeric_limits<uint64_t>::max()};
    std::atomic<int64_t> _deadline{never};
    uint64_t _received = 0, _foreign = 0;
};

void live_run::load()
{
    pcap_reader in(_o.in_path);
    pcap_record r;
    int64_t first = 0;
    while (in.next(r)) {
        if (_frames.empty())
            first = r.ts_ns;
        if (r.ts_ns < first + (_frames.empty() ? 0 : _frames.back().offset_ns))
            throw replay_error(_o.in_path + ": packet " + std::to_string(r.number) +
                               ": timestamp goes back; replay needs a capture in time order");
        _frames.push_back({r.ts_ns - first, std::string(reinterpret_cast<const char *>(r.data), r.caplen)});
    }
    if (_frames.empty())
        throw replay_error(_o.in_path + ": no packets");
    for (size_t i = 0; i < _frames.size(); i++)
        _by_bytes[_frames[i].bytes].push_back(i);
}

void live_run::send(int fd, int64_t start)
{
    for (frame &f : _frames) {
        const int64_t at = start + f.offset_ns;
        if (at - now_ns() > 300'000) {  // sleep until shortly before, then spin
            const int64_t wake = at - 200'000;
            timespec ts{time_t(wake / 1'000'000'000), long(wake % 1'000'000'000)};
            while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
            }
        }
        int64_t t;
        while ((t = now_ns()) < at) {
        }
        if (::send(fd, f.bytes.data(), f.bytes.size(), 0) == ssize_t(f.bytes.size()))
            f.sent_ns = t;
    }
}

void live_run::receive(int fd)
{
    std::vector<char> buf(65536);
    alignas(cmsghdr) char control[256];
    while (_matched.load() < _target.load() && now_ns() < _deadline.load()) {
        sockaddr_ll from{};
        iovec iov{buf.data(), buf.size()};
        msghdr m{};
        m.msg_name = &from;
        m.msg_namelen = sizeof from;
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = control;
        m.msg_controllen = sizeof control;
        const ssize_t n = ::recvmsg(fd, &m, 0);
        if (n < 0 || from.sll_pkttype == PACKET_OUTGOING)
            continue;
        int64_t ts = -1;
        for (cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
                timespec t;
                std::memcpy(&t, CMSG_DATA(c), sizeof t);
                ts = int64_t(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
            }
        if (ts < 0)
            ts = now_ns();
        _received++;
        const auto it = _by_bytes.find(std::string_view(buf.data(), size_t(n)));
        if (it == _by_bytes.end() || it->second.empty()) {
            _foreign++;
            continue;
        }
        const size_t i = it->second.front();
        it->second.pop_front();
        _frames[i].rx_ns = ts;
        _rx_order.push_back(i);
        _matched.fetch_add(1);
    }
}

replay_summary live_run::run(fidelity_report &report, live_stats &stats)
{
    if (_l.tx_iface == _l.rx_iface)
        throw replay_error("--tx-iface and --rx-iface must differ");
    load();
    fd_guard rx(packet_socket(_l.rx_iface, true));
    fd_guard tx(packet_socket(_l.tx_iface, false));
    pcap_writer out(_o.out_path, DLT_EN10MB, 65535);

    const int64_t start = now_ns() + _l.lead_ns;
    std::thread receiver([&] { receive(rx.fd); });
    std::thread sender([&] { send(tx.fd, start); });
    sender.join();

    // The model at the actual send instants: verdicts, and when to stop listening.
    dataplane::pipe_model model(_o.params);
    std::vector<dataplane::verdict> verdicts(_frames.size());
    std::vector<dataplane::occupancy> queues(_frames.size());
    int64_t last = start, t_prev = 0;
    uint64_t admitted = 0;
    for (size_t i = 0; i < _frames.size(); i++) {
        frame &f = _frames[i];
        if (f.sent_ns < 0)
            continue;
        f.sent_ns = std::max(f.sent_ns, t_prev);  // CLOCK_REALTIME stepping back: keep the order
        t_prev = f.sent_ns;
        queues[i] = model.occupancy_at(f.sent_ns);
        verdicts[i] = model.arrive(f.sent_ns, uint32_t(f.bytes.size()));
        if (verdicts[i].drop == dataplane::drop_reason::none) {
            admitted++;
            last = std::max(last, verdicts[i].depart_ns);
        }
    }
    _deadline.store(last + _l.linger_ns);
    _target.store(admitted);
    receiver.join();

    replay_summary s;
    bool first = true;
    for (size_t i = 0; i < _frames.size(); i++) {
        const frame &f = _frames[i];
        stats.send_lag.add(f.sent_ns < 0 ? 0 : f.sent_ns - (start + f.offset_ns));
        if (f.sent_ns < 0) {
            stats.send_errors++;
            continue;
        }
        stats.sent++;
        const auto len = uint32_t(f.bytes.size());
        if (first)
            s.first_arrival_ns = f.sent_ns;
        first = false;
        s.last_arrival_ns = f.sent_ns;
        s.packets_in++;
        s.bytes_in += len;
        dataplane::drop_reason drop = verdicts[i].drop;
        const bool got = f.rx_ns >= 0;
        if (drop != dataplane::drop_reason::none) {
            stats.model_drops++;
            stats.unexpected_arrivals += got;
        } else if (!got) {
            stats.unexpected_losses++;
            drop = dataplane::drop_reason::loss;  // the report takes it as a loss (see FIDELITY.md)
        }
        report.on_arrival({uint64_t(i + 1), f.sent_ns, len, len, drop, queues[i]});
        if (drop == dataplane::drop_reason::none)
            report.on_departure({uint64_t(i + 1), f.sent_ns, len, f.rx_ns, f.rx_ns});
    }
    for (size_t i : _rx_order) {
        const frame &f = _frames[i];
        out.write(f.rx_ns, uint32_t(f.bytes.size()),
                  {reinterpret_cast<const uint8_t *>(f.bytes.data()), f.bytes.size()});
        s.packets_out++;
        s.bytes_out += f.bytes.size();
    }
    out.commit();
    tpacket_stats ps{};
    socklen_t psl = sizeof ps;
    if (getsockopt(rx.fd, SOL_PACKET, PACKET_STATISTICS, &ps, &psl) == 0)
        stats.kernel_rx_drops = ps.tp_drops;
    stats.received = _received;
    stats.matched = _matched.load();
    stats.foreign = _foreign;
    return s;
}

void distribution(json_writer &j, std::string_view key, const histogram &h)
{
    j.begin_object(key).value("count", h.count());
    if (h.count() != 0)
        j.value("p50", h.percentile(0.50)).value("p99", h.percentile(0.99)).value("max", h.max());
    j.end_object();
}

}  // namespace

replay_summary run_live(const replay_options &o, const live_options &l, fidelity_report &report,
                        live_stats &stats)
{
    live_run run(o, l);
    return run.run(report, stats);
}

std::string live_json(const live_options &l, const live_stats &s)
{
    json_writer j;
    j.begin_object().value("tx_iface", l.tx_iface).value("rx_iface", l.rx_iface)
        .value("sent", s.sent).value("send_errors", s.send_errors).value("received", s.received)
        .value("matched", s.matched).value("foreign", s.foreign).value("model_drops", s.model_drops)
        .value("unexpected_losses", s.unexpected_losses)
        .value("unexpected_arrivals", s.unexpected_arrivals).value("kernel_rx_drops", s.kernel_rx_drops);
    distribution(j, "send_lag_ns", s.send_lag);
    j.end_object();
    return j.str();
}

std::string live_text(const live_stats &s)
{
    char line[512];
    std::snprintf(line, sizeof line,
                  "live: sent %llu (%llu send errors), received %llu of them (+%llu foreign frames), "
                  "model drops %llu, unexpected losses %llu, unexpected arrivals %llu, capture drops %llu\n"
                  "live: send lag p50 %lld ns, p99 %lld ns, max %lld ns\n",
                  (unsigned long long)s.sent, (unsigned long long)s.send_errors,
                  (unsigned long long)s.matched, (unsigned long long)s.foreign,
                  (unsigned long long)s.model_drops, (unsigned long long)s.unexpected_losses,
                  (unsigned long long)s.unexpected_arrivals, (unsigned long long)s.kernel_rx_drops,
                  (long long)s.send_lag.percentile(0.5), (long long)s.send_lag.percentile(0.99),
                  (long long)s.send_lag.max());
    return line;
}

}  // namespace stasis::replay
