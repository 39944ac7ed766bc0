#!/usr/bin/env python3
"""Stasis end-to-end demo: two QEMU guests joined through stasis-delayd, checkpointed mid-stream.

Builds a network namespace with two persistent taps (tapA, tapB), boots guests gA (10.0.0.1) and gB
(10.0.0.2) of the project's image under TCG (icount aligned to real time, frozen time mode), each under its own stasis-noded,
and joins the taps through stasis-delayd (link lan0, default 10 ms / 20 Mbit/s per direction, 500-slot queue,
busy-polling). CPU layout: the delay node's worker lcore gets a CPU of its own (--worker-cpu, default 1);
this script, the controller, both stasis-noded and both QEMUs run on the other CPUs. gA sends an
application-checked TCP pattern stream to gB and UDP RTT probes. Then, each in a window as long as the
control window without a checkpoint:

  1. `stasis checkpoint` (c1), and again (c2): several checkpoints in a row, resumed in place;
  2. `stasis swapout` (c3): every daemon exits and every QEMU is gone; new daemons, `stasis swapin`;
  3. `stasis timetravel EXP c1`: back to c1 while running (a new branch).

For each window it collects, from the guests: stream bytes and first bad offset, TCP retransmission
counters (against the control window), the guest clocks' largest step, the RTT samples sent around the
cut; and from the controller's JSON report each agent's freeze skew (one guest per node agent, so that is
each guest's). It prints a summary (or one JSON document with --json) and exits 1 when a claim does not
hold, saying measured against expected. Needs root, QEMU, and the build (stasis-delayd, stasis-noded,
stasis, the guest image). Everything it creates (namespace, taps, processes, temporary directory) is
removed when it ends, also on failure or a signal.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import socket
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "smoke"))
import netlab  # noqa: E402
import stasis_lab  # noqa: E402

NODED_READY = r"stasis-noded: ready"
DELAYD_READY = r"^stasis-delayd: ready"
GUESTS = (("gA", "10.0.0.1", "52:54:00:e2:00:01", "tapA"), ("gB", "10.0.0.2", "52:54:00:e2:00:02", "tapB"))
STREAM_PORT, ECHO_PORT = 5001, 7007
RETRANS_KEYS = (("Tcp", "RetransSegs"), ("TcpExt", "TCPLossProbes"), ("TcpExt", "TCPTimeouts"),
                ("TcpExt", "TCPFastRetrans"), ("TcpExt", "TCPSlowStartRetrans"))
CLOCK_AFTER_S = 1.0           # the clock monitors run from just before an operation until this long after it
CLOCK_CONTROL_S = 2.0         # ... and this long in the control window
RTT_NEAR_NS = 500_000_000     # RTT probes sent within this of F (guest time) are "across the cut"


class Failed(Exception):
    pass


def parse_args(argv):
    doc = __doc__.split("\n\n", 1)
    ap = argparse.ArgumentParser(prog="e2e_demo.py", description=doc[0], epilog=doc[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--delay", default="10ms", help="one-way delay of the link (default 10ms)")
    ap.add_argument("--rate", default="20Mbit", help="link rate per direction (default 20Mbit)")
    ap.add_argument("--stream-rate", type=int, default=4_000_000,
                    help="the guest stream's pacing, bit/s (default 4000000: TCG guests on 2 shared cores)")
    ap.add_argument("--window", type=float, default=6.0,
                    help="seconds per measured window: the control window and each checkpoint's (default 6)")
    ap.add_argument("--checkpoints", type=int, default=2, help="checkpoints in a row before the swap-out (default 2)")
    ap.add_argument("--rtt-tolerance-ms", type=float, default=100.0,
                    help="RTT probes sent within 500 ms of F may exceed the configured RTT by at most this: TCG "
                         "guests sharing a CPU answer late at times (RTT maxima of 25-62 ms measured in windows "
                         "with and without a cut); a probe that saw the pause would show R-F, and the demo fails if "
                         "R-F is not above this bound (default 100)")
    ap.add_argument("--clock-step-ms", type=float, default=30.0,
                    help="the guest clocks' largest step beyond the monitor's period, in a window with a cut, must "
                         "stay below this. With icount aligned to real time a guest whose QEMU waits for the host "
                         "CPU (two TCG guests share one here) sees that wait as a step: 4-8 ms measured, control "
                         "windows alike, 18 ms once with compilers running; a pause the guest saw would step by "
                         "R-F (>= 500 ms). The < 1 ms of the frozen mode is measured where nothing else competes "
                         "for the CPU: tests/node (node-qemu, node-noded) (default 30)")
    ap.add_argument("--clock-period-us", type=int, default=500,
                    help="the guest clock monitors read the clocks every this many us (a nanosleep in between; "
                         "0: a busy loop, which takes the guest's only vCPU from the stream it measures) "
                         "(default 500)")
    ap.add_argument("--clock-rt-priority", type=int, default=50,
                    help="the guests' clock monitors run under SCHED_FIFO at this priority, so the guest's own "
                         "threads (the stream) do not preempt them and a step is time the guest did not see "
                         "pass; 0: the default policy (default 50)")
    ap.add_argument("--icount", default="shift=0,align=on,sleep=on",
                    help="the guests' QEMU -icount option under TCG. The default counts 1 ns per instruction, "
                         "more than TCG executes here, so a busy guest's clock never runs ahead of real time (the "
                         "network's); it lags a little while the guest computes (RTTs read 18-19 ms in the guests "
                         "on a 20.05 ms path) and follows real time while it idles (sleep=on); align=on would hold "
                         "it back if it ever got ahead. shift=auto retunes the rate every 100 ms and lets a busy "
                         "guest run seconds ahead: TCP then saw RTTs of up to a second and sent tail-loss probes, "
                         "with or without a checkpoint (12 of 23 runs passed). shift=4,align=on passed too but "
                         "boots in 100 s instead of 21 (default shift=0,align=on,sleep=on)")
    ap.add_argument("--lead-ms", type=int, default=300,
                    help="the controller's lead (F = now + lead, R likewise): Prepare to three agents on a "
                         "loaded 2-core host took up to 62 ms, over the automatic 50 ms (default 300)")
    ap.add_argument("--qemu-nice", type=int, default=0,
                    help="run the QEMUs at this nice level (default 0: with icount align a guest that does not "
                         "get its CPU shows it as time lost to the stream and the clock)")
    ap.add_argument("--worker-cpu", type=int, default=1,
                    help="CPU of the delay node's worker lcore, kept for it alone: the demo's own Python, the "
                         "controller, both stasis-noded and both QEMUs (TCG vCPU threads included) are pinned to "
                         "the host's other CPUs, and the delay node runs with EAL -l MAIN,WORKER (main lcore: the "
                         "lowest other CPU). On 2 cores a worker sharing its CPU with TCG was starved for 30-758 ms "
                         "(frames stamped late, bursts beyond the queue, fast retransmits). -1: no pinning "
                         "(default 1)")
    ap.add_argument("--idle-sleep", default="0",
                    help="the delay node's daemon.idle_sleep: \"0\" busy-polls its own CPU (no sleep/wake latency "
                         "in the arrival stamps) (default 0)")
    ap.add_argument("--queue-slots", type=int, default=500,
                    help="lan0's queue per direction, frames: one BDP (20 ms x 20 Mbit/s = 50 KB, 34 full frames) "
                         "plus headroom for a burst after a resume (default 500)")
    ap.add_argument("--build", default=os.environ.get("STASIS_BUILD_DIR", os.path.join(REPO, "build")),
                    help="meson build directory (default build/)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, states)")
    ap.add_argument("--json", action="store_true", help="print one JSON document instead of the summary")
    args = ap.parse_args(argv)
    args.build = os.path.abspath(args.build)  # the daemons' configurations are read from other folders
    return args


def cpu_list(cpus) -> str:
    return ",".join(str(c) for c in sorted(cpus))


def pin_off_worker(args) -> None:
    """Pins this process (and so everything it starts: controller, stasis-noded, QEMU) off the worker's CPU."""
    args.others = set()
    if args.worker_cpu < 0:
        return
    cpus = os.sched_getaffinity(0)
    if args.worker_cpu not in cpus or len(cpus) < 2:
        raise Failed(f"--worker-cpu {args.worker_cpu}: this process may run on CPUs {cpu_list(cpus)}; the "
                     f"worker needs one of them and the rest at least one other (or --worker-cpu -1)")
    args.others = cpus - {args.worker_cpu}
    os.sched_setaffinity(0, args.others)


def duration_ns(text: str) -> int:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ns|us|ms|s)", text)
    if not m:
        raise Failed(f"cannot read duration {text!r}")
    return int(float(m.group(1)) * {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[m.group(2)])


def rate_bps(text: str) -> int:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(bit|Kbit|Mbit|Gbit)", text)
    if not m:
        raise Failed(f"cannot read rate {text!r}")
    return int(float(m.group(1)) * {"bit": 1, "Kbit": 1e3, "Mbit": 1e6, "Gbit": 1e9}[m.group(2)])


class GuestAgent:
    """stasis-guest over its virtio-serial socket: one JSON line per request, replies matched by id."""

    def __init__(self, path: str):
        self.path, self.sock, self.buf, self.next_id = path, None, b"", 1

    def connect(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            try:
                self.close()
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(self.path)
                self.call("hello", timeout=3)
                return
            except (OSError, Failed) as e:
                last = str(e)
                time.sleep(0.5)
        raise Failed(f"guest agent on {self.path} did not answer within {timeout:.0f} s ({last})")

    def close(self) -> None:
        if self.sock:
            self.sock.close()
        self.sock, self.buf = None, b""

    def call(self, cmd: str, timeout: float = 10, **args) -> dict:
        if self.sock is None:
            raise Failed(f"{self.path}: not connected")
        rid, self.next_id = self.next_id, self.next_id + 1
        self.sock.sendall((json.dumps({"cmd": cmd, "id": rid, **args}) + "\n").encode())
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                try:
                    rep = json.loads(line)
                except ValueError:
                    continue
                if rep.get("id") != rid:
                    continue
                if not rep.get("ok"):
                    raise Failed(f"guest agent {cmd}: {rep.get('error')}")
                return rep
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failed(f"guest agent on {self.path}: no answer to {cmd} within {timeout} s")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not data:
                raise Failed(f"guest agent on {self.path}: connection closed")
            self.buf += data


class Experiment:
    """The lab: namespace, taps, daemons, guests, the experiment file and the controller."""

    def __init__(self, lab: netlab.Lab, args, say):
        self.lab, self.args, self.say = lab, args, say
        b = args.build
        self.delayd = os.path.join(b, "dataplane", "ctl", "stasis-delayd")
        self.noded = os.path.join(b, "node-ckpt", "noded", "stasis-noded")
        self.cli = os.path.join(b, "tools", "stasis")
        self.image = os.path.join(b, "node-ckpt", "guest")
        for p in (self.delayd, self.noded, self.cli, os.path.join(self.image, "vmlinuz"),
                  os.path.join(self.image, "initrd.gz")):
            if not os.path.exists(p):
                raise Failed(f"{p} is missing (build it: meson compile -C {b} stasis-delayd stasis-noded stasis guest-image)")
        self.ns = lab.namespace("e2e")
        for _, _, _, tap in GUESTS:
            self.ns.ip("tuntap", "add", "dev", tap, "mode", "tap")
            self.ns.link_up(tap)
            try:
                self.ns.offloads_off(tap)
            except netlab.NetlabError:
                pass  # a tap without its QEMU may refuse some; QEMU's virtio-net runs without offloads anyway
        self.generation = 0
        self.procs: dict[str, netlab.Process] = {}
        self.agents = {g[0]: GuestAgent(lab.path(f"n{g[0]}/run/{g[0]}/agent.sock")) for g in GUESTS}
        self.exp = self._write_files()

    def _write_files(self) -> str:
        a = self.args
        for name, ip, mac, tap in GUESTS:
            os.makedirs(self.lab.path(f"n{name}"), exist_ok=True)
            with open(self.lab.path(f"n{name}.conf"), "w") as f:
                f.write(f'name: "n{name}"\ncontrol: "ipc://{self.lab.path(f"n{name}.sock")}"\n'
                        f'state_dir: "{self.lab.path(f"n{name}")}"\n'
                        f'guest {{\n  name: "{name}"\n  image: "{self.image}"\n'
                        f'  append: "console=ttyS0 panic=-1 tsc=reliable stasis.name={name} stasis.ip={ip}/24"\n'
                        f'  memory_mb: 256\n  nic {{ tap: "{tap}" mac: "{mac}" }}\n  time_mode: FROZEN\n'
                        f'  icount: "{a.icount}"\n'
                        # QEMU niced: the delay node's worker and the agents must not wait behind two TCG
                        # vCPUs on a small host (nice and ip netns exec both exec, so the PID is QEMU's).
                        f'  launcher: "nice" launcher: "-n" launcher: "{self.args.qemu_nice}"\n'
                        # Off the delay node's worker CPU (the daemon already inherits it; said again here).
                        + (f'  launcher: "taskset" launcher: "-c" launcher: "{cpu_list(a.others)}"\n'
                           if a.others else "") +
                        f'  launcher: "ip" launcher: "netns" launcher: "exec" launcher: "{self.ns.name}"\n'
                        # No checksum or segmentation offload between guest and tap: af_packet must see
                        # whole frames with their checksums.
                        f'  extra_arg: "-global" extra_arg: "virtio-net-pci.csum=off"\n'
                        f'  extra_arg: "-global" extra_arg: "virtio-net-pci.guest_csum=off"\n}}\n')
        with open(self.lab.path("d1.conf"), "w") as f:
            f.write(f'daemon {{ control: "ipc://{self.lab.path("d1.sock")}" idle_sleep: "{a.idle_sleep}" }}\n'
                    f'link {{ name: "lan0" a {{ port: "net_af_packet0" }} b {{ port: "net_af_packet1" }} '
                    f'shape {{ delay: "{a.delay}" rate: "{a.rate}" queue_slots: {a.queue_slots} }} }}\n')
        lines = ['name: "e2e"', f'catalog: "{self.lab.path("catalog.db")}"', "timeout_ms: 10000", "tries: 2",
                 # One host, one clock: the skew bound is the probes' round trip, which exceeds the default
                 # 1 ms budget when two TCG guests load the two cores.
                 "skew_budget_us: 5000",
                 f'agent {{ name: "d1" role: DELAY endpoint: "ipc://{self.lab.path("d1.sock")}" '
                 f'snapshot_dir: "{self.lab.path("snaps")}" links: "lan0" }}']
        for name, *_ in GUESTS:
            lines.append(f'agent {{ name: "n{name}" role: NODE endpoint: "ipc://{self.lab.path(f"n{name}.sock")}" '
                         f'snapshot_dir: "{self.lab.path("snaps")}" }}')
        path = self.lab.path("e2e.exp")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    # --- daemons ------------------------------------------------------------------------------------------
    def start_daemons(self, boot: bool) -> None:
        self.generation += 1
        g = self.generation
        a = self.args
        eal = ["-l", f"{min(a.others)},{a.worker_cpu}" if a.others else "0,1", "--no-pci"]
        if stasis_lab.hugepages_available(256):
            eal += ["--in-memory"]
        else:
            prefix = f"e2e-{self.lab.run_id}-{g}"
            self.lab.tmpfile(f"/var/run/dpdk/{prefix}")
            eal += ["--no-huge", "-m", "256", "--no-shconf", "--file-prefix", prefix]
        eal += ["--vdev", "net_af_packet0,iface=tapA", "--vdev", "net_af_packet1,iface=tapB"]
        # The demo runs pinned off the worker's CPU: taskset gives the delay node both its lcores back.
        pin = ["taskset", "-c", cpu_list(a.others | {a.worker_cpu})] if a.others else []
        self.procs["d1"] = self.ns.start(f"delayd-{g}", [*pin, self.delayd, *eal, "--", "--config",
                                                         self.lab.path("d1.conf"), "--plain"],
                                         ready=DELAYD_READY, timeout=30)
        for name, *_ in GUESTS:
            argv = [self.noded, "--config", self.lab.path(f"n{name}.conf"), "--plain"] + (["--start"] if boot else [])
            self.procs[f"n{name}"] = self.lab.start(f"noded-{name}-{g}", argv, ready=NODED_READY, timeout=60)

    def register_qemus(self) -> None:
        """QEMU PIDs into the lab's list, so that even a killed daemon leaves no QEMU behind."""
        for name, *_ in GUESTS:
            try:
                with open(self.lab.path(f"n{name}/run/{name}/qemu.pid")) as f:
                    self.lab._register_pid(int(f.read().split()[0]))
            except (OSError, ValueError, IndexError):
                pass

    def wait_daemons_exit(self, timeout: float) -> dict:
        return {k: p.wait(timeout) for k, p in self.procs.items()}

    # --- controller -------------------------------------------------------------------------------------
    def stasis(self, *args: str, timeout: float = 120) -> dict:
        t0 = time.monotonic()
        cp = netlab.run([self.cli, *args, "--lead", str(self.args.lead_ms), "--json"], check=False, timeout=timeout)
        dt = time.monotonic() - t0
        if cp.returncode != 0:
            raise Failed(f"`stasis {' '.join(args)}` exit status {cp.returncode}, expected 0 "
                         f"({dt:.1f} s)\n{cp.stderr.strip()}\n{cp.stdout.strip()}")
        rep = json.loads(cp.stdout)
        rep["_wall_s"] = round(dt, 3)
        return rep


def counter_total(counters: dict) -> dict:
    return {k: int(counters.get(p, {}).get(k, 0)) for p, k in RETRANS_KEYS}


def delta(before: dict, after: dict) -> dict:
    return {k: after[k] - before[k] for k in after}


class Demo:
    def __init__(self, ex: Experiment, args, say):
        self.ex, self.args, self.say = ex, args, say
        self.a, self.b = ex.agents["gA"], ex.agents["gB"]
        self.rtt_cfg_ns = 2 * duration_ns(args.delay) + 2 * 8 * 60 * 1_000_000_000 // rate_bps(args.rate)
        self.failures: list[str] = []
        # Failed claims that are bounds on time (a guest clock's step, an RTT maximum), which a host that
        # holds a vCPU can miss while every count holds; the e2e test measures such a miss once more.
        self.timing_failures: list[str] = []
        self.windows: list[dict] = []
        self.at_checkpoint: dict[str, dict] = {}  # the guests' snapshot taken just before each checkpoint
        self.freeze_of: dict[str, int] = {}       # each checkpoint's F (controller clock)
        self.last_link: dict = {}                 # the delay node's counters at the end of the last window

    def check(self, ok: bool, text: str, timing: bool = False) -> None:
        if not ok:
            self.failures.append(text)
            if timing:
                self.timing_failures.append(text)
        self.say(f"  {'ok  ' if ok else 'FAIL'} {text}")

    def snapshot(self) -> dict:
        """What the guests show now: counters, guest clocks, stream state."""
        ra, rb = self.a.call("counters"), self.b.call("counters")
        st = self.b.call("stream-status")["stream_recv"]
        return {"host_ns": time.time_ns(), "guest_a_real_ns": ra["realtime_ns"],
                "a": counter_total(ra["counters"]), "b": counter_total(rb["counters"]),
                "received": st["received_bytes"], "bad": st["first_bad_offset"]}

    def rtt_between(self, lo_guest_ns: int, hi_guest_ns: int) -> list:
        samples = self.a.call("rtt-samples", **{"from": 0, "count": 1_000_000}, timeout=20)["samples"]
        return [s for s in samples if lo_guest_ns <= s[1] <= hi_guest_ns]

    def boot(self) -> None:
        self.say("starting stasis-delayd and two stasis-noded (--start: the guests boot under TCG)")
        self.ex.start_daemons(boot=True)
        t0 = time.monotonic()
        for g in (self.a, self.b):
            g.connect(240)
        self.ex.register_qemus()
        self.boot_s = round(time.monotonic() - t0, 1)
        self.say(f"  both guest agents answer after {self.boot_s} s")
        for g in (self.a, self.b):
            g.call("set-clock", realtime_ns=time.time_ns())
        self.b.call("stream-recv", port=STREAM_PORT)
        self.b.call("echo-serve", port=ECHO_PORT)
        self.a.call("stream-send", ip="10.0.0.2", port=STREAM_PORT, rate_bps=self.args.stream_rate)
        self.a.call("rtt-start", ip="10.0.0.2", port=ECHO_PORT, interval_us=20_000)
        time.sleep(3)  # slow start, ARP, first RTTs
        st = self.b.call("stream-status")["stream_recv"]
        if st["received_bytes"] <= 0:
            raise Failed(f"the stream did not start through the delay node: {st}")

    def window(self, name: str, op=None) -> dict:
        """One measured window: the operation (or nothing: the control window), then the rest of the window.
        The guests' clock monitors busy-loop by default (--clock-period-us 0: the most sensitive, and icount
        then hides host scheduling; with a 1 ms nanosleep they showed host scheduling as 300-590 ms steps)
        from just before the operation until CLOCK_AFTER_S after it: two busy vCPUs sharing the QEMUs' CPU
        cannot run for the whole demo."""
        self.say(f"{name}:")
        for g in (self.a, self.b):
            g.call("clock-start", period_us=self.args.clock_period_us, rt_priority=self.args.clock_rt_priority)
        before = self.snapshot()
        t0 = time.monotonic()
        reports = op() if op else []
        for rep in reports:
            if rep.get("operation") == "checkpoint":
                self.at_checkpoint[rep["checkpoint"]] = before
            elif rep.get("_target"):
                # The guests are back at that checkpoint: their counters, stream and clocks are its.
                before = self.at_checkpoint[rep["_target"]]
        for g in (self.a, self.b):
            if g.sock is None:
                g.connect(30)
        time.sleep(CLOCK_AFTER_S if op else CLOCK_CONTROL_S)
        clocks = {n: g.call("clock-stop")["clock"] for n, g in (("gA", self.a), ("gB", self.b))}
        rest = self.args.window - (time.monotonic() - t0)
        time.sleep(max(rest, 1.0))
        after = self.snapshot()
        cut = [r for r in reports if r.get("freeze_ns") and int(r["freeze_ns"]) > 0][:1]
        if cut:  # the guest's time at F: the snapshot's guest time plus what passed until F (lead, probes)
            cut_guest = before["guest_a_real_ns"] + int(cut[0]["freeze_ns"]) - before["host_ns"]
            if reports[0].get("_target"):
                cut_guest = before["guest_a_real_ns"] + int(self.freeze_of[reports[0]["_target"]]) - before["host_ns"]
            near = self.rtt_between(cut_guest - RTT_NEAR_NS, cut_guest + RTT_NEAR_NS)
        else:
            near, cut_guest = [], None
        for rep in reports:
            if rep.get("operation") == "checkpoint":
                self.freeze_of[rep["checkpoint"]] = int(rep["freeze_ns"])
        whole = self.rtt_between(before["guest_a_real_ns"], after["guest_a_real_ns"])
        w = {"name": name, "seconds": round(time.monotonic() - t0, 3), "reports": reports,
             "retrans": {"gA": delta(before["a"], after["a"]), "gB": delta(before["b"], after["b"])},
             "stream": {"received_before": before["received"], "received_after": after["received"],
                        "first_bad_offset": after["bad"]},
             "clock": {n: {"period_ms": int(c.get("period_ns", 0)) / 1e6, "rt_priority": c.get("rt_priority", 0),
                           "max_mono_step_ms": int(c["max_mono"]["step_ns"]) / 1e6,
                           "max_real_step_ms": int(c["max_real"]["step_ns"]) / 1e6,
                           "min_real_step_ms": int(c["min_real"]["step_ns"]) / 1e6,
                           "steps_over_1ms": int(c["mono_steps_over_1ms"]) + int(c["real_steps_over_1ms"]),
                           "seconds": int(c["duration_ns"]) / 1e9} for n, c in clocks.items()},
             "rtt_ms": self.rtt_stats(whole), "rtt_near_cut_ms": self.rtt_stats(near),
             "rtt_near_cut_samples": [[s[0], s[2]] for s in near], "link_stats": self.link_stats(),
             # Probes over the RTT bound anywhere in the window: [seq, sent - F (ms, guest time), RTT (ms)].
             "rtt_spikes": [[s[0], round((s[1] - cut_guest) / 1e6, 1) if cut_guest else None, round(s[2] / 1e6, 1)]
                            for s in whole if s[2] > self.rtt_cfg_ns + self.args.rtt_tolerance_ms * 1e6][:20]}
        self.windows.append(w)
        self.print_window(w)
        return w

    def link_stats(self) -> dict:
        """The delay node's counters of lan0 (since the daemon started), per direction."""
        cp = netlab.run([self.ex.cli, "--control", f"ipc://{self.ex.lab.path('d1.sock')}", "link", "stats", "lan0",
                         "--json"], check=False, timeout=10)
        try:
            links = json.loads(cp.stdout).get("stats", {}).get("links", [])
        except ValueError:
            return {"error": cp.stderr.strip()}
        now = {d: {k: v for k, v in links[0].get(d, {}).items() if not isinstance(v, (dict, list))}
               for d in ("a_to_b", "b_to_a")} if links else {}
        # Counters count from the daemon's start: this window's share, unless the daemon is new.
        prev, self.last_link = self.last_link, now
        for d, c in now.items():
            p = prev.get(d, {})
            if p and int(c.get("rx_packets", 0)) >= int(p.get("rx_packets", 0)):
                for k in ("rx_packets", "tx_packets", "drop_loss", "drop_queue", "drop_red", "drop_fifo", "drop_tx"):
                    if k in c:
                        c[k] = str(int(c[k]) - int(p.get(k, 0)))
            else:
                c["new_daemon"] = True
        return now

    @staticmethod
    def rtt_stats(samples: list) -> dict:
        if not samples:
            return {"samples": 0}
        r = sorted(s[2] / 1e6 for s in samples)
        seqs = [s[0] for s in samples]
        return {"samples": len(r), "lost": (max(seqs) - min(seqs) + 1) - len(set(seqs)),
                "min": round(r[0], 3), "p50": round(r[len(r) // 2], 3), "max": round(r[-1], 3)}

    def print_window(self, w: dict) -> None:
        for rep in w["reports"]:
            skews = ", ".join(f"{a['agent']} {int(a.get('freeze_skew_ns', 0)) / 1e6:+.3f} ms"
                              for a in rep.get("agents", []))
            held = sum(int(a.get("held_packets", 0)) for a in rep.get("agents", []))
            self.say(f"  stasis {rep.get('operation')} {rep.get('checkpoint', '')} (branch {rep.get('branch', '')}): "
                     f"{rep['_wall_s']:.2f} s; freeze skew {skews or '-'}; frames held {held}")
        s = w["stream"]
        self.say(f"  stream: {s['received_before']} -> {s['received_after']} bytes at gB, "
                 f"first bad offset {s['first_bad_offset']}")
        for n in ("gA", "gB"):
            c = w["clock"][n]
            self.say(f"  {n}: retransmissions {w['retrans'][n]}; clock over {c['seconds']:.2f} s: max step "
                     f"mono {c['max_mono_step_ms']:.3f} ms, real {c['max_real_step_ms']:.3f} ms, "
                     f"{c['steps_over_1ms']} step(s) > 1 ms")
        self.say(f"  RTT probes gA->gB over the window: {w['rtt_ms']}")
        for d, c in w["link_stats"].items():
            drops = {k: v for k, v in c.items() if "drop" in k and str(v) != "0"}
            self.say(f"  lan0 {d}: rx {c.get('rx_packets')} tx {c.get('tx_packets')} packets in the window, drops "
                     f"{drops or 'none'}, lateness max {int(c.get('lateness_max_ns', 0)) / 1e6:.1f} ms (since the "
                     f"daemon started)")
        if w["rtt_spikes"]:
            self.say(f"  RTT probes over the bound in the window [seq, sent - F ms, RTT ms]: {w['rtt_spikes']}")
        if w["rtt_near_cut_ms"].get("samples"):
            self.say(f"  RTT probes sent within {RTT_NEAR_NS / 1e6:.0f} ms of F: {w['rtt_near_cut_ms']}")

    @staticmethod
    def pause_of(w: dict) -> float:
        """The window's pause R-F in ms (the shortest, if it has several cuts); 0 without one."""
        pauses = [(int(x["resume_ns"]) - int(x["freeze_ns"])) / 1e6 for x in w["reports"]
                  if x.get("operation") != "swapin" and int(x.get("resume_ns", 0)) > 0]
        pause = min(pauses) if pauses else 0.0
        if w["reports"] and w["reports"][0].get("operation") == "swapout":  # from the swap-out's F to the swap-in's R
            pause = (int(w["reports"][-1]["resume_ns"]) - int(w["reports"][0]["freeze_ns"])) / 1e6
        return pause

    def judge(self, w: dict, control: dict) -> None:
        s = w["stream"]
        self.check(s["first_bad_offset"] == -1, f"{w['name']}: stream intact at gB: first bad offset "
                                                f"{s['first_bad_offset']}, expected -1")
        self.check(s["received_after"] > s["received_before"] or w["name"].startswith("timetravel"),
                   f"{w['name']}: stream goes on: {s['received_before']} -> {s['received_after']} bytes")
        # A step beyond the monitor's own sleep is time the guest did not see pass in its loop.
        worst = {n: max(w["clock"][n]["max_mono_step_ms"], w["clock"][n]["max_real_step_ms"],
                        -w["clock"][n]["min_real_step_ms"]) - w["clock"][n]["period_ms"] for n in ("gA", "gB")}
        # A host that held the guests' CPU (a step over the bound, far below the pause R-F that a seen pause
        # would show) can let a TCP timer fire: a retransmission in such a window counts as a miss of a
        # bound on time, which the e2e test measures once more; in any other window it fails outright,
        # unless it is a tail loss probe (below).
        stalled = max(worst.values()) >= self.args.clock_step_ms and max(worst.values()) < self.pause_of(w) / 2
        for n in ("gA", "gB"):
            got, ctl = w["retrans"][n], control["retrans"][n]
            extra = {k: got[k] - ctl[k] for k in got if got[k] > ctl[k]}
            # A tail loss probe (TCPLossProbes up; RetransSegs up by at most as much, as Linux counts a probe
            # that resends the last segment there, and no timeout, fast or slow-start retransmission) says
            # that no ACK came within the sender's probe timeout (2 SRTT + 2 jiffies): a bound on time like
            # the RTT maximum. This host's contention alone causes them (one came in a control window,
            # nothing checkpointed), so such a window is measured once more; two in a row fail.
            probes = extra.get("TCPLossProbes", 0)
            probe_only = probes > 0 and set(extra) <= {"TCPLossProbes", "RetransSegs"} and \
                extra.get("RetransSegs", 0) <= probes
            why = (" (the guests' CPU was held in this window)" if stalled else
                   " (tail loss probes only: no ACK within the probe timeout)" if probe_only else "")
            self.check(not extra, f"{w['name']}: {n} TCP retransmission counters {got} vs control {ctl}: "
                                  f"expected none above control, extra {extra or 'none'}" + (why if extra else ""),
                       timing=stalled or probe_only)
            c, cc = w["clock"][n], control["clock"][n]
            self.check(worst[n] < self.args.clock_step_ms,
                       f"{w['name']}: {n} guest clock's largest step {worst[n]:.3f} ms over {c['seconds']:.2f} s "
                       f"({c['steps_over_1ms']} > 1 ms), expected < {self.args.clock_step_ms} ms (control: "
                       f"{max(cc['max_mono_step_ms'], cc['max_real_step_ms']):.3f} ms over {cc['seconds']:.2f} s, "
                       f"{cc['steps_over_1ms']} > 1 ms)", timing=True)
        r, cfg = w["rtt_near_cut_ms"], self.rtt_cfg_ns / 1e6
        hi = cfg + self.args.rtt_tolerance_ms
        pause = self.pause_of(w)
        w["pause_ms"] = round(pause, 3)
        self.check(pause > hi and pause > self.args.clock_step_ms,
                   f"{w['name']}: the pause R-F {pause:.1f} ms is above the RTT bound {hi:.1f} ms and the clock "
                   f"bound {self.args.clock_step_ms} ms, so both checks can tell a seen pause from noise")
        self.check(r["samples"] > 0 and r["max"] <= hi and r["lost"] == 0,
                   f"{w['name']}: RTT probes sent within {RTT_NEAR_NS / 1e6:.0f} ms of F: {r.get('samples')} samples, "
                   f"{r.get('lost')} lost, {r.get('min')}..{r.get('max')} ms; expected none lost and at most {hi:.1f} ms "
                   f"(configured {cfg:.3f} ms + {self.args.rtt_tolerance_ms} ms of TCG noise; control window max "
                   f"{control['rtt_ms'].get('max')} ms)", timing=r["samples"] > 0 and r["lost"] == 0)

    # --- the operations ---------------------------------------------------------------------------------
    def op_checkpoint(self):
        return [self.ex.stasis("checkpoint", self.ex.exp)]

    def op_swap(self):
        out = self.ex.stasis("swapout", self.ex.exp)
        for g in (self.a, self.b):
            g.close()
        codes = self.ex.wait_daemons_exit(30)
        self.check(all(c == 0 for c in codes.values()), f"swap-out: every daemon exits 0 after its release: {codes}")
        gone = not any(os.path.exists(f"/proc/{p}") and netlab.proc_start_time(p)
                       for p in self.qemu_pids())
        self.check(gone, "swap-out: no QEMU left")
        time.sleep(1)  # swapped out: nothing of the experiment runs
        self.ex.start_daemons(boot=False)
        inn = self.ex.stasis("swapin", self.ex.exp)
        self.ex.register_qemus()
        for g in (self.a, self.b):
            g.connect(30)
        return [out, inn]

    def op_timetravel(self, target: str):
        def op():
            rep = self.ex.stasis("timetravel", self.ex.exp, target)
            rep["_target"] = target
            self.ex.register_qemus()
            for g in (self.a, self.b):
                g.close()
                g.connect(30)
            return [rep]
        return op

    def qemu_pids(self) -> list[int]:
        return [p["pid"] for p in self.ex.lab._state["pids"]]

    def finish(self) -> dict:
        sent = self.a.call("stream-stop")["stream_send"]["sent_bytes"]
        recv = {}
        for _ in range(150):
            recv = self.b.call("stream-status")["stream_recv"]
            if recv["received_bytes"] >= sent:
                break
            time.sleep(0.1)
        rtt = self.a.call("rtt-stop")["rtt"]
        self.say(f"end: gA sent {sent} bytes, gB received {recv['received_bytes']}, first bad offset "
                 f"{recv['first_bad_offset']}; RTT probes {rtt}")
        self.check(recv["received_bytes"] == sent and recv["first_bad_offset"] == -1,
                   f"end: no byte lost or corrupted: received {recv['received_bytes']} of {sent}, "
                   f"first bad offset {recv['first_bad_offset']}")
        return {"sent_bytes": sent, "received_bytes": recv["received_bytes"],
                "first_bad_offset": recv["first_bad_offset"], "rtt": rtt}


def main(argv) -> int:
    args = parse_args(argv)
    say = (lambda *_: None) if args.json else (lambda m: print(m, flush=True))
    if os.geteuid() != 0:
        print("e2e_demo.py: needs root (network namespace, taps)", file=sys.stderr)
        return 2
    out = {"link": {"delay": args.delay, "rate": args.rate, "queue_slots": args.queue_slots,
                    "idle_sleep": args.idle_sleep}, "stream_rate_bps": args.stream_rate,
           "window_s": args.window, "worker_cpu": args.worker_cpu}
    demo = None
    try:
        with netlab.Lab(prefix="ste2e", keep_workdir=args.keep) as lab:
            pin_off_worker(args)
            ex = Experiment(lab, args, say)
            say(f"Stasis e2e demo: gA 10.0.0.1 --tapA--[ stasis-delayd lan0: {args.delay}, {args.rate} ]--tapB-- "
                f"gB 10.0.0.2 (namespace {ex.ns.name}, files {lab.workdir})")
            demo = Demo(ex, args, say)
            out["rtt_configured_ms"] = demo.rtt_cfg_ns / 1e6
            demo.boot()
            out["boot_s"] = demo.boot_s
            control = demo.window("control window (no checkpoint)")
            for i in range(args.checkpoints):
                demo.judge(demo.window(f"checkpoint #{i + 1} (resumed in place)", demo.op_checkpoint), control)
            demo.judge(demo.window("swap-out, new daemons, swap-in", demo.op_swap), control)
            demo.judge(demo.window("timetravel to c1", demo.op_timetravel("c1")), control)
            out["end"] = demo.finish()
            out["checkpoints"] = json.loads(netlab.run([ex.cli, "checkpoints", ex.exp, "--json"]).stdout)
    except (Failed, netlab.NetlabError, netlab.Interrupted, OSError, ValueError, KeyError) as e:
        msg = f"{type(e).__name__}: {e}"
        if demo is None:
            out["failures"] = [msg]
        else:
            demo.failures.append(msg)
        print(f"e2e_demo.py: {msg}", file=sys.stderr)
    if demo is not None:
        out["windows"] = demo.windows
        out["failures"] = demo.failures
        out["timing_failures"] = demo.timing_failures
    ok = not out.get("failures")
    out["ok"] = ok
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        print("result: " + ("every claim holds" if ok else f"{len(out['failures'])} claim(s) do not hold:"))
        for f in out.get("failures", []):
            print(f"  - {f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
