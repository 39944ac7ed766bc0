#!/usr/bin/env python3
"""Smoke b: TCP through 50 Mbit/s, 10 ms, queue >= 1 BDP reaches the goodput the rate allows, within 5 %."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import measure  # noqa: E402
import stasis_lab  # noqa: E402
from stasis_lab import B_IP, Topology, check, link_text  # noqa: E402

DELAY, RATE, QUEUE, MTU = "10ms", "50Mbit", 200, 1500
SECONDS, OMIT = 10, 1  # iperf3 -O skips slow start
TOLERANCE = 0.05


def test(lab):
    topo = Topology(lab, mtu=MTU)
    rate = stasis_lab.rate_bps(RATE)
    rtt_s = 2 * stasis_lab.duration_ns(DELAY) / 1e9
    bdp = rate * rtt_s / 8
    queue_bytes = QUEUE * (MTU + stasis_lab.ETH_HEADER)
    print(f"BDP = {RATE} x {rtt_s * 1e3:g} ms / 8 = {bdp:.0f} B; queue {QUEUE} slots x "
          f"{MTU + stasis_lab.ETH_HEADER} B = {queue_bytes} B")
    check(queue_bytes >= bdp, f"test setup: queue {queue_bytes} B >= BDP {bdp:.0f} B", fatal=True)

    topo.start_daemon(link_text("lan0", dict(delay=DELAY, rate=RATE, queue_slots=QUEUE)))
    ts = stasis_lab.tcp_timestamps(topo.a)
    allowed, payload, frame = stasis_lab.tcp_goodput_bps(RATE, MTU, ts)
    print(f"allowed goodput = {RATE} x {payload} B payload / {frame} B frame (MTU {MTU}, "
          f"TCP timestamps {'on' if ts else 'off'}, no FCS) = {allowed / 1e6:.3f} Mbit/s")
    before = topo.stats("lan0")
    r = measure.iperf3(topo.b, topo.a, B_IP, seconds=SECONDS, omit=OMIT)
    after = topo.stats("lan0")
    a2b = stasis_lab.counters_delta(stasis_lab.pipe_counters(after, "a_to_b"),
                                    stasis_lab.pipe_counters(before, "a_to_b"))
    print(f"iperf3 A -> B, {SECONDS} s after {OMIT} s omitted: receiver goodput "
          f"{r.goodput_bps / 1e6:.3f} Mbit/s over {r.seconds:.2f} s, sender {r.sender_bps / 1e6:.3f} Mbit/s, "
          f"{r.retransmits} retransmits, MSS {r.mss}")
    print(f"daemon a_to_b during the test: {a2b}")
    if r.mss is not None and r.mss != payload:
        print(f"note: iperf3 reports MSS {r.mss}, the computation uses {payload}")
    check(abs(r.goodput_bps - allowed) <= TOLERANCE * allowed,
          f"TCP goodput: measured {r.goodput_bps / 1e6:.3f} Mbit/s, expected {allowed / 1e6:.3f} Mbit/s "
          f"+- {TOLERANCE:.0%} ({allowed * (1 - TOLERANCE) / 1e6:.3f} .. "
          f"{allowed * (1 + TOLERANCE) / 1e6:.3f})")
    topo.stop_daemon_checked()


if __name__ == "__main__":
    stasis_lab.main(test)
