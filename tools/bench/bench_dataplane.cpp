// Benchmark (not a test): Mpps of one worker running a fully emulated link (delay + rate + queue)
// against a plain forwarding loop of the same binary on the same vdevs, 64-byte frames, in one run.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>

#include "delay_node.hpp"

namespace {

using namespace stasis::dataplane;

struct result {
    double mpps;
    uint64_t p50_ns, p99_ns, max_ns;
};

struct bench_options {
    double seconds = 2.0;
    int rounds = 3;
    unsigned frame = 64;
    bool json = false;
    int64_t delay_ns = 100'000;
    uint64_t rate_bps = 40'000'000'000;  // the server runs: 64-byte frames take 12.8 ns each
    bool emulated_only = false;  // no baseline: for profiling the emulated loop alone
    bool sweep = false;          // the link's stages one by one, each against the same baseline
    bool floors = true;          // also the plain forwarding loop with its frames held delay_ns (two ways)
    uint16_t burst = 32;         // the daemon's default (daemon.burst)
};

link_config bench_link(bool emulate, const bench_options &o)
{
    link_config l;
    l.name = "bench";
    l.where = "bench link";
    l.a.port = "net_null0";
    l.a.where = "bench a";
    l.b.port = "net_null1";
    l.b.where = "bench b";
    pipe_params p;
    if (emulate) {
        p.delay_ns = o.delay_ns;
        p.rate_bps = o.rate_bps;
        p.queue_slots = 1000;
    }
    l.a_to_b = l.b_to_a = p;
    return l;
}

result run_once(bool emulate, const bench_options &o,
                worker_options::hold_kind hold = worker_options::hold_kind::none)
{
    daemon_config cfg;
    cfg.links.push_back(bench_link(emulate || hold != worker_options::hold_kind::none, o));
    cfg.worker_lcores = {1};
    worker_options wo;
    wo.forward_only = !emulate;
    wo.hold = hold;
    wo.hold_ns = std::max<int64_t>(o.delay_ns, 1);
    wo.idle_sleep_ns = 0;
    wo.burst = o.burst;
    delay_node node(cfg, node_clock::calibrate(), wo);
    node.start();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // warm up, fill the delay line
    auto sent = [&] {
        uint64_t n = 0;
        for (uint16_t id : node.port_ids())
            n += node.counters_of_port(id).tx_packets.get();
        return n;
    };
    const uint64_t n0 = sent();
    const auto t0 = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds));
    const uint64_t n1 = sent();
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    result r{double(n1 - n0) / dt / 1e6, 0, 0, 0};
    if (emulate) {
        const auto &c = node.counters(*node.find("bench"), true);
        r.p50_ns = c.lateness.quantile(0.5);
        r.p99_ns = c.lateness.quantile(0.99);
        r.max_ns = c.lateness.max();
    }
    node.stop();
    return r;
}

std::string fixed(double x, int decimals)
{
    char b[32];
    snprintf(b, sizeof b, "%.*f", decimals, x);
    return b;
}

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

bool hugepages_free(long want)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return false;
    char line[256];
    long n = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "HugePages_Free: %ld", &n) == 1)
            break;
    fclose(f);
    return n >= want;
}

// The link's stages added one at a time, each measured against the baseline of the same rounds.
int sweep(const bench_options &base)
{
    struct stage {
        const char *name;
        int64_t delay_ns;
        uint64_t rate_bps;
        std::vector<double> mpps;
    };
    std::vector<stage> stages = {
        {"no delay, no rate", 0, 0, {}},
        {"no delay, 40 Gbit/s", 0, 40'000'000'000, {}},
        {"10 us, 40 Gbit/s", 10'000, 40'000'000'000, {}},
        {"100 us, no rate", 100'000, 0, {}},
        {"100 us, 40 Gbit/s (the headline)", 100'000, 40'000'000'000, {}},
        {"1 ms, 40 Gbit/s", 1'000'000, 40'000'000'000, {}},
    };
    std::vector<double> fwd;
    try {
        for (int r = 0; r < base.rounds; r++) {
            fwd.push_back(run_once(false, base).mpps);
            for (auto &s : stages) {
                bench_options o = base;
                o.delay_ns = s.delay_ns;
                o.rate_bps = s.rate_bps;
                s.mpps.push_back(run_once(true, o).mpps);
                if (!base.json)
                    fprintf(stderr, "round %d/%d: %s %.2f Mpps\n", r + 1, base.rounds, s.name, s.mpps.back());
            }
        }
    } catch (const std::exception &e) {
        fprintf(stderr, "bench: %s\n", e.what());
        return 1;
    }
    const double f = median(fwd);
    if (base.json) {
        printf("{\"forward_mpps\": %.3f, \"stages\": [", f);
        for (size_t i = 0; i < stages.size(); i++)
            printf("%s{\"stage\": \"%s\", \"delay_ns\": %ld, \"rate_bps\": %lu, \"mpps\": %.3f, \"ratio\": %.3f}",
                   i ? ", " : "", stages[i].name, long(stages[i].delay_ns), (unsigned long)stages[i].rate_bps,
                   median(stages[i].mpps), median(stages[i].mpps) / f);
        printf("]}\n");
        return 0;
    }
    printf("dataplane sweep: one worker, 2 x net_null, 64-byte frames, 1000-slot queue, median of %d rounds "
           "of %.1f s\n",
           base.rounds, base.seconds);
    printf("| loop                                   | Mpps   | ns a frame | ratio |\n");
    printf("|----------------------------------------|--------|------------|-------|\n");
    printf("| %-38s | %6.2f | %10.1f | 1.00  |\n", "plain forwarding (baseline)", f, 1e3 / f);
    for (const auto &s : stages) {
        const double m = median(s.mpps);
        printf("| %-38s | %6.2f | %10.1f | %.2f  |\n", s.name, m, 1e3 / m, m / f);
    }
    return 0;
}

int usage(const char *argv0, int rc)
{
    fprintf(rc ? stderr : stdout,
            "usage: %s [EAL options] -- [--seconds S] [--rounds N] [--json]\n"
            "          [--delay-us D] [--rate-gbit G] [--burst B] [--emulated-only] [--no-floors] [--sweep]\n"
            "Runs one worker over two net_null ports (64-byte frames), alternating a plain forwarding\n"
            "loop and a fully emulated link (100 us delay, 40 Gbit/s, 1000-slot queue), and prints\n"
            "Mpps of each, their ratio, and the emulated link's transmit lateness.\n"
            "Two floors run in every round too (--no-floors leaves them out): the plain forwarding loop\n"
            "with every frame held for the link's delay and nothing else done (no model, counters or\n"
            "histogram), its mbuf in a ring, or its bytes copied into 64-byte slots: what a delay line\n"
            "alone costs on this machine; no emulated link can be faster than them.\n"
            "--delay-us and --rate-gbit (0: unlimited) change the emulated link, to see what each stage\n"
            "costs; --burst sets both loops' RX burst (default 32, as daemon.burst);\n"
            "--emulated-only leaves the baseline and the floors out (for profiling). --sweep runs, in\n"
            "every round, the baseline and then the link stage by stage (no delay and no rate; the rate;\n"
            "10 us, 100 us and 1 ms of delay line), and prints each against that baseline, with its ns a\n"
            "frame.\n"
            "Without EAL options it uses: --lcores 0@0,1@1 --no-pci --vdev net_null0,size=64,copy=1\n"
            "  --vdev net_null1,size=64,copy=1 and --in-memory with hugepages (else --no-huge -m 1024)\n",
            argv0);
    return rc;
}

}  // namespace

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help"))
            return usage(argv[0], 0);
    std::vector<std::string> eal = {argv[0]};
    int i = 1;
    for (; i < argc && strcmp(argv[i], "--"); i++)
        eal.push_back(argv[i]);
    if (eal.size() == 1) {
        eal.insert(eal.end(), {"--lcores", "0@0,1@1", "--no-pci", "--vdev", "net_null0,size=64,copy=1", "--vdev",
                               "net_null1,size=64,copy=1", "--log-level", "lib.eal:error"});
        // --no-huge implies legacy memory, which EAL refuses to combine with --in-memory.
        if (hugepages_free(512))
            eal.push_back("--in-memory");
        else
            eal.insert(eal.end(), {"--no-huge", "-m", "1024", "--no-shconf"});
    }
    bench_options o;
    for (i++; i < argc; i++) {
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            o.seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            o.rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--delay-us") && i + 1 < argc)
            o.delay_ns = int64_t(atof(argv[++i]) * 1000);
        else if (!strcmp(argv[i], "--rate-gbit") && i + 1 < argc)
            o.rate_bps = uint64_t(atof(argv[++i]) * 1e9);
        else if (!strcmp(argv[i], "--emulated-only"))
            o.emulated_only = true, o.floors = false;
        else if (!strcmp(argv[i], "--burst") && i + 1 < argc)
            o.burst = uint16_t(std::clamp(atoi(argv[++i]), 1, 512));
        else if (!strcmp(argv[i], "--sweep"))
            o.sweep = true;
        else if (!strcmp(argv[i], "--no-floors"))
            o.floors = false;
        else if (!strcmp(argv[i], "--json"))
            o.json = true;
        else
            return usage(argv[0], 2);
    }
    std::vector<char *> cargs;
    for (auto &s : eal)
        cargs.push_back(s.data());
    if (rte_eal_init(int(cargs.size()), cargs.data()) < 0) {
        fprintf(stderr, "EAL initialization failed\n");
        return 1;
    }
    if (o.sweep) {
        const int rc = sweep(o);
        rte_eal_cleanup();
        return rc;
    }
    using hold = worker_options::hold_kind;
    std::vector<double> fwd, emu, held_mbufs, held_copies;
    result last{};
    try {
        for (int r = 0; r < o.rounds; r++) {
            if (!o.emulated_only)
                fwd.push_back(run_once(false, o).mpps);
            last = run_once(true, o);
            emu.push_back(last.mpps);
            if (o.floors) {
                held_mbufs.push_back(run_once(false, o, hold::mbufs).mpps);
                held_copies.push_back(run_once(false, o, hold::copies).mpps);
            }
        }
    } catch (const std::exception &e) {
        fprintf(stderr, "bench: %s\n", e.what());
        return 1;
    }
    const double f = fwd.empty() ? 0 : median(fwd), e = median(emu), ratio = fwd.empty() ? 0 : e / f;
    const double hm = held_mbufs.empty() ? 0 : median(held_mbufs), hc = held_copies.empty() ? 0 : median(held_copies);
    // Each round's own ratio (its emulated run against the baseline run just before it): a host that
    // slows down for a while moves both, so their spread shows how much the medians can be trusted.
    auto list = [&](const std::vector<double> &v) {
        std::string out;
        for (size_t r = 0; r < v.size() && r < fwd.size(); r++)
            out += (out.empty() ? "" : o.json ? ", " : " ") + fixed(v[r] / fwd[r], o.json ? 3 : 2);
        return out;
    };
    const std::string rounds = list(emu), rounds_mbufs = list(held_mbufs), rounds_copies = list(held_copies);
    if (o.json) {
        printf("{\"forward_mpps\": %.3f, \"emulated_mpps\": %.3f, \"ratio\": %.3f, \"round_ratios\": [%s], "
               "\"lateness_p50_ns\": %lu, \"lateness_p99_ns\": %lu, \"lateness_max_ns\": %lu",
               f, e, ratio, rounds.c_str(), last.p50_ns, last.p99_ns, last.max_ns);
        if (o.floors && f > 0)
            printf(", \"held_mbufs_mpps\": %.3f, \"held_mbufs_ratio\": %.3f, \"held_mbufs_round_ratios\": [%s], "
                   "\"held_copies_mpps\": %.3f, \"held_copies_ratio\": %.3f, \"held_copies_round_ratios\": [%s]",
                   hm, hm / f, rounds_mbufs.c_str(), hc, hc / f, rounds_copies.c_str());
        printf("}\n");
    } else {
        printf("dataplane benchmark: one worker, 2 x net_null, 64-byte frames, median of %d rounds of %.1f s\n",
               o.rounds, o.seconds);
        printf("| loop                                   | Mpps   | ratio |\n");
        printf("|----------------------------------------|--------|-------|\n");
        if (!fwd.empty())
            printf("| plain forwarding (baseline)            | %6.2f | 1.00  |\n", f);
        char name[64];
        snprintf(name, sizeof name, "emulated link (%gus, %gGbit, q=1000)", double(o.delay_ns) / 1e3,
                 double(o.rate_bps) / 1e9);
        printf("| %-38s | %6.2f | %.2f  |\n", name, e, ratio);
        if (o.floors && f > 0) {
            snprintf(name, sizeof name, "floor: forwarding, mbufs held %gus", double(o.delay_ns) / 1e3);
            printf("| %-38s | %6.2f | %.2f  |\n", name, hm, hm / f);
            snprintf(name, sizeof name, "floor: forwarding, copies held %gus", double(o.delay_ns) / 1e3);
            printf("| %-38s | %6.2f | %.2f  |\n", name, hc, hc / f);
        }
        if (!rounds.empty())
            printf("\nratio of each round (emulated against the baseline just before it): %s\n", rounds.c_str());
        if (!rounds_mbufs.empty())
            printf("the floors' (against the same baseline): mbufs %s; copies %s\n", rounds_mbufs.c_str(),
                   rounds_copies.c_str());
        printf("\ntransmit lateness under that load (emulated, a_to_b, last round): p50 %lu ns, p99 %lu ns, "
               "max %lu ns\n",
               last.p50_ns, last.p99_ns, last.max_ns);
    }
    rte_eal_cleanup();
    return 0;
}
