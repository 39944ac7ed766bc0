// Benchmark (not a test): how soon after a scheduled freeze instant F every worker notices it, under
// load, against a plain thread that sleeps until F (clock_nanosleep, TIMER_ABSTIME) in the same run.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include <rte_eal.h>

#include "delay_node.hpp"
#include "stasis/dataplane/realtime.hpp"

namespace {

using namespace stasis::dataplane;


link_config null_link(const std::string &name, int a, int b)
{
    link_config l;
    l.name = name;
    l.a.port = "net_null" + std::to_string(a);
    l.b.port = "net_null" + std::to_string(b);
    pipe_params p;
    p.delay_ns = 100'000;
    p.rate_bps = 10'000'000'000;
    p.queue_slots = 1000;
    l.a_to_b = l.b_to_a = p;
    return l;
}

struct stats {
    int64_t p50, p99, max;
};

stats summarize(std::vector<int64_t> v)
{
    std::sort(v.begin(), v.end());
    return {v[v.size() / 2], v[std::min(v.size() - 1, v.size() * 99 / 100)], v.back()};
}

}  // namespace

int main(int argc, char **argv)
{
    int rounds = 200;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = std::max(1, atoi(argv[++i]));
        else if (!strcmp(argv[i], "--json"))
            json = true;
        else {
            fprintf(stderr,
                    "usage: %s [--rounds N] [--json]\n"
                    "Freezes a delay node with two loaded workers (4 net_null ports, 64-byte frames) N times at\n"
                    "F = now + 2 ms and reports how long after F each worker noticed it, against a thread\n"
                    "sleeping until F with clock_nanosleep(TIMER_ABSTIME) in the same run.\n",
                    argv[0]);
            return strcmp(argv[i], "--help") ? 2 : 0;
        }
    }
    std::vector<std::string> eal = {argv[0], "--lcores", "0@0,1@1,2@0", "--no-pci", "--no-huge", "-m", "1024",
                                     "--no-shconf", "--log-level", "lib.eal:error"};
    for (int i = 0; i < 4; i++)
        eal.insert(eal.end(), {"--vdev", "net_null" + std::to_string(i) + ",size=64,copy=1"});
    std::vector<char *> cargs;
    for (auto &s : eal)
        cargs.push_back(s.data());
    if (rte_eal_init(int(cargs.size()), cargs.data()) < 0) {
        fprintf(stderr, "EAL initialization failed\n");
        return 1;
    }
    std::vector<int64_t> notice[2], sleeper;
    try {
        daemon_config cfg;
        cfg.links = {null_link("l0", 0, 1), null_link("l1", 2, 3)};
        cfg.worker_lcores = {1, 2};
        worker_options wo;
        wo.idle_sleep_ns = 0;
        delay_node node(cfg, node_clock::calibrate(), wo);
        node.start();
        for (int r = 0; r < rounds; r++) {
            const int64_t f = realtime_ns() + 2'000'000;
            if (!node.freeze(f))
                throw std::runtime_error("freeze refused");
            std::this_thread::sleep_for(std::chrono::milliseconds(3));
            auto rep = node.freeze_status();
            if (!rep)
                throw std::runtime_error(rep.error().message);
            for (size_t i = 0; i < 2 && i < rep->workers.size(); i++)
                notice[i].push_back(rep->workers[i].noticed_ns - f);
            if (!node.thaw(0))
                throw std::runtime_error("thaw refused");
        }
        node.stop();
        for (int r = 0; r < rounds; r++) {
            const int64_t f = realtime_ns() + 2'000'000;
            const timespec ts{time_t(f / 1'000'000'000), long(f % 1'000'000'000)};
            clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, nullptr);
            sleeper.push_back(realtime_ns() - f);
        }
    } catch (const std::exception &e) {
        fprintf(stderr, "bench: %s\n", e.what());
        return 1;
    }
    const stats w1 = summarize(notice[0]), w2 = summarize(notice[1]), s = summarize(sleeper);
    if (json) {
        printf("{\"rounds\": %d, \"worker_own_cpu_ns\": {\"p50\": %ld, \"p99\": %ld, \"max\": %ld}, "
               "\"worker_shared_cpu_ns\": {\"p50\": %ld, \"p99\": %ld, \"max\": %ld}, "
               "\"sleeper_wake_ns\": {\"p50\": %ld, \"p99\": %ld, \"max\": %ld}}\n",
               rounds, w1.p50, w1.p99, w1.max, w2.p50, w2.p99, w2.max, s.p50, s.p99, s.max);
    } else {
        printf("freeze notice: 2 loaded workers, %d freezes at F = now + 2 ms\n", rounds);
        printf("| after F                                             | p50        | p99        | max        |\n");
        printf("|-----------------------------------------------------|------------|------------|------------|\n");
        printf("| worker 1 notices F (own CPU, busy, under load)      | %8ld ns | %8ld ns | %8ld ns |\n", w1.p50,
               w1.p99, w1.max);
        printf("| worker 2 notices F (CPU shared with the main lcore) | %8ld ns | %8ld ns | %8ld ns |\n", w2.p50,
               w2.p99, w2.max);
        printf("| a thread wakes at F (clock_nanosleep, baseline)     | %8ld ns | %8ld ns | %8ld ns |\n", s.p50,
               s.p99, s.max);
    }
    rte_eal_cleanup();
    return 0;
}
