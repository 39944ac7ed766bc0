#!/usr/bin/env python3
"""Smoke c: plr 0.05 on a_to_b only: the loss rate (daemon counters and ping) is inside the 99 % binomial
interval over >= 2000 packets, and b_to_a loses nothing."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import measure  # noqa: E402
import stasis_lab  # noqa: E402
from stasis_lab import B_IP, Topology, check, link_text  # noqa: E402

DELAY, RATE, QUEUE, PLR = "10ms", "50Mbit", 200, 0.05
PINGS, INTERVAL = 3000, 0.002
MIN_PACKETS = 2000
CONFIDENCE = 0.99


def test(lab):
    topo = Topology(lab)
    topo.start_daemon(link_text("lan0", dict(delay=DELAY, rate=RATE, queue_slots=QUEUE),
                                a_to_b=dict(plr=PLR)))
    before = topo.stats("lan0")
    p = measure.ping(topo.a, B_IP, count=PINGS, interval=INTERVAL)
    after = topo.stats("lan0")
    a2b = stasis_lab.counters_delta(stasis_lab.pipe_counters(after, "a_to_b"),
                                    stasis_lab.pipe_counters(before, "a_to_b"))
    b2a = stasis_lab.counters_delta(stasis_lab.pipe_counters(after, "b_to_a"),
                                    stasis_lab.pipe_counters(before, "b_to_a"))
    print(f"daemon a_to_b: {a2b}\ndaemon b_to_a: {b2a}")
    print(f"ping: {p.transmitted} sent, {p.received} received")

    n, k = a2b["rx_packets"], a2b["drop_loss"]
    check(n >= MIN_PACKETS, f"a_to_b rx_packets: measured {n}, expected >= {MIN_PACKETS}", fatal=True)
    lo, hi = measure.binomial_interval(n, PLR, CONFIDENCE)
    check(lo <= k <= hi, f"a_to_b drop_loss: measured {k}/{n} = {k / n:.4f}, expected plr {PLR} -> "
                         f"{lo}..{hi} drops ({CONFIDENCE:.0%} binomial interval for n={n})")
    lost = p.transmitted - p.received
    lo, hi = measure.binomial_interval(p.transmitted, PLR, CONFIDENCE)
    check(lo <= lost <= hi, f"ping loss: measured {lost}/{p.transmitted} = {p.loss:.4f}, expected "
                            f"{lo}..{hi} ({CONFIDENCE:.0%} binomial interval for plr {PLR})")
    check(lost == k, f"ping losses {lost} == daemon a_to_b drop_loss {k} (only pings cross the link)")
    check(b2a["drop_loss"] == 0, f"b_to_a drop_loss: measured {b2a['drop_loss']}, expected 0 "
                                 "(plr set on a_to_b only)")
    check(b2a["rx_packets"] == a2b["tx_packets"],
          f"b_to_a rx_packets {b2a['rx_packets']} == a_to_b tx_packets {a2b['tx_packets']} "
          "(B answers every request that got through)")
    check(a2b["tx_packets"] + k == n, f"a_to_b tx {a2b['tx_packets']} + drop_loss {k} == rx {n}")
    topo.stop_daemon_checked()


if __name__ == "__main__":
    stasis_lab.main(test)
