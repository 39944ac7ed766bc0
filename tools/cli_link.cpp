// `stasis link show|set|stats`: the links of a delay node.
#include <cstdio>

#include "cli.hpp"
#include "link_format.hpp"
#include "stasis/dataplane/config.hpp"

namespace stasis::tools {
namespace {

int run_show(context &ctx, args &words)
{
    const bool json = words.flag("--json");
    const auto link = words.next();
    words.done();
    control::Request request;
    request.mutable_link_show()->set_link(link.value_or(""));
    const control::Reply reply = ctx.call(request);
    if (json)
        print_json(reply);
    else if (reply.links().links_size() == 0)
        std::puts("no links");
    else
        std::fputs(links_table(reply.links()).c_str(), stdout);
    return 0;
}

control::LinkSet::Direction parse_direction(const std::string &word)
{
    if (word == "both")
        return control::LinkSet::BOTH;
    if (word == "a2b")
        return control::LinkSet::A_TO_B;
    if (word == "b2a")
        return control::LinkSet::B_TO_A;
    throw usage_error("--dir wants both, a2b or b2a, not '" + word + "'");
}

int run_set(context &ctx, args &words)
{
    const bool json = words.flag("--json");
    const auto dir = words.option("--dir");
    const auto link = words.next();
    if (!link)
        throw usage_error("which link? (see 'stasis link show')");
    const auto assignments = words.rest();
    if (assignments.empty())
        throw usage_error("nothing to change: give key=value pairs, e.g. delay=20ms plr=0.01");

    auto changes = dataplane::parse_assignments(assignments);
    if (!changes)
        throw usage_error(changes.error());

    control::Request request;
    auto *set = request.mutable_link_set();
    set->set_link(*link);
    set->set_direction(dir ? parse_direction(*dir) : control::LinkSet::BOTH);
    *set->mutable_changes() = std::move(*changes);
    const control::Reply reply = ctx.call(request);
    if (json) {
        print_json(reply);
        return 0;
    }
    std::puts(reply.message().empty() ? ("link '" + *link + "' updated").c_str() : reply.message().c_str());
    if (reply.links().links_size() > 0)
        std::fputs(links_table(reply.links()).c_str(), stdout);
    return 0;
}

int run_stats(context &ctx, args &words)
{
    const bool json = words.flag("--json");
    const auto link = words.next();
    words.done();
    control::Request request;
    request.mutable_link_stats()->set_link(link.value_or(""));
    const control::Reply reply = ctx.call(request);
    if (json)
        print_json(reply);
    else
        std::fputs(stats_tables(reply.stats()).c_str(), stdout);
    return 0;
}

constinit const command link_subcommands[] = {
    {
        .name = "show",
        .summary = "Show links: endpoints and, per direction, delay, jitter, rate, queue, loss, AQM.",
        .synopsis = "[LINK] [--json]",
        .help = "Arguments:\n"
                "  LINK    only this link (default: every link)\n"
                "Options:\n"
                "  --json  print the agent's reply as JSON\n",
        .run = run_show,
    },
    {
        .name = "set",
        .summary = "Change parameters of a running link; queued packets are kept.",
        .synopsis = "LINK [--dir both|a2b|b2a] KEY=VALUE... [--json]",
        .help = "Keys are the configuration's pipe fields, in its units (docs/CONFIG.md):\n"
                "  delay=20ms jitter=2ms jitter_dist=normal rate=100Mbit queue_slots=100\n"
                "  queue_bytes=64KiB plr=0.01 seed=7\n"
                "  aqm=red thresh=5 maxthresh=15 q_weight=0.002 linterm=10\n"
                "  ge_p=0.01 ge_r=0.3 ge_loss_good=0 ge_loss_bad=1   (Gilbert-Elliott loss)\n"
                "Only the keys given change; the agent checks ranges and keeps queued packets.\n"
                "Options:\n"
                "  --dir D  both (default), a2b or b2a\n"
                "  --json   print the agent's reply as JSON\n"
                "Example:\n"
                "  stasis link set lan0 --dir a2b delay=50ms plr=0.001\n",
        .run = run_set,
    },
    {
        .name = "stats",
        .summary = "Show counters: packets, bytes, drops by reason, queue, lateness; per port unmatched.",
        .synopsis = "[LINK] [--json]",
        .help = "Arguments:\n"
                "  LINK    only this link (default: every link)\n"
                "Options:\n"
                "  --json  print the agent's reply as JSON\n",
        .run = run_stats,
    },
};

}  // namespace

constinit const command link_command = {
    .name = "link",
    .summary = "Show, change and count the links of a delay node.",
    .synopsis = "COMMAND [ARGS]",
    .help = "",
    .run = nullptr,
    .subcommands = link_subcommands,
};

}  // namespace stasis::tools
