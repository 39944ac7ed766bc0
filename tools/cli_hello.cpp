// `stasis hello`: is the agent there, and what is it.
#include <cstdio>

#include "cli.hpp"

namespace stasis::tools {
namespace {

int run_hello(context &ctx, args &words)
{
    const bool json = words.flag("--json");
    words.done();
    control::Request request;
    request.mutable_hello();
    const control::Reply reply = ctx.call(request);
    if (json) {
        print_json(reply);
        return 0;
    }
    const auto &h = reply.hello();
    std::printf("%s %s at %s\n", h.agent().empty() ? "(unnamed agent)" : h.agent().c_str(),
                h.version().c_str(), ctx.endpoint.c_str());
    if (h.capabilities_size() > 0) {
        std::string caps;
        for (const auto &c : h.capabilities())
            caps += (caps.empty() ? "" : " ") + c;
        std::printf("capabilities: %s\n", caps.c_str());
    }
    if (!h.working_on().empty())
        std::printf("working on a %s (it answers hello, clock probes and freeze status meanwhile)\n",
                    h.working_on().c_str());
    return 0;
}

}  // namespace

constinit const command hello_command = {
    .name = "hello",
    .summary = "Ask the agent who it is (name, version, capabilities).",
    .synopsis = "[--json]",
    .help = "Options:\n"
            "  --json  print the agent's reply as JSON\n",
    .run = run_hello,
};

}  // namespace stasis::tools
