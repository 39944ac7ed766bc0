// `stasis snapshot inspect|export`: what a snapshot file of a frozen delay node holds (local files,
// no agent involved).
#include <time.h>

#include <cstdio>

#include "cli.hpp"
#include "link_format.hpp"
#include "stasis/dataplane/config.hpp"
#include "stasis/snapshot.pb.h"
#include "stasis/snapshot/pcapng.hpp"
#include "stasis/snapshot/reader.hpp"
#include "table.hpp"

namespace stasis::tools {
namespace {

namespace sn = stasis::snapshot;

sn::snapshot_reader open_snapshot(const std::string &path)
{
    auto r = sn::snapshot_reader::open(path);
    if (!r)
        throw operation_error(r.error().message);
    return std::move(*r);
}

// "2023-11-14T22:13:20.123456789Z"; with date=false only the time of day.
std::string utc_text(int64_t ns, bool date = true)
{
    const time_t sec = time_t(ns >= 0 ? ns / 1'000'000'000 : (ns - 999'999'999) / 1'000'000'000);
    const long frac = long(ns - int64_t(sec) * 1'000'000'000);
    tm t{};
    gmtime_r(&sec, &t);
    char buf[64];
    if (date)
        std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", t.tm_year + 1900,
                      t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, frac);
    else
        std::snprintf(buf, sizeof buf, "%02d:%02d:%02d.%09ld", t.tm_hour, t.tm_min, t.tm_sec, frac);
    return buf;
}

std::string relative_text(int64_t rel_ns)
{
    return (rel_ns < 0 ? "F-" : "F+") + short_ns(rel_ns < 0 ? -rel_ns : rel_ns);
}

// "F+1.25ms (22:13:20.124706789)": the date only when it is not F's.
std::string instant_text(int64_t rel_ns, int64_t freeze_ns)
{
    const int64_t day = 86'400'000'000'000;
    const int64_t abs = freeze_ns + rel_ns;
    const bool same_day = abs / day == freeze_ns / day;
    return relative_text(rel_ns) + " (" + utc_text(abs, !same_day) + ")";
}

dataplane::link_config as_config(const sn::link_summary &l)
{
    dataplane::link_config c;
    c.name = l.link.name;
    c.a = l.link.a;
    c.b = l.link.b;
    c.a_to_b = l.pipes[0].pipe.params;
    c.b_to_a = l.pipes[1].pipe.params;
    return c;
}

snapshot::InspectPipe inspect_pipe(const sn::pipe_summary &p, int64_t freeze_ns)
{
    snapshot::InspectPipe m;
    *m.mutable_params() = dataplane::to_proto(p.pipe.params);
    const sn::pipe_counters &c = p.pipe.counters;
    snapshot::Counters *mc = m.mutable_counters();
    mc->set_rx_packets(c.rx_packets);
    mc->set_rx_bytes(c.rx_bytes);
    mc->set_tx_packets(c.tx_packets);
    mc->set_tx_bytes(c.tx_bytes);
    mc->set_drop_loss(c.drop_loss);
    mc->set_drop_queue(c.drop_queue);
    mc->set_drop_red(c.drop_red);
    mc->set_drop_fifo(c.drop_fifo);
    mc->set_drop_tx(c.drop_tx);
    m.set_packets(p.packets);
    m.set_bytes(p.bytes);
    m.set_queue_packets(uint32_t(p.pipe.state.queue.size()));
    if (p.packets > 0) {
        m.set_oldest_depart_rel_ns(p.oldest_depart_rel_ns);
        m.set_newest_depart_rel_ns(p.newest_depart_rel_ns);
        m.set_oldest_depart_utc(utc_text(freeze_ns + p.oldest_depart_rel_ns));
        m.set_newest_depart_utc(utc_text(freeze_ns + p.newest_depart_rel_ns));
        m.set_oldest_arrival_rel_ns(p.oldest_arrival_rel_ns);
        m.set_newest_arrival_rel_ns(p.newest_arrival_rel_ns);
    }
    return m;
}

snapshot::Inspect inspect_message(const sn::snapshot_reader &r)
{
    const sn::header &h = r.header();
    snapshot::Inspect m;
    m.set_path(r.path());
    m.set_format_version(r.file().format_version);
    m.set_file_bytes(r.file().file_bytes);
    m.set_records(r.file().records);
    snapshot::Header *mh = m.mutable_header();
    mh->set_created_realtime_ns(h.created_realtime_ns);
    mh->set_freeze_realtime_ns(h.freeze_realtime_ns);
    mh->set_agent(h.agent);
    mh->set_host(h.host);
    mh->set_software_version(h.software_version);
    mh->set_config(dataplane::dump_config(h.config));
    m.set_created_utc(utc_text(h.created_realtime_ns));
    m.set_freeze_utc(utc_text(h.freeze_realtime_ns));
    m.set_packets(r.file().packets);
    m.set_bytes(r.file().bytes);
    for (const sn::link_summary &l : r.links()) {
        snapshot::InspectLink *ml = m.add_links();
        const config::Link cl = dataplane::to_proto(as_config(l));
        ml->set_name(l.link.name);
        *ml->mutable_a() = cl.a();
        *ml->mutable_b() = cl.b();
        *ml->mutable_a_to_b() = inspect_pipe(l.pipes[0], h.freeze_realtime_ns);
        *ml->mutable_b_to_a() = inspect_pipe(l.pipes[1], h.freeze_realtime_ns);
    }
    return m;
}

std::string in_flight_table(const sn::snapshot_reader &r)
{
    using col = table::column;
    const auto right = table::align::right;
    table t({col{"LINK"}, col{"DIR"}, col{"PACKETS", right}, col{"BYTES", right},
             col{"QUEUED", right}, col{"OLDEST DEPART"}, col{"NEWEST DEPART"}});
    const int64_t f = r.header().freeze_realtime_ns;
    for (const sn::link_summary &l : r.links()) {
        for (size_t d = 0; d < 2; d++) {
            const sn::pipe_summary &p = l.pipes[d];
            const bool any = p.packets > 0;
            t.add({d == 0 ? l.link.name : "", d == 0 ? "a2b" : "b2a", std::to_string(p.packets),
                   std::to_string(p.bytes), std::to_string(p.pipe.state.queue.size()),
                   any ? instant_text(p.oldest_depart_rel_ns, f) : "-",
                   any ? instant_text(p.newest_depart_rel_ns, f) : "-"});
        }
    }
    return t.render();
}

int run_inspect(context &, args &words)
{
    const bool json = words.flag("--json");
    const auto file = words.next();
    if (!file)
        throw usage_error("which snapshot file?");
    words.done();
    const sn::snapshot_reader r = open_snapshot(*file);
    if (json) {
        print_json(inspect_message(r));
        return 0;
    }
    const sn::header &h = r.header();
    std::printf("%s: Stasis snapshot, format version %u, %llu bytes in %llu records\n", file->c_str(),
                r.file().format_version, (unsigned long long)r.file().file_bytes,
                (unsigned long long)r.file().records);
    std::printf("  agent:     %s %s on %s\n", h.agent.c_str(), h.software_version.c_str(),
                h.host.empty() ? "?" : h.host.c_str());
    std::printf("  frozen:    %s (F)\n", utc_text(h.freeze_realtime_ns).c_str());
    std::printf("  saved:     %s (F+%s)\n", utc_text(h.created_realtime_ns).c_str(),
                short_ns(h.created_realtime_ns - h.freeze_realtime_ns).c_str());
    std::printf("  in flight: %llu packets, %llu bytes, on %zu links\n",
                (unsigned long long)r.file().packets, (unsigned long long)r.file().bytes,
                r.links().size());
    if (r.links().empty())
        return 0;
    control::LinkList links;
    for (const sn::link_summary &l : r.links())
        *links.add_links()->mutable_link() = dataplane::to_proto(as_config(l));
    std::printf("\n%s\n%s", links_table(links).c_str(), in_flight_table(r).c_str());
    return 0;
}

int run_export(context &, args &words)
{
    const auto file = words.next();
    const auto out = words.next();
    if (!file || !out)
        throw usage_error("export wants a snapshot file and an output file");
    words.done();
    const sn::snapshot_reader r = open_snapshot(*file);
    auto stats = sn::export_pcapng(r, *out);
    if (!stats)
        throw operation_error(stats.error().message);
    std::printf("%s: %llu packets, %llu bytes, %u interfaces\n", out->c_str(),
                (unsigned long long)stats->packets, (unsigned long long)stats->bytes,
                stats->interfaces);
    return 0;
}

constinit const command snapshot_subcommands[] = {
    {
        .name = "inspect",
        .summary = "Check a snapshot file and show its header, links and the packets in flight.",
        .synopsis = "FILE [--json]",
        .help = "Checks the whole file (format version, every checksum, the trailer), then prints\n"
                "who saved it and when, each link's parameters as `stasis link show` does, and per\n"
                "direction the packets held at the freeze: count, bytes, how many were still in\n"
                "the bottleneck queue, and the oldest and newest departure, relative to the freeze\n"
                "instant F and in UTC.\n"
                "Options:\n"
                "  --json  everything as JSON (stasis.snapshot.Inspect), counters included\n",
        .run = run_inspect,
    },
    {
        .name = "export",
        .summary = "Write the packets in flight as pcapng, stamped with their arrival times.",
        .synopsis = "FILE OUT.pcapng",
        .help = "One interface per link and direction, named LINK/a_to_b and LINK/b_to_a, with\n"
                "nanosecond timestamps (F plus the packet's arrival, relative to F). Wireshark,\n"
                "tshark and tcpdump read it.\n"
                "Example:\n"
                "  stasis snapshot export /var/lib/stasis/ckpt-7.stasis frozen.pcapng\n",
        .run = run_export,
    },
};

}  // namespace

// extern: main.cpp names it (a namespace-scope const is otherwise internal).
extern constinit const command snapshot_command = {
    .name = "snapshot",
    .summary = "Inspect snapshot files of a frozen delay node and export their packets.",
    .synopsis = "COMMAND [ARGS]",
    .help = "",
    .run = nullptr,
    .subcommands = snapshot_subcommands,
};

}  // namespace stasis::tools
