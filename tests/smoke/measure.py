"""Measurements for smoke tests: ping and iperf3 between namespaces, parsed; small statistics.

Standard library only. ping is iputils' (-D timestamps, root may use intervals below 0.2 s); iperf3
runs its server with -1 in one namespace and its client with --json in the other.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from netlab import Namespace, NetlabError, log, run


# --- measurements ------------------------------------------------------------------------------------

@dataclass
class PingResult:
    transmitted: int
    received: int
    loss: float                     # fraction 0..1, from the counts
    rtt_min_ms: float | None
    rtt_avg_ms: float | None
    rtt_max_ms: float | None
    rtt_mdev_ms: float | None
    samples: list[tuple[int, float, float | None]] = field(default_factory=list)  # (seq, rtt ms, rx time)
    duplicates: int = 0
    errors: int = 0
    raw: str = ""

    @property
    def rtts(self) -> list[float]:
        return [s[1] for s in self.samples]

    def median_ms(self) -> float | None:
        return percentile(self.rtts, 50) if self.samples else None


_SUMMARY = re.compile(r"(\d+) packets transmitted, (\d+) (?:packets )?received"
                      r"(?:, \+(\d+) duplicates)?(?:, \+(\d+) errors)?")
_RTT = re.compile(r"(?:rtt|round-trip) min/avg/max/(?:mdev|stddev) = "
                  r"([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) ms")
_REPLY = re.compile(r"^(?:\[([\d.]+)\] )?\d+ bytes from [^:]+: icmp_seq=(\d+) ttl=\d+ time=([\d.]+) ms"
                    r"(?P<dup> \(DUP!\))?", re.M)


def parse_ping(text: str) -> PingResult:
    """Parses iputils ping output (with or without -D timestamps)."""
    m = _SUMMARY.search(text)
    if not m:
        raise NetlabError(f"no ping summary in output:\n{text[-2000:]}")
    tx, rx = int(m.group(1)), int(m.group(2))
    r = _RTT.search(text)
    mn, avg, mx, mdev = (float(x) for x in r.groups()) if r else (None,) * 4
    samples = [(int(s.group(2)), float(s.group(3)), float(s.group(1)) if s.group(1) else None)
               for s in _REPLY.finditer(text) if not s.group("dup")]
    return PingResult(tx, rx, (tx - rx) / tx if tx else 1.0, mn, avg, mx, mdev, samples,
                      int(m.group(3) or 0), int(m.group(4) or 0), text)


def ping_argv(dst: str, count: int, interval: float = 0.01, size: int | None = None,
              linger: float = 2.0, timestamps: bool = True) -> list[str]:
    argv = ["ping", "-n", "-c", str(count), "-i", f"{interval:g}", "-W", f"{linger:g}"]
    if timestamps:
        argv.append("-D")
    if size is not None:
        argv += ["-s", str(size)]
    return argv + [dst]


def ping(ns: Namespace, dst: str, count: int = 100, interval: float = 0.01, size: int | None = None,
         linger: float = 2.0) -> PingResult:
    """Pings from `ns` (root may use intervals below 0.2 s); loss is not an error, no summary is."""
    argv = ns.argv(ping_argv(dst, count, interval, size, linger))
    cp = run(argv, check=False, timeout=count * interval * 1.5 + linger + 30)
    if cp.returncode not in (0, 1):  # 1 = some replies missing
        raise NetlabError(f"ping failed ({cp.returncode}): {' '.join(argv)}\n{cp.stdout}{cp.stderr}")
    return parse_ping(cp.stdout)


@dataclass
class IperfResult:
    goodput_bps: float     # receiver side, payload bits per second
    sender_bps: float
    retransmits: int
    mss: int | None
    seconds: float
    raw: dict


def iperf3(server_ns: Namespace, client_ns: Namespace, server_ip: str, seconds: float = 10,
           omit: int = 1, port: int = 5201, extra: list[str] | None = None) -> IperfResult:
    """One TCP test from client_ns to server_ns (data flows client -> server)."""
    lab = server_ns.lab
    srv = server_ns.start(f"iperf3-server-{port}",
                          ["iperf3", "-s", "-1", "-B", server_ip, "-p", str(port), "--forceflush"],
                          ready=r"Server listening on")
    argv = client_ns.argv(["iperf3", "-c", server_ip, "-p", str(port), "-t", f"{seconds:g}",
                           "-O", str(omit), "--json", *(extra or [])])
    cp = run(argv, check=False, timeout=seconds + omit + 30)
    try:
        srv.wait(10)
    except NetlabError as e:
        log(str(e))
    try:
        data = json.loads(cp.stdout)
    except ValueError:
        raise NetlabError(f"iperf3 client printed no JSON ({cp.returncode}):\n{cp.stdout}{cp.stderr}\n"
                          f"{srv.tail()}")
    if "error" in data or cp.returncode != 0:
        raise NetlabError(f"iperf3 client failed ({cp.returncode}): {data.get('error')}\n{srv.tail()}")
    end = data["end"]
    rx, tx = end["sum_received"], end["sum_sent"]
    return IperfResult(goodput_bps=float(rx["bits_per_second"]), sender_bps=float(tx["bits_per_second"]),
                       retransmits=int(tx.get("retransmits", 0)),
                       mss=data.get("start", {}).get("tcp_mss_default"),
                       seconds=float(rx["seconds"]), raw=data)


# --- small statistics (no numpy) ---------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks, as numpy's default."""
    if not values:
        raise ValueError("no values")
    s = sorted(values)
    k = (len(s) - 1) * q / 100.0
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def binomial_interval(n: int, p: float, confidence: float = 0.99) -> tuple[int, int]:
    """Smallest [lo, hi] with P(X < lo) <= a/2 and P(X > hi) <= a/2 for X ~ Binomial(n, p)."""
    from math import exp, lgamma, log as ln
    if not 0.0 < p < 1.0:
        return (0, 0) if p <= 0 else (n, n)
    alpha = (1.0 - confidence) / 2.0
    lp, lq = ln(p), ln(1.0 - p)
    pmf = [exp(lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1) + k * lp + (n - k) * lq)
           for k in range(n + 1)]
    lo, acc = 0, 0.0
    while acc + pmf[lo] <= alpha:
        acc += pmf[lo]
        lo += 1
    hi, acc = n, 0.0
    while acc + pmf[hi] <= alpha:
        acc += pmf[hi]
        hi -= 1
    return lo, hi
