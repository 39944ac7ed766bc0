"""The smoke-test topology: hosts A and B joined through a delay node D that runs stasis-delayd.

    ns A: a-RID 10.77.0.1/24 ==veth== da-RID  [ns D: stasis-delayd, af_packet on da/db]  db-RID ==veth== b-RID 10.77.0.2/24 :ns B

VLAN subinterfaces a-RID.VID / b-RID.VID get 10.77.VID.1/24 and 10.77.VID.2/24. Neighbour entries are
static and IPv6 is off, so the only frames on the link are the ones a test sends.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import sys
import traceback
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import measure  # noqa: E402
import netlab  # noqa: E402
from netlab import Lab, Namespace, NetlabError, Process  # noqa: E402,F401

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
A_IP, B_IP = "10.77.0.1", "10.77.0.2"
READY = r"^stasis-delayd: ready"
PORT_A, PORT_B = "net_af_packet0", "net_af_packet1"
ETH_HEADER = 14  # the model counts Ethernet frame bytes without FCS
VLAN_TAG = 4


def vlan_ip(vid: int, host: str) -> str:
    return f"10.77.{vid}.{1 if host == 'a' else 2}"


def binaries() -> tuple[str, str]:
    """Paths of stasis-delayd and stasis: $STASIS_DELAYD/$STASIS_CLI (meson sets them) or build/."""
    build = os.environ.get("STASIS_BUILD_DIR", os.path.join(REPO, "build"))
    delayd = os.environ.get("STASIS_DELAYD") or os.path.join(build, "dataplane", "ctl", "stasis-delayd")
    cli = os.environ.get("STASIS_CLI") or os.path.join(build, "tools", "stasis")
    for p in (delayd, cli):
        if not os.access(p, os.X_OK):
            raise NetlabError(f"{p} is missing or not executable (not built yet? run ninja -C build)")
    return delayd, cli


def hugepages_available(min_free_mb: int = 256) -> bool:
    """True when the daemon can run on hugepages; STASIS_NO_HUGE=1 forces --no-huge."""
    if os.environ.get("STASIS_NO_HUGE") == "1":
        return False
    info = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":", 1)
            info[k] = int(v.split()[0])
    free_kb = info.get("HugePages_Free", 0) * info.get("Hugepagesize", 0)
    with open("/proc/mounts") as f:
        mounted = any(l.split()[2] == "hugetlbfs" for l in f if len(l.split()) > 2)
    return mounted and free_kb >= min_free_mb * 1024


# --- configuration text ------------------------------------------------------------------------------

def pipe_text(**fields) -> str:
    """shape/a_to_b/b_to_a body: strings quoted, numbers as they are; None fields left out."""
    parts = []
    for k, v in fields.items():
        if v is None:
            continue
        parts.append(f"{k}: {json.dumps(v) if isinstance(v, str) else v}")
    return " ".join(parts)


def link_text(name: str, shape: dict, a_vlan: int | None = None, b_vlan: int | None = None,
              a_to_b: dict | None = None, b_to_a: dict | None = None,
              a_port: str = PORT_A, b_port: str = PORT_B) -> str:
    def ep(port, vlan):
        return f'{{ port: "{port}"' + (f" vlan: {vlan}" if vlan is not None else "") + " }"
    lines = ["link {", f'  name: "{name}"', f"  a {ep(a_port, a_vlan)}", f"  b {ep(b_port, b_vlan)}",
             f"  shape {{ {pipe_text(**shape)} }}"]
    if a_to_b:
        lines.append(f"  a_to_b {{ {pipe_text(**a_to_b)} }}")
    if b_to_a:
        lines.append(f"  b_to_a {{ {pipe_text(**b_to_a)} }}")
    lines.append("}")
    return "\n".join(lines) + "\n"


# --- parsing of units and of the daemon's JSON ---------------------------------------------------------

_DURATION = {"ns": 1, "nsec": 1, "us": 1_000, "usec": 1_000, "µs": 1_000, "ms": 1_000_000,
             "msec": 1_000_000, "s": 1_000_000_000, "sec": 1_000_000_000}


def duration_ns(text: str | int | None) -> int | None:
    """'10ms' -> 10_000_000; the units of docs/CONFIG.md (ns us ms s, nsec usec msec sec); bare '0'."""
    if text is None:
        return None
    if isinstance(text, int):
        return text
    m = re.fullmatch(r"\s*(-?[\d.]+)\s*([a-zµ]*)\s*", str(text), re.I)
    unit = m.group(2).lower() if m else None
    if not m or (unit and unit not in _DURATION) or (not unit and float(m.group(1)) != 0):
        raise ValueError(f"not a duration: {text!r}")
    return round(float(m.group(1)) * _DURATION[unit or "ns"])


def _get(obj: dict, snake: str, default=None):
    """A protobuf JSON field by its lowerCamelCase or its original name."""
    parts = snake.split("_")
    camel = parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])
    if camel in obj:
        return obj[camel]
    return obj.get(snake, default)


COUNTERS = ("rx_packets", "rx_bytes", "tx_packets", "tx_bytes", "drop_loss", "drop_queue", "drop_red",
            "drop_fifo", "drop_tx", "queue_packets", "queue_bytes", "fifo_packets")


def pipe_counters(link: dict, direction: str) -> dict[str, int]:
    """Counters of one direction ('a_to_b' or 'b_to_a') as ints; absent fields are 0 (proto3 JSON)."""
    pipe = _get(link, direction, {}) or {}
    return {k: int(_get(pipe, k, 0)) for k in COUNTERS}


def counters_delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before.get(k, 0) for k in after}


def effective_pipe(link_info: dict, direction: str) -> dict:
    """Applied parameters of one direction from `link show --json`: the override merged over shape."""
    link = _get(link_info, "link", link_info)
    merged = dict(_get(link, "shape", {}) or {})
    merged.update(_get(link, direction, {}) or {})
    return merged


# --- the topology ------------------------------------------------------------------------------------

@dataclass
class CliResult:
    status: int
    stdout: str
    stderr: str

    @property
    def text(self) -> str:
        return self.stdout + self.stderr

    def json(self):
        try:
            return json.loads(self.stdout)
        except ValueError as e:
            raise AssertionError(f"stasis printed no JSON ({e}):\n{self.text}") from e


class Topology:
    # The daemon's control socket security: plain (ipc:// is loopback), or CURVE options set on an
    # instance (test_curve.py), whose CLI key options then go in cli()'s args.
    security: tuple[str, ...] = ("--plain",)

    def __init__(self, lab: Lab, mtu: int = 1500, vlans: tuple[int, ...] = (), verbose: bool = True):
        self.lab, self.mtu, self.vlans, self.verbose = lab, mtu, vlans, verbose
        self.a, self.b, self.d = lab.namespace("a"), lab.namespace("b"), lab.namespace("d")
        self.a_if, self.b_if = lab.ifname("a"), lab.ifname("b")
        self.da_if, self.db_if = lab.ifname("da"), lab.ifname("db")
        lab.veth(self.a, self.a_if, self.d, self.da_if, mtu=mtu)
        lab.veth(self.b, self.b_if, self.d, self.db_if, mtu=mtu)
        self.a.addr_add(self.a_if, f"{A_IP}/24")
        self.b.addr_add(self.b_if, f"{B_IP}/24")
        self._static_neighbours(self.a_if, self.b_if, A_IP, B_IP)
        self.vlan_ifs: dict[int, tuple[str, str]] = {}
        for vid in vlans:
            av, bv = self.a.vlan(self.a_if, vid), self.b.vlan(self.b_if, vid)
            self.a.addr_add(av, f"{vlan_ip(vid, 'a')}/24")
            self.b.addr_add(bv, f"{vlan_ip(vid, 'b')}/24")
            self._static_neighbours(av, bv, vlan_ip(vid, "a"), vlan_ip(vid, "b"))
            self.vlan_ifs[vid] = (av, bv)
        self.control = f"ipc://{lab.tmpfile(f'/tmp/{self.d.name}.sock')}"
        self.daemon: Process | None = None
        self.config_path: str | None = None
        self._cli: str | None = None

    def _static_neighbours(self, a_dev: str, b_dev: str, a_ip: str, b_ip: str) -> None:
        self.a.neigh_add(b_ip, self.b.mac(b_dev), a_dev)
        self.b.neigh_add(a_ip, self.a.mac(a_dev), b_dev)

    # the stand-in: only for the harness self-test, never a test of the product
    def bridge_standin(self) -> None:
        br = "br0"
        self.d.ip("link", "add", br, "type", "bridge")
        for dev in (self.da_if, self.db_if):
            self.d.ip("link", "set", dev, "master", br)
        self.d.link_up(br)

    # the daemon
    def eal_args(self) -> list[str]:
        args = ["-l", "0,1", "--no-pci"]
        if hugepages_available():
            args += ["--in-memory"]
        else:
            # DPDK 22.11 refuses --in-memory with --no-huge (it implies --legacy-mem); --no-shconf and
            # a per-run prefix keep runs apart instead, and the runtime dir is removed at teardown.
            prefix = f"stasis-{self.lab.run_id}"
            self.lab.tmpfile(f"/var/run/dpdk/{prefix}")
            args += ["--no-huge", "-m", "512", "--no-shconf", "--file-prefix", prefix]
        return args + ["--vdev", f"{PORT_A},iface={self.da_if}", "--vdev", f"{PORT_B},iface={self.db_if}"]

    def config_text(self, links: str, daemon_extra: str = "") -> str:
        return f'daemon {{ control: "{self.control}" {daemon_extra}}}\n' + links

    def write_config(self, text: str, name: str = "delayd.conf") -> str:
        path = self.lab.path(name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def daemon_argv(self, config_path: str) -> list[str]:
        delayd, self._cli = binaries()
        return [delayd, *self.eal_args(), "--", "--config", config_path, "--control", self.control,
                *self.security]

    def start_daemon(self, links: str, daemon_extra: str = "", timeout: float = 30.0) -> Process:
        self.config_path = self.write_config(self.config_text(links, daemon_extra))
        argv = self.daemon_argv(self.config_path)
        if self.verbose:
            print(f"config {self.config_path}:\n{open(self.config_path).read()}", flush=True)
            print("daemon: " + " ".join(shlex.quote(a) for a in argv), flush=True)
        self.daemon = self.d.start("stasis-delayd", argv, ready=READY, timeout=timeout)
        return self.daemon

    def stop_daemon_checked(self, grace: float = 5.0) -> None:
        """The contract: SIGTERM ends the daemon cleanly (status 0) within `grace` seconds."""
        assert self.daemon is not None
        rc = self.daemon.stop(grace=grace)
        check(rc == 0, f"stasis-delayd exit status after SIGTERM: measured {rc}, expected 0 "
                       f"(within {grace}s)\n{self.daemon.tail()}")

    # the command
    def cli(self, *args: str, timeout: float = 10.0) -> CliResult:
        if self._cli is None:
            self._cli = binaries()[1]
        argv = [self._cli, "--control", self.control, *args]
        cp = netlab.run(argv, check=False, timeout=timeout)
        return CliResult(cp.returncode, cp.stdout, cp.stderr)

    def cli_ok(self, *args: str) -> CliResult:
        r = self.cli(*args)
        if r.status != 0:
            raise CheckFailed(f"`stasis {' '.join(args)}` exit status {r.status}, expected 0:\n{r.text}")
        return r

    def stats_reply(self, link: str = "") -> dict:
        """The StatsReply of `stasis link stats [LINK] --json` (bare, or inside the whole Reply)."""
        reply = self.cli_ok("link", "stats", *([link] if link else []), "--json").json()
        return reply["stats"] if isinstance(reply.get("stats"), dict) else reply

    def stats(self, link: str) -> dict:
        """The LinkCounters of one link."""
        reply = self.stats_reply(link)
        for l in reply.get("links", []):
            if l.get("link") == link:
                return l
        raise CheckFailed(f"`stasis link stats {link} --json` has no link {link!r}: {reply}")

    def show(self, link: str) -> dict:
        """The LinkInfo of one link from `stasis link show LINK --json` (bare LinkList or whole Reply)."""
        reply = self.cli_ok("link", "show", link, "--json").json()
        if isinstance(reply.get("links"), dict):
            reply = reply["links"]
        for info in reply.get("links", []):
            if _get(_get(info, "link", {}), "name") == link:
                return info
        raise CheckFailed(f"`stasis link show {link} --json` has no link {link!r}: {reply}")


# --- test scaffolding --------------------------------------------------------------------------------

class CheckFailed(AssertionError):
    pass


_failures: list[str] = []
_timing_bounds: list[int] = []  # the bounds on time (ns) of the failed checks that were one
_worker_lateness: list[tuple[str, int]] = []  # the daemons' own worker lateness maxima: (daemon, ns)


def check(cond: bool, message: str, fatal: bool = False, bound_ns: int | None = None) -> bool:
    """Asserts with a message that states measured value, expected value and tolerance. A failed check
    is recorded and the test goes on (so one run shows every failure) unless `fatal`, which stops it
    (for preconditions of what follows). `bound_ns` marks a bound on time: the check holds an error (a
    percentile or the maximum of one) to that many nanoseconds. A host that holds a busy-polling
    worker's CPU can miss such a bound while every count holds; see main()."""
    if cond:
        print(f"  ok: {message.splitlines()[0]}", flush=True)
        return True
    if fatal:
        raise CheckFailed(message)
    print(f"  FAIL: {message}", flush=True)
    _failures.append(message)
    if bound_ns is not None:
        _timing_bounds.append(bound_ns)
    return False


def note_worker_lateness(daemon: str, max_ns: int) -> None:
    """Records a daemon's worker lateness maximum (send time - the frame's departure, as the worker itself
    measured it), the witness main() asks for before it measures a timing miss once more."""
    _worker_lateness.append((daemon, int(max_ns)))


def _print_logs(lab: Lab) -> None:
    for p in lab.processes:
        print(f"--- log of {p.name} (pid {p.popen.pid if p.popen else '-'}):\n{p.tail(80)}", file=sys.stderr)


def _run_once(test) -> bool:
    """One run of test(lab) in a fresh Lab; True when every check held. A fatal check and a lab error
    propagate."""
    _failures.clear()
    _timing_bounds.clear()
    _worker_lateness.clear()
    cpus = os.sched_getaffinity(0)  # a test may pin itself off a worker's CPU; the next run starts as this one
    try:
        with Lab() as lab:
            try:
                test(lab)
            except BaseException:
                _print_logs(lab)
                raise
            if _failures:
                _print_logs(lab)
    finally:
        os.sched_setaffinity(0, cpus)
    return not _failures


def _held_by_the_host() -> str | None:
    """Why the run's misses are the host's, or None. Every failed check must be a bound on time, and a
    daemon's worker must itself have sent a frame later than the largest bound missed. At the smoke
    tests' loads a worker's turn takes microseconds, so a worker that late was not running: the host
    held its CPU (README, "The test machine holds its own vCPUs"). A wrong departure computed by the
    model is not in the worker's own lateness, which measures sends against the model's departures."""
    if not _failures or len(_timing_bounds) != len(_failures) or not _worker_lateness:
        return None
    need = max(_timing_bounds)
    daemon, worst = max(_worker_lateness, key=lambda x: x[1])
    if worst < need:
        return None
    return (f"{daemon}'s worker sent a frame {worst / 1e3:.1f} us late by its own lateness histogram, over the "
            f"largest bound missed ({need / 1e3:.0f} us)")


def main(test, needs_binaries: bool = True, measure_again_when_held: bool = False) -> None:
    """Runs test(lab) in a Lab; exit 0 when every check held, 1 otherwise (with the daemon's log).

    With `measure_again_when_held`, a run that missed only bounds on time (check(..., bound_ns=...)) while
    a daemon's worker was itself later than the largest bound missed (note_worker_lateness) is measured
    once more in a fresh Lab, and the test passes only if that second run holds every check. A miss the
    code causes repeats and fails; any other failure (a lost, duplicated or early frame, a count) and a
    timing miss without that witness fail at once."""
    if os.geteuid() != 0:
        print("FAIL: smoke tests need root (network namespaces, raw sockets)", file=sys.stderr)
        sys.exit(1)
    status = 1
    try:
        if needs_binaries:
            binaries()
        ok = _run_once(test)
        why = _held_by_the_host() if not ok and measure_again_when_held else None
        if why:
            first = list(_failures)
            print(f"only bounds on time were missed ({'; '.join(first)}) and {why}: measuring once more",
                  flush=True)
            ok = _run_once(test)
            if not ok:
                _failures[:0] = [f"first run ({why}): {m}" for m in first]
        status = 0 if ok else 1
        if _failures:
            print(f"FAIL: {len(_failures)} check(s) failed:\n" + "\n".join(_failures), file=sys.stderr)
    except CheckFailed as e:
        print(f"FAIL: {e}", file=sys.stderr)
    except NetlabError as e:
        print(f"FAIL: {e}", file=sys.stderr)
    except netlab.Interrupted as e:
        print(f"FAIL: {e}; torn down", file=sys.stderr)
        status = 128 + e.signum
    except Exception:
        traceback.print_exc()
        print("FAIL: the test could not run (see above)", file=sys.stderr)
    if status == 0:
        print("PASS")
    sys.exit(status)


# --- the arithmetic the tests and the demo share --------------------------------------------------------

RATE_UNITS = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12,
              "ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40}


def rate_bps(text: str) -> float:
    """'50Mbit' -> 50e6: bit or bps with the prefixes of docs/CONFIG.md; a bare number is bit/s."""
    m = re.fullmatch(r"\s*([\d.]+)\s*(?:([kmgt]i?)?(bit|bps))?\s*", text, re.I)
    if not m:
        raise ValueError(f"not a rate: {text!r}")
    return float(m.group(1)) * RATE_UNITS[(m.group(2) or "").lower()]


def ping_frame_bytes(payload: int = 56, vlan: bool = False) -> int:
    """Ethernet frame (no FCS) of an ICMP echo with `payload` data bytes: + ICMP 8 + IPv4 20 + Eth 14."""
    return payload + 8 + 20 + ETH_HEADER + (VLAN_TAG if vlan else 0)


def expected_rtt_ms(delay: str, rate: str | None, frame_bytes: int) -> float:
    """2 x (one-way delay + serialization of the frame at the link rate), in ms."""
    ser_s = frame_bytes * 8 / rate_bps(rate) if rate else 0.0
    return 2 * (duration_ns(delay) / 1e6 + ser_s * 1e3)


def tcp_timestamps(ns: Namespace) -> bool:
    return ns.run(["sysctl", "-n", "net.ipv4.tcp_timestamps"]).stdout.strip() != "0"


def tcp_goodput_bps(rate: str, mtu: int, timestamps: bool) -> tuple[float, int, int]:
    """The TCP payload rate a link rate allows: rate x MSS payload / frame length (no FCS)."""
    payload = mtu - 20 - 20 - (12 if timestamps else 0)
    frame = mtu + ETH_HEADER
    return rate_bps(rate) * payload / frame, payload, frame


# The criterion is the RTT (median) within 0.5 ms of twice the one-way delay. The share of
# single samples within it guards the distribution; it is not 100 % because ping, the kernel's veth
# path and the daemon share two virtual cores, where a sample now and then waits for a CPU.
RTT_TOLERANCE_MS = 0.5
RTT_WITHIN_SHARE = 0.80
RTT_EARLY_MS = 0.1      # no reply sooner than the model allows (ping prints 3 significant digits)


def check_rtt(label: str, samples: list[float], want_ms: float, fatal: bool = False) -> None:
    """The RTT checks of the smoke tests: the median over the samples within RTT_TOLERANCE_MS of the
    expected value, RTT_WITHIN_SHARE of the samples within it too, and none earlier than the model allows."""
    if not check(bool(samples), f"{label}: {len(samples)} RTT samples, expected at least one", fatal):
        return
    med = measure.percentile(samples, 50)
    within = sum(abs(x - want_ms) <= RTT_TOLERANCE_MS for x in samples) / len(samples)
    check(abs(med - want_ms) <= RTT_TOLERANCE_MS,
          f"{label}: median RTT over {len(samples)} samples: measured {med:.3f} ms, expected {want_ms:.3f} ms "
          f"+- {RTT_TOLERANCE_MS} ms", fatal)
    check(within >= RTT_WITHIN_SHARE,
          f"{label}: samples within +- {RTT_TOLERANCE_MS} ms of {want_ms:.3f} ms: measured {within:.1%}, "
          f"expected >= {RTT_WITHIN_SHARE:.0%}", fatal)
    check(min(samples) >= want_ms - RTT_EARLY_MS,
          f"{label}: minimum RTT: measured {min(samples):.3f} ms, expected >= {want_ms:.3f} - {RTT_EARLY_MS} ms "
          "(a packet never leaves before its delay)", fatal)
