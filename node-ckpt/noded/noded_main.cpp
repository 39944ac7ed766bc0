// stasis-noded: the node checkpoint agent. Serves the control protocol for the guests of one node.
#include <getopt.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "node_agent.hpp"
#include "node_config.hpp"
#include "qcow2_store.hpp"
#include "qemu_host.hpp"
#include "stasis/control/agent_server.hpp"
#include "stasis/control/agent_security.hpp"
#include "stasis/control/curve.hpp"

namespace {

using namespace stasis::noded;
namespace control = stasis::control;

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

const char *usage_text =
    "usage: stasis-noded --config FILE (--curve-key FILE --allow FILE... | --plain) [options]\n"
    "\n"
    "The node checkpoint agent: freezes, saves, restores and resumes the QEMU guests of FILE for the\n"
    "coordinated checkpoint (`stasis checkpoint/swapout/swapin EXP`), their disks on qcow2 branches.\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE          the node's guests (protobuf text format, docs/NODE.md \"stasis-noded\")\n"
    "      --control ENDPOINT     ZeroMQ endpoint of the control socket (overrides the file's control)\n"
    "      --curve-key FILE       CURVE: this agent's key pair, made by `stasis keygen` (docs/SECURITY.md)\n"
    "      --allow FILE           CURVE: the controllers let in: a .pub file, a file of keys one per\n"
    "                             line, or a directory of .pub files; repeatable\n"
    "      --plain                no authentication nor encryption; only on a loopback endpoint\n"
    "                             (tcp://127.0.0.1:PORT, ipc://PATH). One of CURVE or --plain is required\n"
    "      --start                boot the guests now on fresh disk branches (the initial run); without\n"
    "                             it the agent waits for a Load (stasis swapin)\n"
    "      --check                validate the configuration, then exit\n"
    "  -h, --help                 this text\n"
    "\n"
    "Prints 'stasis-noded: ready' on stdout when serving. SIGINT or SIGTERM end the guests (quit, then\n"
    "SIGKILL by PID) and stop the agent; swap out first to keep their state.\n";

struct options {
    std::string config, control;
    control::agent_security security;  // --curve-key, --allow, --plain
    bool check = false, start = false;
};

bool parse_options(int argc, char **argv, options &o)
{
    static const option longopts[] = {{"config", required_argument, nullptr, 'c'},
                                      {"control", required_argument, nullptr, 'C'},
                                      {"check", no_argument, nullptr, 'k'},
                                      {"start", no_argument, nullptr, 's'},
                                      {"curve-key", required_argument, nullptr, 'K'},
                                      {"allow", required_argument, nullptr, 'A'},
                                      {"plain", no_argument, nullptr, 'P'},
                                      {"help", no_argument, nullptr, 'h'},
                                      {nullptr, 0, nullptr, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "c:h", longopts, nullptr)) != -1) {
        switch (c) {
        case 'c': o.config = optarg; break;
        case 'C': o.control = optarg; break;
        case 'k': o.check = true; break;
        case 's': o.start = true; break;
        case 'K': o.security.curve_key = optarg; break;
        case 'A': o.security.allow.emplace_back(optarg); break;
        case 'P': o.security.plain = true; break;
        default: return false;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "stasis-noded: unexpected argument '%s'\n", argv[optind]);
        return false;
    }
    std::string error;
    if (o.config.empty())
        error = "--config FILE is required";
    else
        error = control::security_usage_error(o.security, o.check);
    if (!error.empty()) {
        fprintf(stderr, "stasis-noded: %s\n", error.c_str());
        return false;
    }
    return true;
}

int serve(const node_config &cfg, const options &o, std::optional<control::curve_server_options> curve)
{
    std::optional<stasis::node::qcow2_store> store;
    if (std::ranges::any_of(cfg.guests, [](const guest_spec &g) { return !g.disk_base.empty(); })) {
        auto s = stasis::node::qcow2_store::open(cfg.disk_dir());
        if (!s)
            throw std::runtime_error(s.error().message);
        store.emplace(std::move(*s));
    }
    std::vector<guest_def> defs;
    for (const auto &g : cfg.guests)
        defs.push_back({g.qemu.name, g.disk_base});
    qemu_host host(cfg);
    node_agent agent(cfg.name, std::move(defs), host, store ? &*store : nullptr);

    zmq::context_t ctx;
    control::server_options so;
    so.endpoint = cfg.control;
    if (curve)
        fprintf(stderr, "stasis-noded: control socket: CURVE, public key %s, %zu controller key(s) allowed\n",
                curve->keys.public_key.c_str(), curve->allowed.size());
    else
        fprintf(stderr, "stasis-noded: control socket: plain (unauthenticated, loopback)\n");
    so.curve = std::move(curve);
    control::agent_server server(ctx, so, [&agent](const control::Request &req) { return agent.handle(req); });
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    if (o.start) {
        if (auto s = agent.start_guests(); !s)
            throw std::runtime_error("initial run: " + s.error().message);
    }
    printf("stasis-noded: ready: %zu guest(s) %s, control %s\n", cfg.guests.size(), to_string(agent.phase()),
           server.endpoint().c_str());
    fflush(stdout);
    // Every event also goes to the log: a failure must be visible without a subscriber.
    auto publish = [&server](const control::Event &e) {
        fprintf(stderr, "stasis-noded: %s%s%s: %s\n", control::Event::Kind_Name(e.kind()).c_str(),
                e.checkpoint().empty() ? "" : " ", e.checkpoint().c_str(), e.message().c_str());
        server.publish(e);
    };
    while (!g_stop && !agent.released()) {
        server.poll_once(stasis::control::poll_timeout(agent.next_due_ns()));
        for (auto &e : agent.tick())
            publish(e);
    }
    agent.shutdown();
    for (auto &e : agent.tick())
        publish(e);
    fprintf(stderr, "stasis-noded: stopped\n");
    return 0;
}

}  // namespace

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage_text, stdout);
            return 0;
        }
    try {
        options o;
        if (!parse_options(argc, argv, o)) {
            fputs(usage_text, stderr);
            return 2;
        }
        node_config cfg = load_node_config(o.config);
        if (!o.control.empty())
            cfg.control = o.control;
        if (cfg.control.empty())
            throw std::runtime_error(o.config + ": no control endpoint (set control or --control)");
        auto curve = control::load_security(o.security, cfg.control);
        if (o.check) {
            printf("stasis-noded: %s: configuration is valid (%zu guest(s))\n", o.config.c_str(), cfg.guests.size());
            return 0;
        }
        return serve(cfg, o, std::move(curve));
    } catch (const std::exception &e) {
        fprintf(stderr, "stasis-noded: %s\n", e.what());
        return 1;
    }
}
