#!/usr/bin/env python3
"""Stasis demo: two hosts in network namespaces joined through stasis-delayd; measures what the link does.

Builds hosts A (10.77.0.1) and B (10.77.0.2) and a delay node D between them (veth pairs, af_packet
vdevs), starts stasis-delayd with one link, runs ping and iperf3 across it, prints configured against
measured values and the daemon's counters, and removes everything it created. Needs root.
"""
import argparse
import json
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "smoke"))
import measure  # noqa: E402
import netlab  # noqa: E402
import stasis_lab  # noqa: E402
from stasis_lab import A_IP, B_IP, Topology, link_text  # noqa: E402


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="demo.py", description=__doc__.split("\n\n")[0],
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--delay", default="10ms", help="one-way delay of the link (default 10ms)")
    ap.add_argument("--rate", default="50Mbit", help="link rate (default 50Mbit)")
    ap.add_argument("--queue", type=int, default=200, help="queue limit in slots (default 200)")
    ap.add_argument("--pings", type=int, default=200, help="pings to send, 10 ms apart (default 200)")
    ap.add_argument("--seconds", type=int, default=5, help="iperf3 duration (default 5)")
    ap.add_argument("--build", default=os.path.join(REPO, "build"),
                    help="meson build directory with dataplane/ctl/stasis-delayd and tools/stasis")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the report")
    return ap.parse_args(argv)


def run(args):
    os.environ.setdefault("STASIS_BUILD_DIR", args.build)
    say = (lambda *_: None) if args.json else (lambda m: print(m, flush=True))
    out = {"link": {"name": "lan0", "delay": args.delay, "rate": args.rate, "queue_slots": args.queue}}
    with netlab.Lab(prefix="stdemo") as lab:
        say("building the topology: namespaces A, B and D, veth pairs A-D and D-B (offloads off)")
        topo = Topology(lab, verbose=not args.json)
        say("starting stasis-delayd in D")
        topo.start_daemon(link_text("lan0", dict(delay=args.delay, rate=args.rate, queue_slots=args.queue)))
        out["daemon_ready"] = topo.daemon.wait_ready(0)

        say(f"ping A -> B: {args.pings} pings")
        measure.ping(topo.a, B_IP, count=3, interval=0.05)  # warm-up
        p = measure.ping(topo.a, B_IP, count=args.pings, interval=0.01)
        want_rtt = stasis_lab.expected_rtt_ms(args.delay, args.rate, stasis_lab.ping_frame_bytes())
        out["rtt_ms"] = {"expected": round(want_rtt, 3), "min": p.rtt_min_ms, "avg": p.rtt_avg_ms,
                         "median": round(p.median_ms(), 3) if p.samples else None,
                         "max": p.rtt_max_ms, "mdev": p.rtt_mdev_ms}
        out["ping"] = {"sent": p.transmitted, "received": p.received, "loss": p.loss}

        say(f"iperf3 A -> B: {args.seconds} s of TCP")
        allowed, payload, frame = stasis_lab.tcp_goodput_bps(args.rate, topo.mtu,
                                                            stasis_lab.tcp_timestamps(topo.a))
        r = measure.iperf3(topo.b, topo.a, B_IP, seconds=args.seconds, omit=1)
        out["tcp"] = {"rate_bps": stasis_lab.rate_bps(args.rate), "allowed_goodput_bps": round(allowed),
                      "payload_bytes": payload, "frame_bytes": frame,
                      "goodput_bps": round(r.goodput_bps), "retransmits": r.retransmits}

        stats = topo.stats("lan0")
        out["counters"] = {d: stasis_lab.pipe_counters(stats, d) for d in ("a_to_b", "b_to_a")}
        out["lateness_ns"] = {d: {q: int(stasis_lab._get(stasis_lab._get(stats, d, {}) or {},
                                                         f"lateness_{q}_ns", 0))
                                  for q in ("p50", "p99", "max")} for d in ("a_to_b", "b_to_a")}
        out["stats_text"] = topo.cli_ok("link", "stats", "lan0").stdout
        rc = topo.daemon.stop()
        out["daemon_exit_status"] = rc
    return out


def report(o):
    l, rtt, t, c = o["link"], o["rtt_ms"], o["tcp"], o["counters"]
    print()
    print(f"Stasis demo: A {A_IP} --[ stasis-delayd link {l['name']}: delay {l['delay']}, rate {l['rate']}, "
          f"queue {l['queue_slots']} slots ]-- B {B_IP}")
    print(f"  RTT      configured 2 x ({l['delay']} + serialization of a 98 B frame) = {rtt['expected']:.3f} ms")
    print(f"           measured   avg {rtt['avg']:.3f} ms, median {rtt['median']:.3f} ms "
          f"(min {rtt['min']:.3f}, max {rtt['max']:.3f}, mdev {rtt['mdev']:.3f}) over {o['ping']['sent']} pings")
    print(f"  loss     {o['ping']['sent'] - o['ping']['received']} of {o['ping']['sent']} pings "
          f"({o['ping']['loss']:.1%})")
    share = t["goodput_bps"] / t["allowed_goodput_bps"]
    print(f"  TCP      rate {t['rate_bps'] / 1e6:.3f} Mbit/s allows {t['allowed_goodput_bps'] / 1e6:.3f} Mbit/s of "
          f"payload ({t['payload_bytes']} B per {t['frame_bytes']} B frame)")
    print(f"           measured {t['goodput_bps'] / 1e6:.3f} Mbit/s ({share:.1%} of allowed), "
          f"{t['retransmits']} retransmits")
    print("  daemon counters (stasis link stats lan0):")
    names = ("rx_packets", "tx_packets", "drop_loss", "drop_queue", "drop_fifo", "drop_tx")
    print("           " + "".join(f"{n:>12}" for n in names))
    for d in ("a_to_b", "b_to_a"):
        print(f"    {d:7}" + "".join(f"{c[d][n]:>12}" for n in names))
    print("  lateness (sent minus scheduled departure):")
    for d, q in o["lateness_ns"].items():
        print(f"    {d:7}  p50 {q['p50'] / 1e3:.1f} us, p99 {q['p99'] / 1e3:.1f} us, max {q['max'] / 1e3:.1f} us")
    print(f"  stasis-delayd exit status on SIGTERM: {o['daemon_exit_status']}")


def main(argv):
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("demo.py: needs root (network namespaces, raw sockets)", file=sys.stderr)
        return 1
    try:
        o = run(args)
    except (netlab.NetlabError, AssertionError) as e:
        print(f"demo.py: {e}", file=sys.stderr)
        return 1
    except netlab.Interrupted as e:
        print(f"demo.py: {e}; everything removed", file=sys.stderr)
        return 128 + e.signum
    if args.json:
        print(json.dumps(o, indent=2))
    else:
        report(o)
    return 0 if o["daemon_exit_status"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
