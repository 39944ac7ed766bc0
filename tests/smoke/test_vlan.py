#!/usr/bin/env python3
"""Smoke d: two links multiplexed over one port pair by VLAN id (v10: 5 ms, v20: 15 ms) keep their own
delays under concurrent traffic; each link counts only its frames; untagged frames cross no link."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import measure  # noqa: E402
import stasis_lab  # noqa: E402
from stasis_lab import B_IP, PORT_A, PORT_B, Topology, check, link_text, vlan_ip  # noqa: E402

LINKS = {"v10": (10, "5ms"), "v20": (20, "15ms")}
RATE, QUEUE = "50Mbit", 200
PINGS, INTERVAL = 200, 0.01
UNTAGGED_PINGS = 20


def test(lab):
    topo = Topology(lab, vlans=tuple(vid for vid, _ in LINKS.values()))
    topo.start_daemon("".join(
        link_text(name, dict(delay=delay, rate=RATE, queue_slots=QUEUE), a_vlan=vid, b_vlan=vid)
        for name, (vid, delay) in LINKS.items()))
    for name, (vid, _) in LINKS.items():
        measure.ping(topo.a, vlan_ip(vid, "b"), count=3, interval=0.05)  # warm-up
    before = {name: topo.stats(name) for name in LINKS}

    # Both links at once: the demultiplexer must not mix them up.
    pings = {name: topo.a.start(f"ping-{name}", measure.ping_argv(vlan_ip(vid, "b"), PINGS, INTERVAL))
             for name, (vid, _) in LINKS.items()}
    results = {}
    for name, proc in pings.items():
        proc.wait(PINGS * INTERVAL * 2 + 30)
        results[name] = measure.parse_ping(proc.output())

    for name, (vid, delay) in LINKS.items():
        p = results[name]
        frame = stasis_lab.ping_frame_bytes(vlan=True)
        want = stasis_lab.expected_rtt_ms(delay, RATE, frame)
        print(f"{name} (VLAN {vid}): expected 2 x ({delay} + {frame} B x 8 / {RATE}) = {want:.3f} ms; "
              f"measured min/avg/max {p.rtt_min_ms}/{p.rtt_avg_ms}/{p.rtt_max_ms} ms, "
              f"median {p.median_ms():.3f} ms, {p.received}/{p.transmitted} replies")
        check(p.received == p.transmitted == PINGS,
              f"{name} ping replies: measured {p.received}/{p.transmitted}, expected {PINGS}/{PINGS}")
        stasis_lab.check_rtt(name, p.rtts, want)
        after = topo.stats(name)
        for d in ("a_to_b", "b_to_a"):
            c = stasis_lab.counters_delta(stasis_lab.pipe_counters(after, d),
                                          stasis_lab.pipe_counters(before[name], d))
            check(c["rx_packets"] == PINGS and c["tx_packets"] == PINGS,
                  f"{name} {d} rx/tx packets: measured {c['rx_packets']}/{c['tx_packets']}, expected "
                  f"{PINGS}/{PINGS} (its own pings only)")

    # Untagged frames belong to no link: they are counted as unmatched and not forwarded.
    stats_before = topo.stats_reply()
    p = measure.ping(topo.a, B_IP, count=UNTAGGED_PINGS, interval=0.01, linger=1)
    stats_after = topo.stats_reply()
    check(p.received == 0, f"untagged ping replies: measured {p.received}/{p.transmitted}, expected 0 "
                           "(no link carries untagged frames)")

    def unmatched(reply, port):
        port_id = port[len("net_af_packet"):]  # vdevs are probed in order: net_af_packetN is port N
        for pc in reply.get("ports", []):
            if pc.get("port") in (port, port_id):
                return int(stasis_lab._get(pc, "rx_unmatched", 0))
        raise AssertionError(f"`stasis link stats --json` has no port {port!r}: {reply.get('ports')}")
    got = unmatched(stats_after, PORT_A) - unmatched(stats_before, PORT_A)
    check(got == UNTAGGED_PINGS, f"{PORT_A} rx_unmatched: measured +{got}, expected +{UNTAGGED_PINGS}")
    got = unmatched(stats_after, PORT_B) - unmatched(stats_before, PORT_B)
    check(got == 0, f"{PORT_B} rx_unmatched: measured +{got}, expected +0")
    topo.stop_daemon_checked()


if __name__ == "__main__":
    stasis_lab.main(test)
