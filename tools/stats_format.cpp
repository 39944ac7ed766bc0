// The tables of `stasis link stats`.
#include <cstdio>

#include "link_format.hpp"
#include "table.hpp"

namespace stasis::tools {

std::string short_ns(int64_t ns)
{
    if (ns == 0)
        return "0";
    const char *sign = ns < 0 ? "-" : "";
    const double v = ns < 0 ? -static_cast<double>(ns) : static_cast<double>(ns);
    static const struct {
        double scale;
        const char *unit;
    } units[] = {{1e9, "s"}, {1e6, "ms"}, {1e3, "us"}, {1, "ns"}};
    for (const auto &u : units) {
        if (v >= u.scale || u.scale == 1) {
            char buf[32];
            std::snprintf(buf, sizeof buf, "%s%.3g%s", sign, v / u.scale, u.unit);
            return buf;
        }
    }
    return "?";
}

std::string stats_tables(const control::StatsReply &stats)
{
    using col = table::column;
    const auto right = table::align::right;
    table links({col{"LINK"}, col{"DIR"}, col{"RX PKTS", right}, col{"RX BYTES", right},
                 col{"TX PKTS", right}, col{"TX BYTES", right}, col{"LOSS", right}, col{"QFULL", right},
                 col{"RED", right}, col{"FIFO", right}, col{"TXERR", right}, col{"QLEN", right},
                 col{"QBYTES", right}, col{"LATE P50", right}, col{"P99", right}, col{"MAX", right}});
    for (const auto &l : stats.links()) {
        for (bool a_to_b : {true, false}) {
            const control::PipeCounters &c = a_to_b ? l.a_to_b() : l.b_to_a();
            auto n = [](uint64_t v) { return std::to_string(v); };
            links.add({a_to_b ? l.link() : "", a_to_b ? "a2b" : "b2a", n(c.rx_packets()), n(c.rx_bytes()),
                       n(c.tx_packets()), n(c.tx_bytes()), n(c.drop_loss()), n(c.drop_queue()),
                       n(c.drop_red()), n(c.drop_fifo()), n(c.drop_tx()), n(c.queue_packets()),
                       n(c.queue_bytes()), short_ns(c.lateness_p50_ns()), short_ns(c.lateness_p99_ns()),
                       short_ns(c.lateness_max_ns())});
        }
    }
    std::string out = links.render();
    out += "drops: LOSS loss model, QFULL queue full, RED early drop, FIFO departure FIFO full, TXERR "
           "refused by the port\n";
    if (stats.ports_size() > 0) {
        table ports({col{"PORT"}, col{"RX PKTS", right}, col{"TX PKTS", right}, col{"UNMATCHED", right}});
        for (const auto &p : stats.ports())
            ports.add({p.port(), std::to_string(p.rx_packets()), std::to_string(p.tx_packets()),
                       std::to_string(p.rx_unmatched())});
        out.append("\n").append(ports.render());
    }
    return out;
}

}  // namespace stasis::tools
