#!/usr/bin/env python3
"""Self-test of the harness (netlab, the topology) with a kernel bridge, then dpdk-testpmd, in D standing
in for the daemon.

This checks the harness, not Stasis: parsing of ping and iperf3, VLAN subinterfaces, and teardown on
normal exit, on SIGTERM and on SIGKILL of the test process. Usage: selftest.py [--skip-signals]
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import measure  # noqa: E402
import netlab  # noqa: E402
import stasis_lab  # noqa: E402
from stasis_lab import A_IP, B_IP, Topology, check, vlan_ip  # noqa: E402

CHILD = r"""
import os, sys, time
sys.path.insert(0, sys.argv[1])
from netlab import Lab
with Lab() as lab:
    a = lab.namespace("a"); d = lab.namespace("d")
    lab.veth(a, lab.ifname("a"), d, lab.ifname("da"))
    a.start("sleeper", ["sleep", "300"])
    print(lab.run_id, flush=True)
    time.sleep(300)
"""


def namespaces_of(run_id: str) -> list[str]:
    out = netlab.run(["ip", "netns", "list"]).stdout
    return [l.split()[0] for l in out.splitlines() if f"-{run_id}-" in l]


def teardown_after(sig: int) -> None:
    """Starts a lab in a child, signals the child, and checks that nothing of the lab is left."""
    here = os.path.dirname(os.path.abspath(__file__))
    child = subprocess.Popen([sys.executable, "-c", CHILD, here], stdout=subprocess.PIPE, text=True)
    run_id = child.stdout.readline().strip()
    try:
        check(len(namespaces_of(run_id)) == 2, f"child lab {run_id} has 2 namespaces")
        sleeper = netlab.run(["ip", "netns", "pids", f"stl-{run_id}-a"]).stdout.split()
        child.send_signal(sig)
        child.wait(10)
        deadline = time.monotonic() + 10
        while namespaces_of(run_id) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = namespaces_of(run_id)
        check(not left, f"after signal {sig} to the test process: namespaces left {left}, expected none "
                        f"(within 10 s)")
        alive = [p for p in sleeper if netlab.proc_start_time(int(p)) is not None]
        check(not alive, f"after signal {sig}: processes left {alive}, expected none")
    finally:
        if child.poll() is None:
            child.kill()


def test(lab: netlab.Lab) -> None:
    # Parsers on fixed text first: these do not depend on the machine.
    r = measure.parse_ping(SAMPLE_PING)
    check((r.transmitted, r.received, r.rtt_avg_ms, len(r.samples)) == (5, 4, 20.210, 4),
          f"parse_ping on a sample: {(r.transmitted, r.received, r.rtt_avg_ms, len(r.samples))}, "
          "expected (5, 4, 20.21, 4)")
    check(measure.binomial_interval(3000, 0.05) == (120, 182),
          f"binomial_interval(3000, 0.05, 99%) = {measure.binomial_interval(3000, 0.05)}, "
          "expected (120, 182), exact rational computation")
    check(stasis_lab.duration_ns("10ms") == 10_000_000 and stasis_lab.duration_ns("250us") == 250_000,
          "duration_ns parses ms and us")

    topo = Topology(lab, vlans=(10, 20))
    topo.bridge_standin()
    p = measure.ping(topo.a, B_IP, count=100, interval=0.01)
    print(f"bridge ping: {p.transmitted} tx, {p.received} rx, rtt min/avg/max/mdev "
          f"{p.rtt_min_ms}/{p.rtt_avg_ms}/{p.rtt_max_ms}/{p.rtt_mdev_ms} ms, median {p.median_ms():.3f}")
    check(p.loss == 0 and len(p.samples) == 100, f"bridge ping loss {p.loss:.3f}, expected 0")
    check(p.rtt_avg_ms < 1.0, f"bridge ping avg {p.rtt_avg_ms} ms, expected < 1 ms (no delay node)")
    for vid in topo.vlans:
        pv = measure.ping(topo.a, vlan_ip(vid, "b"), count=20, interval=0.01)
        check(pv.loss == 0, f"bridge ping over VLAN {vid}: loss {pv.loss:.3f}, expected 0")
    ip = measure.iperf3(topo.b, topo.a, B_IP, seconds=3, omit=0)
    print(f"bridge iperf3: goodput {ip.goodput_bps / 1e6:.1f} Mbit/s, retransmits {ip.retransmits}, "
          f"mss {ip.mss}")
    check(ip.goodput_bps > 100e6, f"bridge goodput {ip.goodput_bps / 1e6:.1f} Mbit/s, expected > 100")
    check(ip.mss == 1448, f"TCP MSS {ip.mss}, expected 1448 (MTU 1500, timestamps)")

    testpmd_standin(lab)

    if "--skip-signals" not in sys.argv:
        teardown_after(15)  # SIGTERM: the Lab tears down
        teardown_after(9)   # SIGKILL: the guardian tears down


def testpmd_standin(lab: netlab.Lab) -> None:
    """dpdk-testpmd (io forwarding) in D with the smoke tests' EAL arguments: checks hugepages or the
    --no-huge fallback, af_packet on veth and the offload settings, without Stasis."""
    topo = Topology(lab)
    print("testpmd EAL arguments: " + " ".join(topo.eal_args()))
    pmd = topo.d.start("testpmd", ["dpdk-testpmd", *topo.eal_args(), "--", "--forward-mode=io",
                                   "--auto-start", "--total-num-mbufs=8192", "--stats-period=1"],
                       ready=r"Port statistics", timeout=60)
    p = measure.ping(topo.a, B_IP, count=100, interval=0.01)
    print(f"testpmd ping: {p.received}/{p.transmitted}, rtt min/avg/max {p.rtt_min_ms}/{p.rtt_avg_ms}/"
          f"{p.rtt_max_ms} ms")
    check(p.loss == 0, f"ping through testpmd: loss {p.loss:.3f}, expected 0")
    ip = measure.iperf3(topo.b, topo.a, B_IP, seconds=2, omit=0)
    print(f"testpmd iperf3: goodput {ip.goodput_bps / 1e6:.1f} Mbit/s, retransmits {ip.retransmits}")
    check(ip.goodput_bps > 100e6, f"TCP through testpmd: {ip.goodput_bps / 1e6:.1f} Mbit/s, expected > 100 "
                                  "(checksum offloads off, or af_packet drops everything)")
    rc = pmd.stop()
    check(rc == 0, f"testpmd exit status after SIGTERM: {rc}, expected 0")


SAMPLE_PING = """PING 10.77.0.2 (10.77.0.2) 56(84) bytes of data.
[1700000000.000100] 64 bytes from 10.77.0.2: icmp_seq=1 ttl=64 time=20.1 ms
[1700000000.010100] 64 bytes from 10.77.0.2: icmp_seq=2 ttl=64 time=20.2 ms
[1700000000.030100] 64 bytes from 10.77.0.2: icmp_seq=4 ttl=64 time=20.3 ms
[1700000000.040100] 64 bytes from 10.77.0.2: icmp_seq=5 ttl=64 time=20.24 ms

--- 10.77.0.2 ping statistics ---
5 packets transmitted, 4 received, 20% packet loss, time 40ms
rtt min/avg/max/mdev = 20.100/20.210/20.300/0.070 ms
"""

if __name__ == "__main__":
    stasis_lab.main(test, needs_binaries=False)
