#!/usr/bin/env python3
"""Smoke: `stasis replay --live` through a running stasis-delayd. One namespace H holds both end
interfaces (two veth pairs to the delay node D), so one process sends on h-a and captures on h-b:

    ns H: a-RID ==veth== da-RID  [ns D: stasis-delayd, af_packet on da/db]  db-RID ==veth== b-RID :ns H

The capture is synthesized: 2000 unique UDP frames of 200-1400 bytes at 1 ms spacing with bursts of 15
frames 20 us apart every 100 frames, through 7 ms / 12 Mbit/s / 50 slots (busy-polling daemon). The
queue never fills, so every frame must arrive, in order, within tight bounds of the model's departure
computed from the actual send instants."""
from __future__ import annotations

import json
import os
import random
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stasis_lab  # noqa: E402
from stasis_lab import Topology, check, link_text  # noqa: E402

N, BURST_EVERY, BURST, BURST_GAP_NS, GAP_NS = 2000, 100, 15, 20_000, 1_000_000
DELAY, RATE, QUEUE = "7ms", "12Mbit", 50
P50_MAX_NS, P99_MAX_NS = 50_000, 200_000


class LiveTopology(Topology):
    """Topology's daemon and CLI helpers, with both end interfaces in one namespace H."""

    def __init__(self, lab):  # noqa: super().__init__ would make namespaces A and B
        self.lab, self.mtu, self.vlans, self.verbose = lab, 1500, (), True
        self.h, self.d = lab.namespace("h"), lab.namespace("d")
        self.a_if, self.b_if = lab.ifname("a"), lab.ifname("b")
        self.da_if, self.db_if = lab.ifname("da"), lab.ifname("db")
        lab.veth(self.h, self.a_if, self.d, self.da_if)
        lab.veth(self.h, self.b_if, self.d, self.db_if)
        self.control = f"ipc://{lab.tmpfile(f'/tmp/{self.d.name}.sock')}"
        self.daemon = self.config_path = self._cli = None


def frame(seq: int, length: int, src_mac: bytes, dst_mac: bytes) -> bytes:
    eth = dst_mac + src_mac + struct.pack("!H", 0x0800)
    ip_len = length - 14
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, ip_len, seq & 0xFFFF, 0x4000, 64, 17, 0,
                      socket.inet_aton("10.77.5.1"), socket.inet_aton("10.77.5.2"))
    s = sum(struct.unpack("!10H", hdr))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    hdr = hdr[:10] + struct.pack("!H", ~s & 0xFFFF) + hdr[12:]
    udp = struct.pack("!HHHH", 40000, 40001, ip_len - 20, 0)
    payload = b"STLV" + struct.pack("!I", seq)
    out = eth + hdr + udp + payload + bytes(length - 14 - 20 - 8 - len(payload))
    assert len(out) == length
    return out


def write_capture(path: str, src_mac: str, dst_mac: str) -> None:
    rng = random.Random(7)
    src, dst = bytes.fromhex(src_mac.replace(":", "")), bytes.fromhex(dst_mac.replace(":", ""))
    t = 1_700_000_000_000_000_000
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b23c4d, 2, 4, 0, 0, 65535, 1))  # nanosecond pcap, Ethernet
        for i in range(N):
            k = i % BURST_EVERY
            t += BURST_GAP_NS if 0 < k < BURST else GAP_NS
            data = frame(i, rng.randint(200, 1400), src, dst)
            f.write(struct.pack("<IIII", t // 1_000_000_000, t % 1_000_000_000, len(data), len(data)) + data)


def replay_once(topo, capture: str, out: str, report: str) -> dict:
    """Replays the capture live through the daemon, checks what must hold exactly, returns the delay error."""
    cli = stasis_lab.binaries()[1]
    argv = [cli, "replay", capture, out, "--live", "--tx-iface", topo.a_if, "--rx-iface", topo.b_if,
            "--delay", DELAY, "--rate", RATE, "--queue", str(QUEUE), "--report", report]
    cp = topo.h.run(argv, check=False, timeout=60)
    print(f"$ {' '.join(argv[1:])}\n{cp.stdout}{cp.stderr}", end="", flush=True)
    check(cp.returncode == 0, f"stasis replay --live exited {cp.returncode}, expected 0", fatal=True)
    with open(report) as f:
        r = json.load(f)
    live, counts, err = r.get("live", {}), r.get("counts", {}), r.get("delay_error_ns", {})
    for key in ("sent", "matched", "unexpected_losses", "unexpected_arrivals", "model_drops", "send_lag_ns"):
        check(key in live, f"report: live.{key} present", fatal=True)
    check(all(k in err for k in ("p50", "p99", "max")), f"report: delay_error_ns has p50/p99/max: {err}",
          fatal=True)
    check(live["sent"] == N, f"sent {live['sent']} frames, expected {N}")
    check(live["model_drops"] == 0, f"model drops {live['model_drops']}, expected 0 (queue never fills)")
    check(live["unexpected_losses"] == 0 and live["matched"] == N,
          f"received {live['matched']} of {N} frames, unexpected losses {live['unexpected_losses']}, expected 0")
    check(counts.get("reorderings") == 0, f"reorderings {counts.get('reorderings')}, expected 0")
    print(f"delay error: p50 {err['p50'] / 1e3:.1f} us, p99 {err['p99'] / 1e3:.1f} us, "
          f"max {err['max'] / 1e3:.1f} us, min {err['min'] / 1e3:.1f} us; send lag {live['send_lag_ns']}")
    return err


def test(lab) -> None:
    topo = LiveTopology(lab)
    topo.start_daemon(link_text("lan0", dict(delay=DELAY, rate=RATE, queue_slots=QUEUE)),
                      daemon_extra='idle_sleep: "0" ')
    capture, out, report = lab.path("in.pcap"), lab.path("out.pcap"), lab.path("live.json")
    write_capture(capture, topo.h.mac(topo.a_if), topo.h.mac(topo.b_if))
    # The timing bounds are measured twice at most: on this shared 2-vCPU machine the hypervisor now and
    # then takes the worker's or the capture's vCPU for a few hundred microseconds, and the frames of that
    # moment arrive late (one CI run: p99 369 us, max 408 us, every count exact). A second miss in a row
    # fails. Everything else (counts, order, the pcap) must hold in every run.
    for attempt in (1, 2):
        err = replay_once(topo, capture, out, report)
        p50_ok, p99_ok = abs(err["p50"]) <= P50_MAX_NS, abs(err["p99"]) <= P99_MAX_NS
        if attempt == 1 and not (p50_ok and p99_ok):
            print(f"timing bounds missed in run 1 (p50 {err['p50']} ns, p99 {err['p99']} ns): measuring again",
                  flush=True)
            continue
        check(p50_ok, f"delay error p50 {err['p50']} ns, expected |.| <= {P50_MAX_NS} ns")
        check(p99_ok, f"delay error p99 {err['p99']} ns, expected |.| <= {P99_MAX_NS} ns")
        break
    with open(out, "rb") as f:
        data = f.read()
    check(len(data) > 24 and struct.unpack_from("<I", data)[0] == 0xa1b23c4d,
          f"{out}: a nanosecond pcap ({len(data)} bytes)")


if __name__ == "__main__":
    stasis_lab.main(test)
