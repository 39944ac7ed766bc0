// `stasis`: the command-line client of the Stasis agents (link show/set/stats, hello, ...).
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "cli.hpp"

namespace stasis::tools {
namespace {

// Adding a command is adding a row (freeze, save, load, resume, thaw, snapshot, replay, checkpoint ...).
const command top_level[] = {
    hello_command,
    keygen_command,
    checkpoint_command,
    swapout_command,
    swapin_command,
    timetravel_command,
    status_command,
    checkpoints_command,
    recover_command,
    link_command,
    freeze_command,
    thaw_command,
    save_command,
    load_command,
    resume_command,
    replay_command,
    snapshot_command,
};

const command root = {
    .name = "stasis",
    .summary = "Control a Stasis delay node (or any Stasis agent) over its ZeroMQ control socket.",
    .synopsis = "[--control ENDPOINT] [--key FILE --agent-key FILE] [--timeout MS] [--tries N]\n"
                "       [--long-timeout MS] COMMAND [ARGS]",
    .help = "Global options (anywhere on the line):\n"
            "  --control ENDPOINT  the agent's control socket, e.g. tcp://10.0.0.2:6001 or\n"
            "                      ipc:///run/stasis/delayd (default: $STASIS_CONTROL, else\n"
            "                      tcp://127.0.0.1:6001)\n"
            "  --key FILE          this controller's CURVE key pair, made by 'stasis keygen'\n"
            "                      (default: $STASIS_KEY); without it the connection is plain\n"
            "  --agent-key FILE    the agent's public key, its NAME.pub (default: $STASIS_AGENT_KEY)\n"
            "  --timeout MS        wait this long for each try (default 1000)\n"
            "  --tries N           send the request up to N times; the agent runs it once (default 3)\n"
            "  --long-timeout MS   save and load: the agent answers when done, so wait up to this long\n"
            "                      while it stays connected (default 600000); one that goes away fails\n"
            "                      after --timeout x --tries\n"
            "  -h, --help          show help for the command before it\n"
            "\n"
            "Exit status: 0 done, 1 the operation failed or the agent did not answer, 2 usage error.\n",
    .run = nullptr,
    .subcommands = top_level,
};

void take_global_options(context &ctx, args &words)
{
    if (const char *env = std::getenv("STASIS_CONTROL"); env && *env)
        ctx.endpoint = env;
    if (auto ep = words.option("--control"))
        ctx.endpoint = *ep;
    if (const char *env = std::getenv("STASIS_KEY"); env && *env)
        ctx.key_file = env;
    if (auto key = words.option("--key"))
        ctx.key_file = *key;
    if (const char *env = std::getenv("STASIS_AGENT_KEY"); env && *env)
        ctx.agent_key_file = env;
    if (auto key = words.option("--agent-key"))
        ctx.agent_key_file = *key;
    if (auto ms = words.int_option("--timeout", 1, 3'600'000))
        ctx.timeout = std::chrono::milliseconds(*ms);
    if (auto n = words.int_option("--tries", 1, 100))
        ctx.tries = static_cast<int>(*n);
    if (auto ms = words.int_option("--long-timeout", 1, 86'400'000))
        ctx.long_timeout = std::chrono::milliseconds(*ms);
}

}  // namespace
}  // namespace stasis::tools

int main(int argc, char **argv)
{
    using namespace stasis::tools;
    context ctx;
    args words(std::vector<std::string>(argv + 1, argv + argc));
    try {
        take_global_options(ctx, words);
        return run_command(root, ctx, words);
    } catch (const usage_error &e) {
        std::fprintf(stderr, "%s: %s\nRun '%s --help' for usage.\n", ctx.path.c_str(), e.what(),
                     ctx.path.c_str());
        return 2;
    } catch (const operation_error &e) {
        std::fprintf(stderr, "%s: %s\n", ctx.path.c_str(), e.what());
        return 1;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "%s: %s\n", ctx.path.c_str(), e.what());
        return 1;
    }
}
