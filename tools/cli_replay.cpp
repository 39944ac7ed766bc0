// `stasis replay IN.pcap OUT.pcap [link options]`: a capture through one link model in virtual time, with
// a fidelity report (docs/FIDELITY.md).
#include <cstdio>
#include <fstream>

#include "cli.hpp"
#include "stasis/dataplane/units.hpp"
#include "stasis/replay/fidelity.hpp"
#include "stasis/replay/link_options.hpp"
#include "stasis/replay/live.hpp"
#include "stasis/replay/plot.hpp"
#include "stasis/replay/replay.hpp"

namespace stasis::tools {
namespace {

int64_t duration_option(args &words, std::string_view name)
{
    const auto text = words.option(name);
    if (!text)
        return -1;
    auto ns = dataplane::parse_duration_ns(*text);
    if (!ns)
        throw usage_error(std::string(name) + " " + *text + ": " + ns.error());
    return *ns;
}

replay::link_options take_link_options(args &words)
{
    replay::link_options o;
    o.delay = words.option("--delay");
    o.rate = words.option("--rate");
    o.queue = words.option("--queue");
    o.queue_bytes = words.option("--queue-bytes");
    o.plr = words.option("--plr");
    o.seed = words.option("--seed");
    o.jitter = words.option("--jitter");
    o.jitter_dist = words.option("--jitter-dist");
    o.ge = words.option("--ge");
    o.aqm = words.option("--aqm");
    o.red = words.option("--red");
    return o;
}

void write_report(const std::string &path, const std::string &json)
{
    std::ofstream f(path, std::ios::trunc);
    f << json;
    f.close();
    if (!f)
        throw operation_error(path + ": cannot write the report");
}

int run_replay(context &, args &words)
{
    replay::replay_options o;
    auto link = replay::link_from_options(take_link_options(words));
    const auto report_path = words.option("--report");
    const auto plot_dir = words.option("--plot");
    const int64_t at = duration_option(words, "--checkpoint-at");
    const int64_t pause = duration_option(words, "--pause");
    const bool live = words.flag("--live");
    const auto tx_iface = words.option("--tx-iface");
    const auto rx_iface = words.option("--rx-iface");
    const auto in = words.next();
    const auto out = words.next();
    words.done();
    if (!in || !out)
        throw usage_error(!in ? "which capture? give IN.pcap and OUT.pcap" : "where to? give OUT.pcap");
    if (*in == *out)
        throw usage_error("OUT.pcap must not be IN.pcap");
    if (!link)
        throw usage_error(link.error());
    if (pause >= 0 && at < 0)
        throw usage_error("--pause needs --checkpoint-at");
    if (live && (!tx_iface || !rx_iface))
        throw usage_error("--live needs --tx-iface and --rx-iface");
    if (!live && (tx_iface || rx_iface))
        throw usage_error("--tx-iface and --rx-iface go with --live");
    if (live && at >= 0)
        throw usage_error("--checkpoint-at is for the virtual replay, not --live");
    o.in_path = *in;
    o.out_path = *out;
    o.params = *link;
    if (at >= 0) {
        o.checkpoint_after_ns = at;
        o.pause_ns = pause >= 0 ? pause : 0;
    }

    try {
        if (plot_dir)
            replay::require_gnuplot();  // before the work, not after it
        replay::fidelity_report report(o.params);
        std::string live_json;
        replay::replay_summary summary;
        if (live) {
            replay::live_options l{*tx_iface, *rx_iface};
            replay::live_stats stats;
            summary = replay::run_live(o, l, report, stats);
            std::fputs(replay::live_text(stats).c_str(), stdout);
            live_json = replay::live_json(l, stats);
        } else {
            summary = replay::run_replay(o, &report);
        }
        std::fputs(report.text(o, summary).c_str(), stdout);
        if (report_path) {
            std::string json = report.json(o, summary);
            if (live) {  // one more member of the top-level object
                const auto close = json.rfind('}');
                while (!live_json.empty() && live_json.back() == '\n')
                    live_json.pop_back();
                json = json.substr(0, close) + ",\n\"live\": " + live_json + "\n}\n";
            }
            write_report(*report_path, json);
        }
        if (plot_dir)
            replay::write_plots(*plot_dir, report, o.params);
    } catch (const replay::replay_error &e) {
        throw operation_error(e.what());
    }
    return 0;
}

}  // namespace

extern const command replay_command;  // main.cpp's table (cli.hpp lists the other commands)
constinit const command replay_command = {
    .name = "replay",
    .summary = "Replay a capture through one emulated link in virtual time, with a fidelity report.",
    .synopsis = "IN.pcap OUT.pcap [LINK OPTIONS] [--report FILE.json] [--plot DIR]\n"
                "       [--checkpoint-at T [--pause D]]\n"
                "       IN.pcap OUT.pcap --live --tx-iface IF_A --rx-iface IF_B [LINK OPTIONS] [--report ..]",
    .help = "Every packet of IN (Ethernet, pcap or pcapng) arrives at its timestamp with its wire\n"
            "length; OUT (a nanosecond pcap) holds the packets the link delivers, stamped with their\n"
            "departure instants. Nothing runs in real time; the result is exact to the nanosecond.\n"
            "Link options (units and rules of docs/CONFIG.md; defaults: no delay, unlimited rate,\n"
            "50-slot queue, no loss, seed 1):\n"
            "  --delay D            one-way delay, e.g. 7ms\n"
            "  --rate R             bandwidth with a unit, e.g. 12Mbit (0 = unlimited)\n"
            "  --queue N            queue limit in packets\n"
            "  --queue-bytes S      queue limit in bytes, e.g. 64KB (replaces --queue)\n"
            "  --plr P              Bernoulli loss probability, 0..1\n"
            "  --ge p,r[,lg,lb]     Gilbert-Elliott loss (instead of --plr)\n"
            "  --jitter J           jitter amplitude; never reorders\n"
            "  --jitter-dist D      uniform (default), normal, pareto, paretonormal\n"
            "  --aqm A              droptail (default), red, gred\n"
            "  --red t[,max[,w[,linterm]]]  RED thresholds (queue units), q_weight, 1/max_p\n"
            "  --seed N             seed of the link's random numbers (default 1)\n"
            "Report:\n"
            "  --report FILE.json   the full report as JSON (docs/FIDELITY.md)\n"
            "  --plot DIR           delay CDF, throughput and queue PNGs (needs gnuplot)\n"
            "Checkpoint:\n"
            "  --checkpoint-at T    freeze the link T after the first packet's timestamp, save its\n"
            "                       state and the packets in flight, restore them into a new link\n"
            "  --pause D            ... which resumes D later (default 0): arrivals from T on and\n"
            "                       departures from T on move by D\n"
            "Live (needs CAP_NET_RAW): --live --tx-iface IF_A --rx-iface IF_B\n"
            "  sends every frame of IN out of IF_A at its recorded offset from now + 200 ms, through a\n"
            "  running stasis-delayd, and captures on IF_B with kernel receive timestamps until the\n"
            "  last expected departure + 1 s. Received frames are matched to sent ones by their bytes\n"
            "  (equal frames in send order); OUT holds them, stamped with their receive times. The\n"
            "  report compares them with the model run on the actual send instants: the LINK OPTIONS\n"
            "  must describe the daemon's link (IF_A -> IF_B direction); nothing checks that they do.\n"
            "Example:\n"
            "  stasis replay in.pcap out.pcap --delay 7ms --rate 12Mbit --queue 50 --report r.json\n",
    .run = run_replay,
};

}  // namespace stasis::tools
