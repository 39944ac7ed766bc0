// `stasis freeze` and `stasis thaw`: the exact cut of a delay node's in-flight frames, and resuming it.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <thread>

#include "cli.hpp"
#include "stasis/dataplane/realtime.hpp"
#include "stasis/dataplane/units.hpp"

namespace stasis::tools {
namespace {

using dataplane::realtime_ns;

// --at NS (absolute CLOCK_REALTIME ns) or --in DURATION (from now, e.g. 50ms); 0 = the agent's "now".
int64_t instant_option(args &words)
{
    const auto at = words.int_option("--at", 1, INT64_MAX);
    const auto in = words.option("--in");
    if (at && in)
        throw usage_error("give --at or --in, not both");
    if (at)
        return *at;
    if (in) {
        auto d = dataplane::parse_duration_ns(*in);
        if (!d)
            throw usage_error("--in: " + d.error());
        return realtime_ns() + *d;
    }
    return 0;
}

std::string rel(int64_t t, int64_t f)
{
    const int64_t d = t - f;
    std::string out(1, d < 0 ? '-' : '+');  // appended, not prepended: GCC 12 warns (-Wrestrict) on "x" + string
    out += dataplane::format_duration(d < 0 ? -d : d);
    return out;
}

void print_report(const control::FreezeReport &f)
{
    if (!f.working_on().empty())  // answered while the agent works on a long request
        std::printf("working on a %s for %s; what follows is the state as it began\n", f.working_on().c_str(),
                    dataplane::format_duration(std::max<int64_t>(realtime_ns() - f.working_since_ns(), 0)).c_str());
    if (!f.frozen()) {
        std::printf("not frozen\n");
        return;
    }
    std::printf("frozen at F = %lld (CLOCK_REALTIME ns)%s\n", (long long)f.freeze_ns(),
                f.reached() ? "" : ", not reached yet");
    for (const auto &w : f.workers()) {
        if (w.noticed_ns())
            std::printf("  worker lcore %u noticed F%s\n", w.lcore(), rel(w.noticed_ns(), f.freeze_ns()).c_str());
        else
            std::printf("  worker lcore %u noticed not yet\n", w.lcore());
    }
    std::printf("  %-16s %12s %12s %12s %12s\n", "LINK", "A2B PKTS", "A2B BYTES", "B2A PKTS", "B2A BYTES");
    for (const auto &l : f.links())
        std::printf("  %-16s %12u %12llu %12u %12llu\n", l.link().c_str(), l.packets_a_to_b(),
                    (unsigned long long)l.bytes_a_to_b(), l.packets_b_to_a(), (unsigned long long)l.bytes_b_to_a());
}

control::Reply status(context &ctx)
{
    control::Request request;
    request.mutable_freeze_status();
    return ctx.call(request);
}

int run_freeze(context &ctx, args &words)
{
    const bool json = words.flag("--json");
    const bool only_status = words.flag("--status");
    const bool no_wait = words.flag("--no-wait");
    const int64_t at = only_status ? 0 : instant_option(words);
    words.done();
    if (!only_status) {
        control::Request request;
        request.mutable_freeze()->set_at_ns(at);
        const control::Reply reply = ctx.call(request);
        const int64_t f = reply.freeze().freeze_ns();
        if (no_wait) {
            if (json)
                print_json(reply);
            else
                std::printf("freezing at F = %lld\n", (long long)f);
            return 0;
        }
        // Ask for the report once every worker has had time to pass F.
        const int64_t wait = f + 2'000'000 - realtime_ns();
        if (wait > 0)
            std::this_thread::sleep_for(std::chrono::nanoseconds(wait));
    }
    const control::Reply reply = status(ctx);
    if (json)
        print_json(reply);
    else
        print_report(reply.freeze());
    return 0;
}

int run_thaw(context &ctx, args &words)
{
    if (int rc = run_thaw_experiment(words); rc >= 0)  // `stasis thaw EXP`: the whole experiment
        return rc;
    const bool json = words.flag("--json");
    const int64_t at = instant_option(words);
    words.done();
    control::Request request;
    request.mutable_thaw()->set_at_ns(at);
    const control::Reply reply = ctx.call(request);
    if (json)
        print_json(reply);
    else
        std::printf("resuming at R = %lld (CLOCK_REALTIME ns)\n", (long long)reply.freeze().resume_ns());
    return 0;
}

void print_snapshot(const control::SnapshotReport &s, const char *verb)
{
    std::printf("%s %s: %llu frames, %llu bytes in flight, file %llu bytes, F = %lld\n", verb, s.path().c_str(),
                (unsigned long long)s.packets(), (unsigned long long)s.bytes(), (unsigned long long)s.file_bytes(),
                (long long)s.freeze_ns());
}

int run_save_or_load(context &ctx, args &words, bool save)
{
    const bool json = words.flag("--json");
    const auto path = words.next();
    if (!path)
        throw usage_error("a snapshot path is needed (on the agent's host)");
    words.done();
    control::Request request;
    if (save)
        request.mutable_save()->set_path(*path);
    else
        request.mutable_load()->set_path(*path);
    const control::Reply reply = ctx.call_long(request, save ? "saving" : "loading");
    if (json)
        print_json(reply);
    else
        print_snapshot(reply.snapshot(), save ? "saved" : "loaded");
    return 0;
}

int run_save(context &ctx, args &words) { return run_save_or_load(ctx, words, true); }
int run_load(context &ctx, args &words) { return run_save_or_load(ctx, words, false); }

}  // namespace

constinit const command save_command = {
    .name = "save",
    .summary = "Write a frozen delay node's state to a snapshot file.",
    .synopsis = "PATH [--json]",
    .help = "PATH is on the agent's host. The file is written under a temporary name, fsynced and\n"
            "renamed; on any failure (a full disk...) the agent stays frozen with its state intact.\n",
    .run = run_save,
};

constinit const command load_command = {
    .name = "load",
    .summary = "Load a snapshot into a delay node (links matched by name); it stays frozen until resume.",
    .synopsis = "PATH [--json]",
    .help = "The links of the snapshot get its parameters, model states and held frames; the agent is\n"
            "frozen at the snapshot's F until `stasis resume` (or `thaw`) at R shifts every instant by R - F.\n",
    .run = run_load,
};

constinit const command resume_command = {
    .name = "resume",
    .summary = "Resume a frozen or loaded delay node at an instant R (the same as thaw).",
    .synopsis = "[--at NS | --in DURATION] [--json]",
    .help = "Every held instant t becomes t - F + R.\n"
            "Options:\n"
            "  --at NS        R as absolute CLOCK_REALTIME nanoseconds\n"
            "  --in DURATION  R this long from now; default: now + 1 ms\n"
            "  --json         print the agent's reply as JSON\n",
    .run = run_thaw,
};

constinit const command freeze_command = {
    .name = "freeze",
    .summary = "Freeze every link at an instant: hold what departs at or after it.",
    .synopsis = "[--at NS | --in DURATION] [--no-wait] [--status] [--json]",
    .help = "Frames that depart before the freeze instant F are sent; nothing departs at or after F;\n"
            "frames that arrive after F are still accepted and held (the drain window). Then prints\n"
            "when each worker noticed F and what each link holds.\n"
            "Options:\n"
            "  --at NS        F as absolute CLOCK_REALTIME nanoseconds\n"
            "  --in DURATION  F this long from now (e.g. 20ms); default: now (plus the agent's 200 us guard)\n"
            "  --no-wait      return once F is scheduled, without the report\n"
            "  --status       only print the report of the current freeze\n"
            "  --json         print the agent's reply as JSON\n",
    .run = run_freeze,
};

constinit const command thaw_command = {
    .name = "thaw",
    .summary = "Resume a frozen experiment (EXP) or one frozen delay node in place at an instant R.",
    .synopsis = "EXP [--lead MS] [--json]   |   [--at NS | --in DURATION] [--json]",
    .help = "With EXP (an experiment file): resume every frozen agent of the experiment at one instant R\n"
            "(--lead MS: R this long after it is chosen; --quiet: no progress lines).\n"
            "Without: the agent of --control. Every held instant t becomes t - F + R: the links resume as\n"
            "if the pause never happened.\n"
            "Before F is reached, cancels the scheduled freeze.\n"
            "Options:\n"
            "  --at NS        R as absolute CLOCK_REALTIME nanoseconds\n"
            "  --in DURATION  R this long from now; default: now + 1 ms\n"
            "  --json         print the agent's reply as JSON\n",
    .run = run_thaw,
};

}  // namespace stasis::tools
