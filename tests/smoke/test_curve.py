#!/usr/bin/env python3
"""Smoke: stasis-delayd with CURVE. Keys made by `stasis keygen`; the allow-listed controller is
answered, an unknown key and a plain controller are refused with a clear message while the daemon keeps
serving; without a security choice, or with --plain on a non-loopback endpoint, the daemon refuses to
start."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netlab  # noqa: E402
import stasis_lab  # noqa: E402
from stasis_lab import READY, Topology, check, link_text  # noqa: E402

EXIT_TIMEOUT_S = 30
LINK = link_text("lan0", dict(delay="10ms", rate="50Mbit", queue_slots=200))


def keygen(topo, name):
    cli = stasis_lab.binaries()[1]
    keydir = topo.lab.workdir
    r = netlab.run([cli, "keygen", "--out", keydir, "--force", name], check=False)
    check(r.returncode == 0, f"`stasis keygen {name}` exit status: measured {r.returncode}, expected 0\n"
                             f"{r.stdout}{r.stderr}", fatal=True)
    return os.path.join(keydir, f"{name}.key"), os.path.join(keydir, f"{name}.pub")


def refused_start(topo, name, security, control, words):
    """The daemon exits non-zero before serving, with a message containing every one of `words`."""
    topo.security = security
    saved, topo.control = topo.control, control
    path = topo.write_config(topo.config_text(LINK), f"{name}.conf")
    proc = topo.d.start(f"delayd-{name}", topo.daemon_argv(path))
    topo.control = saved
    try:
        rc = proc.wait(EXIT_TIMEOUT_S)
    except netlab.NetlabError:
        rc = None
    out = proc.output()
    print(f"--- {name}: exit status {rc}; output:\n{proc.tail(6)}")
    check(rc is not None and rc > 0, f"{name}: exit status measured {rc}, expected > 0", fatal=False)
    check(not re.search(READY, out, re.M), f"{name}: daemon must not report ready", fatal=False)
    for w in words:
        check(w in out, f"{name}: message names {w!r}", fatal=False)


def test(lab):
    topo = Topology(lab)
    agent_key, agent_pub = keygen(topo, "agent")
    ctl_key, ctl_pub = keygen(topo, "ctl")
    stranger_key, _ = keygen(topo, "stranger")

    refused_start(topo, "no-security-choice", [], topo.control, ["--curve-key", "--plain"])
    refused_start(topo, "plain-not-loopback", ["--plain"], "tcp://0.0.0.0:16001", ["loopback"])

    topo.security = ["--curve-key", agent_key, "--allow", ctl_pub]
    topo.start_daemon(LINK)
    keys = ["--key", ctl_key, "--agent-key", agent_pub]
    r = topo.cli(*keys, "hello")
    check(r.status == 0, f"allow-listed `stasis hello`: exit status measured {r.status}, expected 0\n{r.text}")

    r = topo.cli("--key", stranger_key, "--agent-key", agent_pub, "hello")
    print(f"--- unknown key: status {r.status}\n{r.text}")
    check(r.status == 1, f"unknown key: exit status measured {r.status}, expected 1", fatal=False)
    check("refused this controller's key" in r.text and "allow-list" in r.text,
          "unknown key: the message says the agent refused the key (allow-list)", fatal=False)

    r = topo.cli("--timeout", "2000", "hello")
    print(f"--- plain controller: status {r.status}\n{r.text}")
    check(r.status == 1, f"plain controller: exit status measured {r.status}, expected 1", fatal=False)
    check("CURVE" in r.text, "plain controller: the message says the agent requires CURVE", fatal=False)

    check(topo.daemon.alive(), "daemon still running after the refusals")
    r = topo.cli(*keys, "link", "stats", "lan0")
    check(r.status == 0, f"allow-listed `link stats` afterwards: exit status measured {r.status}, expected 0\n"
                         f"{r.text}")
    topo.stop_daemon_checked()
    out = topo.daemon.output()
    check("refused a controller" in out, "the daemon logged the refused key", fatal=False)


if __name__ == "__main__":
    stasis_lab.main(test)
