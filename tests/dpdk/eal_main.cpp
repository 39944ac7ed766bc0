// GoogleTest main for the DPDK suites: one EAL per process (main lcore, workers 1 and 2 sharing a CPU), no PCI, and
// hugepages when the machine has them (STASIS_TEST_NO_HUGE=1 or none free: --no-huge).
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rte_eal.h>
#include <unistd.h>

static bool hugepages_free()
{
    std::ifstream f("/proc/meminfo");
    std::string key;
    long value = 0;
    while (f >> key >> value) {
        if (key == "HugePages_Free:")
            return value >= 256;  // 512 MiB of 2 MiB pages
        f.ignore(256, '\n');
    }
    return false;
}

int main(int argc, char **argv)
{
    testing::InitGoogleTest(&argc, argv);
    const std::string prefix = "--file-prefix=stasis-test-" + std::to_string(getpid());
    std::vector<std::string> args = {argv[0], "--lcores", "0@0,1@1,2@1", "--no-pci", prefix,
                                     "--log-level=lib.eal:error"};
    // --no-huge implies legacy memory, which EAL refuses to combine with --in-memory.
    if (std::getenv("STASIS_TEST_NO_HUGE") || !hugepages_free())
        args.insert(args.end(), {"--no-huge", "-m", "512", "--no-shconf"});
    else
        args.push_back("--in-memory");
    std::vector<char *> cargs;
    for (auto &a : args)
        cargs.push_back(a.data());
    if (rte_eal_init(int(cargs.size()), cargs.data()) < 0) {
        fprintf(stderr, "EAL initialization failed; the DPDK tests need root and 2 lcores\n");
        return 1;
    }
    const int rc = RUN_ALL_TESTS();
    rte_eal_cleanup();
    return rc;
}
