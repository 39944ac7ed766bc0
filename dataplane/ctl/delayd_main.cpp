// stasis-delayd: the delay node daemon. EAL arguments come first, ours after "--".
#include <csignal>
#include <cstdio>
#include <cstring>
#include <getopt.h>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <rte_cycles.h>
#include <rte_lcore.h>

#include "control_handler.hpp"
#include "delay_node.hpp"
#include "eal.hpp"
#include "stasis/control/agent_security.hpp"
#include "stasis/control/agent_server.hpp"
#include "stasis/control/curve.hpp"
#include "stasis/dataplane/config.hpp"

namespace {

using namespace stasis::dataplane;

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

const char *usage_text =
    "usage: stasis-delayd [EAL options] -- --config FILE (--curve-key FILE --allow FILE... | --plain) [options]\n"
    "\n"
    "A DPDK delay node: emulates the delay, bandwidth, loss and queue of every link in FILE between\n"
    "DPDK ports, and serves a ZeroMQ control socket (`stasis link ...`).\n"
    "\n"
    "EAL options (before --), for example:\n"
    "  -l 0,1                     main lcore 0 (control), worker lcore 1; one worker per extra lcore\n"
    "  --vdev net_af_packet0,iface=veth0   a port on a Linux interface (offloads off)\n"
    "  --no-pci --in-memory       no PCI scan, no shared files (several daemons per host)\n"
    "\n"
    "Options (after --):\n"
    "  -c, --config FILE          link configuration (protobuf text format, docs/CONFIG.md)\n"
    "      --control ENDPOINT     ZeroMQ endpoint of the control socket (overrides daemon.control)\n"
    "      --curve-key FILE       CURVE: this agent's key pair, made by `stasis keygen` (docs/SECURITY.md)\n"
    "      --allow FILE           CURVE: the controllers let in: a .pub file, a file of keys one per\n"
    "                             line, or a directory of .pub files; repeatable\n"
    "      --plain                no authentication nor encryption; only on a loopback endpoint\n"
    "                             (tcp://127.0.0.1:PORT, ipc://PATH). One of CURVE or --plain is required\n"
    "      --check                validate the configuration against the ports, then exit\n"
    "  -h, --help                 this text\n"
    "\n"
    "Prints 'stasis-delayd: ready' on stdout when serving; SIGINT or SIGTERM stop it cleanly.\n";

struct options {
    std::string config, control;
    stasis::control::agent_security security;  // --curve-key, --allow, --plain
    bool check = false;
};

bool wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || (!strcmp(argv[i], "-h") && i > 1 && !strcmp(argv[i - 1], "--")))
            return true;
    return false;
}

// Parses our options (argv[0] is whatever precedes them). Returns false on a usage error.
bool parse_options(int argc, char **argv, options &o)
{
    static const option longopts[] = {{"config", required_argument, nullptr, 'c'},
                                      {"control", required_argument, nullptr, 'C'},
                                      {"check", no_argument, nullptr, 'k'},
                                      {"curve-key", required_argument, nullptr, 'K'},
                                      {"allow", required_argument, nullptr, 'A'},
                                      {"plain", no_argument, nullptr, 'P'},
                                      {"help", no_argument, nullptr, 'h'},
                                      {nullptr, 0, nullptr, 0}};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "c:h", longopts, nullptr)) != -1) {
        switch (c) {
        case 'c': o.config = optarg; break;
        case 'C': o.control = optarg; break;
        case 'k': o.check = true; break;
        case 'K': o.security.curve_key = optarg; break;
        case 'A': o.security.allow.emplace_back(optarg); break;
        case 'P': o.security.plain = true; break;
        default: return false;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "stasis-delayd: unexpected argument '%s'\n", argv[optind]);
        return false;
    }
    if (o.config.empty()) {
        fprintf(stderr, "stasis-delayd: --config FILE is required\n");
        return false;
    }
    const std::string security_error = stasis::control::security_usage_error(o.security, o.check);
    if (!security_error.empty()) {
        fprintf(stderr, "stasis-delayd: %s\n", security_error.c_str());
        return false;
    }
    return true;
}

int serve(delay_node &node, const std::string &endpoint,
          std::optional<stasis::control::curve_server_options> curve)
{
    zmq::context_t ctx;
    stasis::control::server_options so;
    so.endpoint = endpoint;
    if (curve)
        fprintf(stderr, "stasis-delayd: control socket: CURVE, public key %s, %zu controller key(s) allowed\n",
                curve->keys.public_key.c_str(), curve->allowed.size());
    else
        fprintf(stderr, "stasis-delayd: control socket: plain (unauthenticated, loopback)\n");
    so.curve = std::move(curve);
    delay_agent agent(node, endpoint);
    stasis::control::agent_server server(
        ctx, so, [&agent](const stasis::control::Request &req) { return agent.handle(req); });
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    node.start();
    std::string lcores;
    for (const auto &w : node.workers())  // not `"," + to_string()`: GCC 12 warns falsely (-Wrestrict)
        lcores.append(lcores.empty() ? "" : ",").append(std::to_string(w->lcore()));
    printf("stasis-delayd: ready: %zu link(s) on %zu worker(s) (lcores %s), control %s\n",
           node.links().size(), node.workers().size(), lcores.c_str(), server.endpoint().c_str());
    fflush(stdout);
    while (!g_stop && !agent.released()) {
        server.poll_once(stasis::control::poll_timeout(agent.next_due_ns()));
        for (auto &e : agent.tick())
            server.publish(e);
    }
    node.stop();
    fprintf(stderr, "stasis-delayd: stopped\n");
    return 0;
}

}  // namespace

int main(int argc, char **argv)
{
    if (wants_help(argc, argv)) {
        fputs(usage_text, stdout);
        return 0;
    }
    try {
        eal_session eal(argc, argv);
        argc -= eal.consumed();
        argv += eal.consumed();
        options o;
        if (!parse_options(argc, argv, o)) {
            fputs(usage_text, stderr);
            return 2;
        }
        daemon_config cfg = load_config_file(o.config);
        if (!o.control.empty())
            cfg.control = o.control;
        auto curve = stasis::control::load_security(o.security, cfg.control);
        worker_options wo;
        wo.burst = uint16_t(cfg.burst);
        wo.idle_sleep_ns = cfg.idle_sleep_ns;
        wo.idle_turns = cfg.idle_turns;
        wo.command_poll_turns = cfg.command_poll_turns;
        delay_node node(cfg, node_clock::calibrate(), wo);
        if (o.check) {
            printf("stasis-delayd: %s: configuration is valid (%zu link(s))\n", o.config.c_str(),
                   node.links().size());
            return 0;
        }
        return serve(node, cfg.control, std::move(curve));
    } catch (const std::exception &e) {
        fprintf(stderr, "stasis-delayd: %s\n", e.what());
        return 1;
    }
}
