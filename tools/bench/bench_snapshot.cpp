// Benchmark (not a test): saving and loading a large in-flight state as a snapshot, against a plain
// sequential write and read of the same number of bytes to the same file system, in one run.
//
//   stasis-bench-snapshot [--size 1GiB] [--dir /dev/shm] [--rounds 5] [--mix 1500,64,64+1500]
//                         [--json] [--verbose]
//
// The state: 4 links x 2 pipes whose departure FIFOs (32-byte entries, as the daemon's) point at
// frames laid out in one arena of --size bytes. save = snapshot_writer over the FIFOs, commit
// included (fsync, rename, directory fsync); plain write = write(2) of the file's size in 4 MiB
// pieces from the arena, fsync. load = open (checks the file) + for_each_packet copying every frame
// into its own place (as into mbufs); plain read = read(2) of the plain file into the same arena.
// Each round runs the snapshot operation and its plain counterpart back to back, in alternating
// order; ratios are the medians of the rounds' ratios, speeds the medians of the times.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "stasis/dataplane/units.hpp"
#include "stasis/snapshot/reader.hpp"
#include "stasis/snapshot/writer.hpp"

namespace {

namespace sn = stasis::snapshot;
using clock_type = std::chrono::steady_clock;

constexpr int links = 4;
constexpr int64_t freeze_ns = 1'700'000'000'000'000'000;

struct options {
    uint64_t size = 1ull << 30;
    std::string dir = "/dev/shm";
    int rounds = 5;
    std::vector<std::string> mixes = {"1500", "64", "64+1500"};
    bool json = false;
    bool verbose = false;  // every round on stderr
};

// A departure FIFO entry as the daemon keeps it (departure_fifo<rte_mbuf *>::entry).
struct fifo_entry {
    const std::byte *frame;
    int64_t depart_ns;
    int64_t arrival_ns;
    uint32_t len;
};

struct state {
    std::unique_ptr<std::byte[]> arena;
    uint64_t bytes = 0;
    std::vector<fifo_entry> fifo[links][2];
    uint64_t packets = 0;
};

std::vector<uint32_t> lengths_of(const std::string &mix)
{
    if (mix == "1500")
        return {1500};
    if (mix == "64")
        return {64};
    if (mix == "64+1500")
        return {64, 1500};
    throw std::runtime_error("unknown mix '" + mix + "' (1500, 64 or 64+1500)");
}

state make_state(uint64_t size, const std::string &mix)
{
    const std::vector<uint32_t> lens = lengths_of(mix);
    state s;
    s.arena = std::make_unique_for_overwrite<std::byte[]>(size);
    for (uint64_t i = 0; i < size; i += 8)  // touched, and not all zero
        std::memcpy(s.arena.get() + i, &i, std::min<uint64_t>(8, size - i));
    // Packets fill the arena; each pipe gets a contiguous eighth of them, in departure order.
    uint64_t at = 0, n = 0;
    std::vector<fifo_entry> all;
    for (;; n++) {
        const uint32_t len = lens[n % lens.size()];
        if (at + len > size)
            break;
        const int64_t depart = freeze_ns + int64_t(n) * 100;
        all.push_back({s.arena.get() + at, depart, depart - 10'000'000, len});
        at += len;
    }
    s.bytes = at;
    s.packets = all.size();
    const size_t per = (all.size() + 2 * links - 1) / (2 * links);
    for (size_t i = 0; i < all.size(); i++)
        s.fifo[i / per / 2][i / per % 2].push_back(all[i]);
    return s;
}

sn::header bench_header()
{
    sn::header h;
    h.freeze_realtime_ns = freeze_ns;
    for (int l = 0; l < links; l++) {
        stasis::dataplane::link_config c;
        c.name = "lan" + std::to_string(l);
        c.a = {"net_null0", uint16_t(10 + l), ""};
        c.b = {"net_null1", uint16_t(10 + l), ""};
        c.a_to_b.delay_ns = c.b_to_a.delay_ns = 10'000'000;
        c.a_to_b.rate_bps = c.b_to_a.rate_bps = 10'000'000'000;
        h.config.links.push_back(c);
    }
    return h;
}

// Wall time, and the CPU time of this thread (user + system: tmpfs copies run in the caller), which
// other processes on a shared machine do not inflate (getrusage: microseconds).
struct timing {
    double wall = 0, cpu = 0, sys = 0;  // cpu = user + sys
};

std::pair<double, double> thread_cpu()  // user, system
{
    rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    auto sec = [](timeval t) { return double(t.tv_sec) + double(t.tv_usec) * 1e-6; };
    return {sec(ru.ru_utime), sec(ru.ru_stime)};
}

struct stopwatch {
    clock_type::time_point wall0 = clock_type::now();
    std::pair<double, double> cpu0 = thread_cpu();
    timing stop() const
    {
        const auto [user, sys] = thread_cpu();
        return {std::chrono::duration<double>(clock_type::now() - wall0).count(),
                user - cpu0.first + sys - cpu0.second, sys - cpu0.second};
    }
};

void check(const sn::result<void> &r)
{
    if (!r)
        throw std::runtime_error(r.error().message);
}

timing save(const state &s, const sn::header &h, const std::string &path)
{
    const stopwatch sw;
    auto w = sn::snapshot_writer::create(path, h);
    if (!w)
        throw std::runtime_error(w.error().message);
    for (int l = 0; l < links; l++) {
        check(w->begin_link(sn::link_info::of(h.config.links[size_t(l)])));
        for (int d = 0; d < 2; d++) {
            sn::pipe_record rec;
            rec.dir = d == 0 ? sn::direction::a_to_b : sn::direction::b_to_a;
            rec.params = d == 0 ? h.config.links[size_t(l)].a_to_b : h.config.links[size_t(l)].b_to_a;
            check(w->add_pipe(rec));
            for (const fifo_entry &e : s.fifo[l][d])
                check(w->add_packet(e.arrival_ns - freeze_ns, e.depart_ns - freeze_ns,
                                    {e.frame, e.len}));
        }
    }
    check(w->commit());
    return sw.stop();
}

timing plain_write(const state &s, uint64_t bytes, const std::string &path)
{
    const stopwatch sw;
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        throw std::runtime_error(path + ": cannot create");
    constexpr uint64_t piece = 4 << 20;
    for (uint64_t at = 0; at < bytes;) {
        const uint64_t n = std::min(piece, bytes - at);
        // The file is larger than the arena for small frames: wrap around.
        const ssize_t done = ::write(fd, s.arena.get() + at % (s.bytes - piece), n);
        if (done <= 0)
            throw std::runtime_error(path + ": write failed");
        at += uint64_t(done);
    }
    ::fsync(fd);
    ::close(fd);
    return sw.stop();
}

timing load(const std::string &path, std::byte *dst)
{
    const stopwatch sw;
    auto r = sn::snapshot_reader::open(path);
    if (!r)
        throw std::runtime_error(r.error().message);
    uint64_t at = 0;
    check(r->for_each_packet([&](const sn::packet_ref &p) {
        std::memcpy(dst + at, p.frame.data(), p.frame.size());
        at += p.frame.size();
        return true;
    }));
    return sw.stop();
}

timing plain_read(const std::string &path, std::byte *dst, uint64_t cap)
{
    const stopwatch sw;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        throw std::runtime_error(path + ": cannot open");
    constexpr uint64_t piece = 4 << 20;
    for (uint64_t at = 0;;) {
        const ssize_t got = ::read(fd, dst + at % (cap - piece), piece);
        if (got < 0)
            throw std::runtime_error(path + ": read failed");
        if (got == 0)
            break;
        at += uint64_t(got);
    }
    ::close(fd);
    return sw.stop();
}

double median_of(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

timing median(std::vector<timing> v)
{
    timing m;
    std::sort(v.begin(), v.end(), [](timing a, timing b) { return a.wall < b.wall; });
    m.wall = v[v.size() / 2].wall;
    std::sort(v.begin(), v.end(), [](timing a, timing b) { return a.cpu < b.cpu; });
    m.cpu = v[v.size() / 2].cpu;
    return m;
}

struct row {
    std::string mix;
    uint64_t packets, payload, file;
    timing save_s, write_s, load_s, read_s;
    double save_ratio, save_cpu, load_ratio, load_cpu;  // medians of the rounds' plain/snapshot
};

options parse(int argc, char **argv)
{
    options o;
    for (int i = 1; i < argc; i++) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc)
                throw std::runtime_error(a + " needs a value");
            return argv[++i];
        };
        if (a == "--size") {
            auto v = stasis::dataplane::parse_size_bytes(value());
            if (!v || *v < (64ull << 20))
                throw std::runtime_error("--size: at least 64MiB, e.g. 1GiB");
            o.size = *v;
        } else if (a == "--dir") {
            o.dir = value();
        } else if (a == "--rounds") {
            o.rounds = std::max(1, std::stoi(value()));
        } else if (a == "--mix") {
            o.mixes.clear();
            std::string list = value();
            for (size_t p = 0; p != std::string::npos;) {
                const size_t c = list.find(',', p);
                o.mixes.push_back(list.substr(p, c == std::string::npos ? c : c - p));
                p = c == std::string::npos ? c : c + 1;
            }
        } else if (a == "--json") {
            o.json = true;
        } else if (a == "--verbose") {
            o.verbose = true;
        } else if (a == "--") {
        } else {
            throw std::runtime_error("usage: stasis-bench-snapshot [--size 1GiB] [--dir /dev/shm] "
                                     "[--rounds 5] [--mix 1500,64,64+1500] [--json] [--verbose]");
        }
    }
    return o;
}

row run_mix(const options &o, const std::string &mix)
{
    const state s = make_state(o.size, mix);
    const sn::header h = bench_header();
    const std::string snap = o.dir + "/stasis-bench.stasis", plain = o.dir + "/stasis-bench.plain";
    auto dst = std::make_unique_for_overwrite<std::byte[]>(s.bytes + (8 << 20));
    std::memset(dst.get(), 1, s.bytes + (8 << 20));
    std::vector<timing> sv, wv, lv, rv;
    std::vector<double> save_ratio, save_cpu, load_ratio, load_cpu;
    // A first round, untimed: gives the file size the plain write matches, and has the VM back the
    // memory both files will use (a guest's first touch of a page is far slower than a reuse).
    ::unlink(snap.c_str());
    save(s, h, snap);
    const uint64_t file = std::filesystem::file_size(snap);
    ::unlink(plain.c_str());
    plain_write(s, file, plain);
    load(snap, dst.get());
    plain_read(plain, dst.get(), s.bytes + (8 << 20));
    for (int r = 0; r < o.rounds; r++) {
        // Paired, in alternating order: each round's ratio compares neighbours in time.
        for (int k = 0; k < 2; k++) {
            if ((k == 0) == (r % 2 == 0)) {
                ::unlink(snap.c_str());
                sv.push_back(save(s, h, snap));
            } else {
                ::unlink(plain.c_str());
                wv.push_back(plain_write(s, file, plain));
            }
        }
        for (int k = 0; k < 2; k++) {
            if ((k == 0) == (r % 2 == 0))
                lv.push_back(load(snap, dst.get()));
            else
                rv.push_back(plain_read(plain, dst.get(), s.bytes + (8 << 20)));
        }
        save_ratio.push_back(wv.back().wall / sv.back().wall);
        save_cpu.push_back(wv.back().cpu / sv.back().cpu);
        load_ratio.push_back(rv.back().wall / lv.back().wall);
        load_cpu.push_back(rv.back().cpu / lv.back().cpu);
        if (o.verbose)
            std::fprintf(stderr, "%s round %d (wall/cpu/sys s): save %.3f/%.3f/%.3f write "
                         "%.3f/%.3f/%.3f load %.3f/%.3f/%.3f read %.3f/%.3f/%.3f\n", mix.c_str(), r,
                         sv.back().wall, sv.back().cpu, sv.back().sys, wv.back().wall,
                         wv.back().cpu, wv.back().sys, lv.back().wall, lv.back().cpu,
                         lv.back().sys, rv.back().wall, rv.back().cpu, rv.back().sys);
    }
    ::unlink(snap.c_str());
    ::unlink(plain.c_str());
    return {mix,          s.packets,         s.bytes,           file,
            median(sv),   median(wv),        median(lv),        median(rv),
            median_of(save_ratio), median_of(save_cpu), median_of(load_ratio), median_of(load_cpu)};
}

}  // namespace

int main(int argc, char **argv)
{
    try {
        const options o = parse(argc, argv);
        std::vector<row> rows;
        for (const std::string &mix : o.mixes) {
            lengths_of(mix);
            rows.push_back(run_mix(o, mix));
        }
        auto gbps = [](uint64_t bytes, double s) { return double(bytes) / s / 1e9; };
        if (o.json) {
            std::printf("{\"size_bytes\": %llu, \"dir\": \"%s\", \"rounds\": %d, \"results\": [",
                        (unsigned long long)o.size, o.dir.c_str(), o.rounds);
            for (size_t i = 0; i < rows.size(); i++) {
                const row &r = rows[i];
                std::printf("%s\n  {\"mix\": \"%s\", \"packets\": %llu, \"payload_bytes\": %llu, "
                            "\"file_bytes\": %llu, \"plain_write_gbps\": %.3f, \"save_gbps\": %.3f, "
                            "\"save_ratio\": %.3f, \"save_cpu_ratio\": %.3f, \"plain_read_gbps\": %.3f, "
                            "\"load_gbps\": %.3f, \"load_ratio\": %.3f, \"load_cpu_ratio\": %.3f}",
                            i ? "," : "", r.mix.c_str(), (unsigned long long)r.packets,
                            (unsigned long long)r.payload, (unsigned long long)r.file,
                            gbps(r.file, r.write_s.wall), gbps(r.file, r.save_s.wall),
                            r.save_ratio, r.save_cpu,
                            gbps(r.file, r.read_s.wall), gbps(r.file, r.load_s.wall),
                            r.load_ratio, r.load_cpu);
            }
            std::printf("\n]}\n");
            return 0;
        }
        std::printf("snapshot save/load of %s of frames in %s, against a plain write/read of the "
                    "file's size; median of %d rounds\n\n",
                    stasis::dataplane::format_size(o.size).c_str(), o.dir.c_str(), o.rounds);
        std::printf("%-8s %9s %8s | %11s %9s %5s %5s | %10s %9s %5s %5s\n", "mix", "packets", "file",
                    "plain write", "save", "ratio", "cpu", "plain read", "load", "ratio", "cpu");
        for (const row &r : rows)
            std::printf("%-8s %9llu %5.0fMiB | %6.2f GB/s %4.2f GB/s %5.2f %5.2f | %5.2f GB/s "
                        "%4.2f GB/s %5.2f %5.2f\n",
                        r.mix.c_str(), (unsigned long long)r.packets, double(r.file) / (1 << 20),
                        gbps(r.file, r.write_s.wall), gbps(r.file, r.save_s.wall),
                        r.save_ratio, r.save_cpu,
                        gbps(r.file, r.read_s.wall), gbps(r.file, r.load_s.wall),
                        r.load_ratio, r.load_cpu);
        std::printf("\nGB/s: file bytes (10^9) per second of wall time. ratio: plain time / "
                    "snapshot time (wall),\nmedian of the rounds' ratios; cpu: the same in CPU time "
                    "of the thread, steadier on a shared\nmachine. Goal for save: ratio >= 0.5.\n");
    } catch (const std::exception &e) {
        std::fprintf(stderr, "stasis-bench-snapshot: %s\n", e.what());
        return 1;
    }
    return 0;
}
