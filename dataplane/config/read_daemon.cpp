// The `daemon` block: control socket, lcores, burst and idle back-off.
#include <algorithm>

#include "readers.hpp"
#include "stasis/dataplane/units.hpp"
#include "text.hpp"

namespace stasis::dataplane::detail {

namespace {

constexpr uint32_t max_burst = 512;
constexpr int64_t max_idle_sleep_ns = 1'000'000'000;  // a longer nap is a latency spike, not thrift
constexpr uint32_t min_mbufs = 1024;

// ZeroMQ endpoints the agent can bind.
bool is_endpoint(std::string_view s) {
    for (std::string_view scheme : {"tcp://", "ipc://", "inproc://"})
        if (s.starts_with(scheme) && s.size() > scheme.size()) return true;
    return false;
}

}  // namespace

void read_daemon(const stasis::config::Daemon &d, const locator &at, daemon_config &out,
                 std::vector<std::string> &errors) {
    auto fail = [&](std::string_view field, const std::string &what, int index = -1) {
        errors.push_back(cat(at.at(field, index), ": daemon.", field, ": ", what));
    };
    if (d.has_control()) {
        out.control = d.control();
        if (!is_endpoint(out.control))
            fail("control", cat(quoted(out.control), " is not a ZeroMQ endpoint (tcp://host:port, "
                                "ipc://path or inproc://name)"));
    }
    for (int i = 0; i < d.worker_lcores_size(); ++i) {
        const unsigned lcore = d.worker_lcores(i);
        if (std::ranges::find(out.worker_lcores, lcore) != out.worker_lcores.end())
            fail("worker_lcores", cat("lcore ", lcore, " is listed twice"), i);
        out.worker_lcores.push_back(lcore);
    }
    if (d.has_burst()) {
        out.burst = d.burst();
        if (out.burst < 1 || out.burst > max_burst)
            fail("burst", cat(out.burst, " is not in 1..", max_burst));
    }
    if (d.has_idle_sleep()) {
        auto ns = parse_duration_ns(d.idle_sleep());
        if (!ns)
            fail("idle_sleep", ns.error());
        else if (*ns > max_idle_sleep_ns)
            fail("idle_sleep", cat(quoted(d.idle_sleep()), " is above the maximum of ",
                                   format_duration(max_idle_sleep_ns)));
        else
            out.idle_sleep_ns = *ns;
    }
    if (d.has_idle_turns()) out.idle_turns = d.idle_turns();
    if (d.has_mbufs()) {
        out.mbufs = d.mbufs();
        if (out.mbufs != 0 && out.mbufs < min_mbufs)
            fail("mbufs", cat(out.mbufs, " is below the minimum of ", min_mbufs, " (or 0: derive)"));
    }
    if (d.has_command_poll_turns()) {
        out.command_poll_turns = d.command_poll_turns();
        if (out.command_poll_turns < 1) fail("command_poll_turns", "0 would never poll commands");
    }
}

}  // namespace stasis::dataplane::detail
