#!/usr/bin/env python3
"""Smoke r: `stasis replay` on a real TCP capture. A TCP flow runs between two namespaces over a veth pair
and tcpdump records its data packets with nanosecond timestamps; `stasis replay` sends the capture through
7 ms / 12 Mbit/s with a 50-slot queue (and a 64 KB byte queue, and with a checkpoint). The output must
equal, to the nanosecond, an independent computation in Python from the capture's timestamps:
service end = max(arrival, previous end) + len*8/rate (exact fraction), departure = floor(end) + delay,
and the queue refusing packets as docs/CONFIG.md says. No delay node is involved: replay runs offline."""
from __future__ import annotations

import collections
import json
import os
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import measure  # noqa: E402
import stasis_lab  # noqa: E402
from netlab import NetlabError  # noqa: E402
from stasis_lab import check  # noqa: E402

A_IP, B_IP = "10.77.9.1", "10.77.9.2"
DELAY_NS, RATE_BPS = 7_000_000, 12_000_000
SECONDS, OFFERED = 3, "40M"  # iperf3 -b: more than the link carries, so its queue fills and drops


# --- pcap with the struct module ---------------------------------------------------------------------

def read_pcap(path: str) -> tuple[int, list[tuple[int, int, bytes]]]:
    """(link type, [(timestamp ns, wire length, captured bytes)]) of a pcap, micro- or nanosecond."""
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack_from("<I", data)[0]
    order = {0xa1b2c3d4: ("<", 1000), 0xa1b23c4d: ("<", 1)}.get(magic)
    if order is None:
        order = {0xa1b2c3d4: (">", 1000), 0xa1b23c4d: (">", 1)}.get(struct.unpack_from(">I", data)[0])
    if order is None:
        raise NetlabError(f"{path}: not a pcap (magic {magic:#x})")
    e, scale = order
    linktype = struct.unpack_from(e + "I", data, 20)[0]
    out, at = [], 24
    while at + 16 <= len(data):
        sec, frac, caplen, wirelen = struct.unpack_from(e + "IIII", data, at)
        out.append((sec * 1_000_000_000 + frac * scale, wirelen, data[at + 16:at + 16 + caplen]))
        at += 16 + caplen
    return linktype, out


def expected(packets, slots: int | None = None, limit_bytes: int | None = None):
    """The link's departures computed from the definition: [(departure ns, packet index)], drops."""
    end = 0  # exact end of the last service, in 1/RATE_BPS ns
    queue = collections.deque()  # (floor of service end, len) of admitted packets
    queued_bytes, out, drops = 0, [], 0
    for i, (t, wirelen, _) in enumerate(packets):
        while queue and queue[0][0] <= t:  # its serialization ended: gone
            queued_bytes -= queue.popleft()[1]
        full = (queued_bytes + wirelen > limit_bytes) if limit_bytes else len(queue) >= slots
        if full:
            drops += 1
            continue
        end = max(t * RATE_BPS, end) + wirelen * 8_000_000_000
        end_ns = end // RATE_BPS
        queue.append((end_ns, wirelen))
        queued_bytes += wirelen
        out.append((end_ns + DELAY_NS, i))
    return out, drops


# --- the test ------------------------------------------------------------------------------------------

def capture_tcp_flow(lab) -> str:
    a, b = lab.namespace("a"), lab.namespace("b")
    a_if, b_if = lab.veth(a, lab.ifname("a"), b, lab.ifname("b"))  # offloads off: frames <= MTU
    a.addr_add(a_if, A_IP + "/24")
    b.addr_add(b_if, B_IP + "/24")
    path = lab.path("flow.pcap")
    # -Z root: write into the lab's private directory; -U: each packet reaches the file at once.
    dump = a.start("tcpdump", ["tcpdump", "-i", a_if, "-w", path, "--time-stamp-precision=nano", "-U",
                               "-Z", "root", "-n", "tcp and src host " + A_IP],
                   ready=r"listening on")
    r = measure.iperf3(b, a, B_IP, seconds=SECONDS, omit=0, extra=["-b", OFFERED])
    print(f"iperf3 A -> B for {SECONDS} s at -b {OFFERED}: {r.goodput_bps / 1e6:.1f} Mbit/s, "
          f"{r.retransmits} retransmits")
    status = dump.stop()
    print(dump.tail(5))
    check(status == 0, f"tcpdump exited with status {status}, expected 0", fatal=True)
    return path


def replay(cli: str, lab, name: str, capture: str, *options: str) -> tuple[list, dict, str]:
    out, report = lab.path(name + ".pcap"), lab.path(name + ".json")
    argv = [cli, "replay", capture, out, "--delay", "7ms", "--rate", "12Mbit", "--report", report, *options]
    cp = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    print(f"$ {' '.join(argv[1:])}\n{cp.stdout}{cp.stderr}", end="")
    check(cp.returncode == 0, f"stasis replay exited {cp.returncode}, expected 0", fatal=True)
    linktype, packets = read_pcap(out)
    check(linktype == 1, f"{name}: output link type {linktype}, expected 1 (Ethernet)")
    with open(report) as f:
        return packets, json.load(f), out


def compare(name: str, got, want, packets) -> None:
    check(len(got) == len(want), f"{name}: {len(got)} packets out, the computation says {len(want)}",
          fatal=True)
    bad = [(k, g[0], w[0]) for k, (g, w) in enumerate(zip(got, want))
           if g[0] != w[0] or g[1] != packets[w[1]][1] or g[2] != packets[w[1]][2]]
    detail = "; ".join(f"out #{k}: {g} ns, expected {w} ns" for k, g, w in bad[:5])
    check(not bad, f"{name}: every departure, length and byte string equals the computation "
                   f"(mismatches: {len(bad)}{': ' + detail if bad else ''})")


def test(lab) -> None:
    cli = os.environ.get("STASIS_CLI") or os.path.join(stasis_lab.REPO, "build", "tools", "stasis")
    check(os.access(cli, os.X_OK), f"the CLI {cli} is executable (else: build it first)", fatal=True)
    capture = capture_tcp_flow(lab)
    linktype, packets = read_pcap(capture)
    span = (packets[-1][0] - packets[0][0]) / 1e9 if packets else 0
    print(f"capture: {len(packets)} packets over {span:.3f} s, link type {linktype}, "
          f"{sum(1 for p in packets if p[0] % 1000)} timestamps not whole microseconds")
    check(len(packets) > 1000, f"capture holds {len(packets)} packets, expected > 1000", fatal=True)
    check(all(p[1] <= 1514 for p in packets), "capture: every frame at most 1514 bytes (no TSO/GRO)")

    for name, options, kw in (("slots", ["--queue", "50"], dict(slots=50)),
                              ("bytes", ["--queue-bytes", "64KB"], dict(limit_bytes=64_000))):
        got, report, _ = replay(cli, lab, name, capture, *options)
        want, drops = expected(packets, **kw)
        compare(name, got, want, packets)
        check(drops > 0, f"{name}: the queue dropped {drops} packets in the computation (the test must "
                         f"exercise the limit)")
        check(report["counts"]["drops"]["queue"] == drops,
              f"{name}: report counts {report['counts']['drops']['queue']} queue drops, computation {drops}")
        check(report["exact"] is True and report["counts"]["reorderings"] == 0,
              f"{name}: report says exact={report['exact']}, reorderings={report['counts']['reorderings']}")
        ratio = report["throughput"]["busy_ratio"]
        check(abs(ratio - 1) < 1e-4, f"{name}: busy-period throughput {ratio:.7f} x rate, expected 1 +- 1e-4")

    # Checkpoint one second in, resume five seconds later: the same output, later part shifted.
    got, report, _ = replay(cli, lab, "ckpt", capture, "--queue", "50", "--checkpoint-at", "1s",
                            "--pause", "5s")
    want, _ = expected(packets, slots=50)
    freeze = packets[0][0] + 1_000_000_000
    shifted = [(d + 5_000_000_000 if d >= freeze else d, i) for d, i in want]
    compare("checkpoint", got, shifted, packets)
    held = report["checkpoint"]["held_packets"]
    check(held > 0, f"checkpoint: {held} packets in flight at the freeze, expected some")


if __name__ == "__main__":
    stasis_lab.main(test, needs_binaries=False)
