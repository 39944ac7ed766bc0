#!/usr/bin/env python3
"""Smoke e: `stasis link set lan0 delay=20ms` during a steady ping stream moves the RTT from 2 x 10 ms to
2 x 20 ms with a short transition, and loses nothing (ping and daemon counters)."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import measure  # noqa: E402
import stasis_lab  # noqa: E402
from stasis_lab import B_IP, Topology, check, link_text  # noqa: E402

OLD, NEW, RATE, QUEUE = "10ms", "20ms", "50Mbit", 200
PINGS, INTERVAL = 800, 0.005
CHANGE_AFTER_S = 1.5
GROSS_MS = 5.0        # no sample sent around the change may exceed the new RTT by more than this
APPLY_SLACK_S = 0.002  # after the command returns, the change is in force within this


def test(lab):
    topo = Topology(lab)
    topo.start_daemon(link_text("lan0", dict(delay=OLD, rate=RATE, queue_slots=QUEUE)))
    measure.ping(topo.a, B_IP, count=5, interval=0.05)  # warm-up
    frame = stasis_lab.ping_frame_bytes()
    rtt_old = stasis_lab.expected_rtt_ms(OLD, RATE, frame)
    rtt_new = stasis_lab.expected_rtt_ms(NEW, RATE, frame)
    print(f"expected RTT {rtt_old:.3f} ms before, {rtt_new:.3f} ms after (2 x (delay + {frame} B at {RATE}))")
    before = topo.stats("lan0")

    ping = topo.a.start("ping", measure.ping_argv(B_IP, PINGS, INTERVAL))
    time.sleep(CHANGE_AFTER_S)
    t0 = time.time()
    r = topo.cli("link", "set", "lan0", f"delay={NEW}")
    t1 = time.time()
    check(r.status == 0, f"`stasis link set lan0 delay={NEW}` exit status {r.status}, expected 0:\n{r.text}",
          fatal=True)
    print(f"link set took {(t1 - t0) * 1e3:.1f} ms")
    ping.wait(PINGS * INTERVAL * 2 + 30)
    p = measure.parse_ping(ping.output())
    time.sleep(0.1)
    after = topo.stats("lan0")

    check(p.transmitted == PINGS and p.received == PINGS and p.duplicates == 0,
          f"ping: measured {p.received}/{p.transmitted} replies, {p.duplicates} duplicates; expected "
          f"{PINGS}/{PINGS}, 0 (no loss across the change)")
    # Phases by send time (reply timestamp - RTT). A request sent less than one old one-way delay
    # before t0 may meet the new delay on its way back: it is a transition sample, as is any sample
    # sent while the command ran.
    one_way_old_s = stasis_lab.duration_ns(OLD) / 1e9
    pre, mid, post = [], [], []
    for seq, rtt, rx in p.samples:
        sent = rx - rtt / 1e3
        if sent < t0 - one_way_old_s - 0.001:
            pre.append(rtt)
        elif sent > t1 + APPLY_SLACK_S:
            post.append(rtt)
        else:
            mid.append(rtt)
    print(f"samples: {len(pre)} before, {len(mid)} in transition {[round(x, 2) for x in mid]}, "
          f"{len(post)} after")
    check(len(pre) >= 100 and len(post) >= 100,
          f"samples per phase: measured {len(pre)} before / {len(post)} after, expected >= 100 each",
          fatal=True)
    stasis_lab.check_rtt("before the change", pre, rtt_old)
    stasis_lab.check_rtt("after the change", post, rtt_new)
    # What the change could do wrong shows on the frames in flight across it: a frame held beyond its new
    # departure, or sent before its old one. Those are the samples sent from one old one-way delay before
    # the command until one new RTT after it returned; every one of them stays within the gross bound. (A
    # bound on every one of the 800 samples would also judge the host's scheduling, far from the change;
    # the phases' distributions above cover those.)
    around = [rtt for _, rtt, rx in p.samples
              if t0 - one_way_old_s - 0.001 <= rx - rtt / 1e3 <= t1 + rtt_new / 1e3 + APPLY_SLACK_S]
    check(len(around) >= 5, f"samples sent around the change: measured {len(around)}, expected >= 5", fatal=True)
    lo, hi = min(p.rtts), max(around)
    check(lo >= rtt_old - stasis_lab.RTT_EARLY_MS,
          f"every RTT sample: measured minimum {lo:.3f} ms, expected >= {rtt_old - stasis_lab.RTT_EARLY_MS:.3f} ms")
    check(hi <= rtt_new + GROSS_MS,
          f"the {len(around)} samples sent around the change: measured maximum {hi:.3f} ms, expected <= "
          f"{rtt_new + GROSS_MS:.3f} ms (the new RTT + {GROSS_MS} ms)")

    for d in ("a_to_b", "b_to_a"):
        c = stasis_lab.counters_delta(stasis_lab.pipe_counters(after, d),
                                      stasis_lab.pipe_counters(before, d))
        drops = {k: v for k, v in c.items() if k.startswith("drop_") and v}
        print(f"daemon {d}: {c}")
        check(c["rx_packets"] == c["tx_packets"] == PINGS,
              f"daemon {d} rx/tx: measured {c['rx_packets']}/{c['tx_packets']}, expected {PINGS}/{PINGS}")
        check(not drops, f"daemon {d} drops: measured {drops or 0}, expected none")
        check(stasis_lab.pipe_counters(after, d)["fifo_packets"] == 0,
              f"daemon {d} fifo_packets after the stream: measured "
              f"{stasis_lab.pipe_counters(after, d)['fifo_packets']}, expected 0")
    info = topo.show("lan0")
    for d in ("a_to_b", "b_to_a"):
        applied = stasis_lab.effective_pipe(info, d).get("delay")
        check(stasis_lab.duration_ns(applied) == stasis_lab.duration_ns(NEW),
              f"`link show` {d} delay: measured {applied!r}, expected {NEW}")
    topo.stop_daemon_checked()


if __name__ == "__main__":
    stasis_lab.main(test)
