#!/usr/bin/env python3
"""stasis-bench-checkpoint: the end-to-end phases of a coordinated checkpoint of a two-agent experiment,
against baselines measured in the same run.

Two stasis-delayd agents (their workers on different CPUs) on net_null ports (a null source keeps their links full, so every freeze holds
frames) behind ipc:// control sockets; `stasis checkpoint EXP --json` is run ROUNDS times. For each
phase (probe, prepare, freeze, save, commit, resume) it prints p50 and max. Baselines:
  - the probe's best round trip (a plain ZeroMQ request/reply to the agent): the other phases are
    counted in round trips;
  - save: a plain write + fsync of the same number of bytes in the same folder;
  - command -> F against the chosen lead: what the controller adds before F (catalog, connect, probe).

  stasis-bench-checkpoint [--build DIR] [--rounds N] [--json]     (root: DPDK)
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def pct(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(q * (len(v) - 1) + 0.5))]


def start_agent(build, work, i):
    sock = f"ipc://{work}/d{i}.sock"
    conf = os.path.join(work, f"d{i}.conf")
    with open(conf, "w") as f:
        f.write(f'daemon {{ control: "{sock}" }}\n'
                f'link {{ name: "l{i}" a {{ port: "net_null0" }} b {{ port: "net_null1" }} '
                f'shape {{ delay: "5ms" rate: "100Mbit" queue_slots: 1000 }} }}\n')
    # Each agent's busy worker on its own CPU: agent 1 on lcore 1, agent 2 on lcore 0 (main lcore 1).
    lcores = ["-l", "0,1"] if i == 1 else ["-l", "0,1", "--main-lcore", "1"]
    argv = [os.path.join(build, "dataplane", "ctl", "stasis-delayd"), *lcores, "--no-pci", "--no-huge",
            "-m", "256", "--no-shconf", "--file-prefix", f"bench-ck-{os.getpid()}-{i}",
            "--vdev", "net_null0", "--vdev", "net_null1", "--", "--config", conf, "--plain"]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in p.stdout:
        if line.startswith("stasis-delayd: ready"):
            return p, sock
    raise SystemExit(f"stasis-delayd {i} did not start: exit {p.wait()}")


def plain_write(path, nbytes):
    data = os.urandom(min(nbytes, 1 << 20))
    t0 = time.perf_counter_ns()
    with open(path, "wb") as f:
        left = nbytes
        while left > 0:
            left -= f.write(data[:left])
        f.flush()
        os.fsync(f.fileno())
    dt = time.perf_counter_ns() - t0
    os.unlink(path)
    return dt


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.environ.get("STASIS_BUILD_DIR", "build"))
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    cli = os.path.join(a.build, "tools", "stasis")
    work = tempfile.mkdtemp(prefix="stasis-bench-ck-", dir="/var/tmp")
    procs = []
    try:
        socks = []
        for i in (1, 2):
            p, s = start_agent(a.build, work, i)
            procs.append(p)
            socks.append(s)
        exp = os.path.join(work, "bench.exp")
        with open(exp, "w") as f:
            # One host, one clock: the skew bound is the probes' round trip, which two busy-polling workers
            # on two cores push past the default 1 ms budget at times. The bench times the phases; the
            # refusal over the budget is tested (tests/unit/control).
            f.write('name: "bench"\ncatalog: "catalog.db"\nskew_budget_us: 20000\n' + "".join(
                f'agent {{ name: "d{i + 1}" endpoint: "{s}" snapshot_dir: "snaps" }}\n' for i, s in enumerate(socks)))
        phases, rtts, extra, leads, saved, writes, spreads, skews = {}, [], [], [], [], [], [], []
        resume_ns = 0
        for _ in range(a.rounds):
            # Each round from a settled experiment: after the last round's R (else the controller's
            # "wait for R" phase would be in this round's command -> F).
            time.sleep(max(0.0, (resume_ns - time.time_ns()) / 1e9 + 0.1))
            r = subprocess.run([cli, "checkpoint", exp, "--json", "--quiet"], capture_output=True, text=True)
            if r.returncode != 0:
                raise SystemExit(f"stasis checkpoint failed:\n{r.stdout}{r.stderr}")
            rep = json.loads(r.stdout)
            resume_ns = int(rep.get("resume_ns", 0))
            for ph in rep["phases"]:
                phases.setdefault(ph["name"], []).append(int(ph["duration_ns"]))
            rtts.append(max(int(x["rtt_ns"]) for x in rep["agents"]))
            leads.append(int(rep["lead_ns"]))
            extra.append(int(rep["command_to_freeze_ns"]) - int(rep["lead_ns"]))
            spreads.append(int(rep["freeze_spread_ns"]))
            skews.append(max(int(x["freeze_skew_ns"]) for x in rep["agents"]))
            nbytes = sum(int(x["artifact_bytes"]) for x in rep["agents"])
            saved.append(nbytes)
            writes.append(plain_write(os.path.join(work, "plain.bin"), nbytes // 2))  # one agent's share
            shutil.rmtree(os.path.join(work, "snaps"), ignore_errors=True)
        rtt = statistics.median(rtts)
        doc = {"rounds": a.rounds, "agents": 2, "rtt_p50_ns": rtt, "lead_p50_ns": statistics.median(leads),
               "command_to_f_minus_lead_p50_ns": statistics.median(extra), "freeze_spread_p50_ns": statistics.median(spreads),
               "freeze_skew_p50_ns": statistics.median(skews), "freeze_skew_max_ns": max(skews),
               "snapshot_bytes_p50": statistics.median(saved), "plain_write_p50_ns": statistics.median(writes),
               "phases": {k: {"p50": statistics.median(v), "max": max(v)} for k, v in phases.items()}}
        doc["save_ratio"] = doc["phases"]["save"]["p50"] / doc["plain_write_p50_ns"]
        if a.json:
            print(json.dumps(doc, indent=2))
            return
        print(f"| checkpoint phase (2 agents, {a.rounds} rounds) | p50 | max | in round trips (p50 RTT {rtt / 1e3:.0f} us) |")
        print("|---|---|---|---|")
        for k, v in doc["phases"].items():
            note = " (waits out the lead until F)" if k == "freeze" else ""
            print(f"| {k}{note} | {v['p50'] / 1e6:.2f} ms | {v['max'] / 1e6:.2f} ms | {v['p50'] / rtt:.0f} |")
        print(f"| save vs plain write+fsync of one agent's bytes ({doc['snapshot_bytes_p50'] / 2 / 1024:.0f} KiB) "
              f"| {doc['phases']['save']['p50'] / 1e6:.2f} ms | plain {doc['plain_write_p50_ns'] / 1e6:.2f} ms "
              f"| ratio {doc['save_ratio']:.1f} |")
        print(f"| command -> F beyond the lead ({doc['lead_p50_ns'] / 1e6:.0f} ms) | "
              f"{doc['command_to_f_minus_lead_p50_ns'] / 1e6:.1f} ms | | |")
        print(f"| freeze spread between the agents | {doc['freeze_spread_p50_ns'] / 1e3:.0f} us | | |")
        print(f"| freeze landed after F (worst agent) | {doc['freeze_skew_p50_ns'] / 1e3:.0f} us "
              f"| {doc['freeze_skew_max_ns'] / 1e3:.0f} us | |")
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
