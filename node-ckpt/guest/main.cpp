// stasis-guest: the program inside a test guest (the agent the host drives, and a few one-shot commands).
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "agent.hpp"
#include "tcp_counters.hpp"

namespace {

int usage()
{
    std::fprintf(stderr,
                 "usage: stasis-guest agent [PORT_NAME]   serve the host on virtio-serial port PORT_NAME\n"
                 "                                        (default stasis.agent; waits for it to appear)\n"
                 "       stasis-guest counters            print the TCP counters as JSON\n");
    return 2;
}

}  // namespace

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    const std::string cmd = argv[1];
    if (cmd == "counters") {
        std::printf("%s\n", stasis::guest::tcp_counters().dump().c_str());
        return 0;
    }
    if (cmd != "agent")
        return usage();
    const std::string name = argc > 2 ? argv[2] : "stasis.agent";
    std::string path;
    for (int i = 0; i < 100 && (path = stasis::guest::find_port(name)).empty(); ++i)
        usleep(100'000);
    if (path.empty()) {
        std::fprintf(stderr, "stasis-guest: no virtio-serial port named %s\n", name.c_str());
        return 1;
    }
    stasis::guest::agent a;
    return a.serve(path);
}
