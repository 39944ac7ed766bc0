#!/usr/bin/env python3
"""Smoke a: ping RTT through a 10 ms / 50 Mbit/s link is 2 x (delay + serialization) within 0.5 ms
(median over 200 pings, and 80 % of them), and never less."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import measure  # noqa: E402
import stasis_lab  # noqa: E402
from stasis_lab import B_IP, Topology, check, link_text  # noqa: E402

DELAY, RATE, QUEUE = "10ms", "50Mbit", 200
PINGS, INTERVAL = 200, 0.01


def test(lab):
    topo = Topology(lab)
    topo.start_daemon(link_text("lan0", dict(delay=DELAY, rate=RATE, queue_slots=QUEUE)))
    measure.ping(topo.a, B_IP, count=5, interval=0.05)  # warm-up, not measured
    p = measure.ping(topo.a, B_IP, count=PINGS, interval=INTERVAL)
    frame = stasis_lab.ping_frame_bytes()
    want = stasis_lab.expected_rtt_ms(DELAY, RATE, frame)
    print(f"expected RTT = 2 x ({DELAY} + {frame} B x 8 / {RATE}) = {want:.3f} ms")
    print(f"measured over {p.transmitted} pings (-i {INTERVAL}): min/avg/max/mdev "
          f"{p.rtt_min_ms}/{p.rtt_avg_ms}/{p.rtt_max_ms}/{p.rtt_mdev_ms} ms, median {p.median_ms():.3f} ms")
    check(p.received == p.transmitted == PINGS,
          f"ping replies: measured {p.received}/{p.transmitted}, expected {PINGS}/{PINGS} (no loss configured)")
    stasis_lab.check_rtt("lan0", p.rtts, want)
    topo.stop_daemon_checked()


if __name__ == "__main__":
    stasis_lab.main(test)
