#!/usr/bin/env python3
"""Smoke: freeze mid-trace, save, kill, restore into a fresh stasis-delayd, resume; the departures seen on
the far side are the uninterrupted model's, shifted by the pause, and no frame is lost or duplicated.

A raw-socket generator in A sends a paced trace (1 ms spacing with bursts of 10, fixed-size UDP frames)
through lan0 (10 ms, 20 Mbit/s, 200 slots) to a capture in B with kernel receive timestamps. Like a
frozen node, the generator stops at F and sends every later frame at t - F + R. The controller freezes
daemon #1 at F (mid-trace, with frames in the queue and on the delay line), saves, kills it, starts
daemon #2, loads the snapshot and resumes at R. Expected: the model (service end = max(arrival, previous
end) + len*8/rate, exact; departure = floor(end) + delay) on the generator's send instants mapped into
the uninterrupted timeline (minus R - F after the pause); a departure before F is observed as it is,
one at or after F at departure + (R - F). Error = kernel rx time at B - that: |error| p50 <= 50 us and
p99 <= 200 us over all frames, p50 <= 50 us and max <= 2 ms over the frames held across the cut, none
early, none more than 10 ms late (see the tolerances below for what was measured).

A run that misses only those bounds on time while a daemon's own lateness histogram says its worker
sent a frame later than the largest bound missed (the host held the worker's CPU: at this load a turn
takes microseconds) is measured once more, and the second run must hold every check (stasis_lab.main).
Three CI runs failed on such holds: p99 4.1 ms with the restored worker up to 7.3 ms late; p99 240 us
with it up to 925 us late; one frame 10.2 ms late (eight frames a millisecond apart leaving together).
Loss, duplicates, order, counts and an early frame fail at once.
"""
import json
import math
import os
import sys
import time
from fractions import Fraction

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import measure  # noqa: E402
import stasis_lab  # noqa: E402
from stasis_lab import A_IP, B_IP, Topology, check, link_text, pipe_counters  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DELAY, RATE, QUEUE = "10ms", "20Mbit", 200
FRAME_LEN = 1000                 # Ethernet bytes without FCS: 400 us at 20 Mbit/s
SPACING_MS, TRACE_MS = 1, 1440   # one frame per ms ...
BURSTS_MS = (100, 300, 500, 698, 702, 900, 1200)  # ... and bursts of 10 back to back (queue builds)
BURST = 10
START_LEAD_NS = 1_500_000_000    # S = now + this when the helpers are started
FREEZE_AFTER_NS = 700_000_000    # F = S + 700 ms: mid-trace
DRAIN_NS = 100_000_000           # save after F + drain window
RESUME_LEAD_NS = 300_000_000     # R = now + 300 ms after the load
# Error = observed kernel rx time at B - expected (departure, + R - F if held at the cut). It includes the
# af_packet path twice (A -> the daemon's arrival stamp, the daemon's send -> B) and the worker's
# lateness, on 2 vCPUs shared by the daemon's busy-polling worker, the generator, the capture and the
# kernel. Measured on the 2-vCPU VM with nothing else running: p50 7-18 us, p99 44-84 us, max 0.1-0.7 ms;
# now and then the worker is preempted and single frames are 1-2.5 ms late (the daemon's own lateness
# counter shows it). An expected departure shifted by 0.5 ms on the held frames fails the p50 and
# "never early" checks; a wrong cut or shift is usually milliseconds (held frames depart F+0.4..12.4 ms).
TOL_P50_US = 50                  # median |error|, over all frames and over the held frames
TOL_P99_US = 200                 # p99 |error| over all frames: > 2x the worst quiet p99 measured
TOL_HELD_MAX_US = 2000           # every held frame: the cut itself, within a scheduling hiccup
TOL_MAX_US = 10000               # any frame: a gross error (a frame a delay late); a concurrent build on
                                 # the 2 vCPUs was seen to delay single frames by 3-4 ms
TOL_EARLY_US = 50                # no frame observed before the model's departure (minus clock noise)
BOUNDARY_NS = 200_000            # expected departure within this of F: may leave on either side of the cut


def trace_offsets() -> list[int]:
    offs = []
    for ms in range(0, TRACE_MS, SPACING_MS):
        offs += [ms * 1_000_000] * (BURST if ms in BURSTS_MS else 1)
    return offs


def model(arrivals: list[int], length: int, rate_bps: int, delay_ns: int, slots: int):
    """The uninterrupted model: (departure ns or None if dropped at the queue, max queue occupancy)."""
    service = Fraction(length * 8 * 1_000_000_000, rate_bps)
    end = Fraction(-10**18)
    ends: list[Fraction] = []      # service ends of admitted frames still in the queue or in service
    deps, max_occ = [], 0
    for a in arrivals:
        ends = [e for e in ends if e > a]  # a frame whose service ended before the arrival is gone
        if len(ends) >= slots:
            deps.append(None)
            continue
        end = max(Fraction(a), end) + service
        ends.append(end)
        max_occ = max(max_occ, len(ends))
        deps.append(math.floor(end) + delay_ns)
    return deps, max_occ


def stats_line(name: str, errs_ns: list[int]) -> str:
    if not errs_ns:
        return f"  {name:<28} n=0"
    us = [e / 1000 for e in errs_ns]
    ab = [abs(x) for x in us]
    return (f"  {name:<28} n={len(us):<5} error p50 {measure.percentile(us, 50):8.1f} us  "
            f"p99 {measure.percentile(us, 99):8.1f} us  min {min(us):8.1f} us  max {max(us):8.1f} us  "
            f"|error| p99 {measure.percentile(ab, 99):8.1f} us")


def lateness_ns(link: dict) -> dict[str, int]:
    """The worker's lateness on a_to_b (send time - model departure) as the daemon reports it: p50, p99, max."""
    pipe = stasis_lab._get(link, "a_to_b", {}) or {}
    return {k: int(stasis_lab._get(pipe, f"lateness_{k}_ns", 0)) for k in ("p50", "p99", "max")}


def lateness(link: dict) -> str:
    return "worker lateness p50/p99/max %.1f/%.1f/%.1f us" % tuple(v / 1000 for v in lateness_ns(link).values())


def pin_self(cpus) -> None:
    """The controller (and the `stasis`/`ip` commands it runs) off the daemon's worker lcore 1: on 2 vCPUs
    a short-lived process there preempts the busy-polling worker by up to milliseconds. The daemons are
    started with every CPU allowed (EAL pins its own lcores)."""
    try:
        os.sched_setaffinity(0, cpus)
    except OSError:
        pass


def wait_until_ns(t: int) -> None:
    while True:
        d = t - time.time_ns()
        if d <= 0:
            return
        time.sleep(min(d / 1e9, 0.05))


def test(lab):
    with open("/proc/loadavg") as f:  # the timing bounds assume the CPUs are not busy with other work
        print(f"load average before the test: {' '.join(f.read().split()[:3])}", flush=True)
    topo = Topology(lab)
    links = link_text("lan0", dict(delay=DELAY, rate=RATE, queue_slots=QUEUE))
    extra = 'idle_sleep: "0" '
    all_cpus = os.sched_getaffinity(0)
    topo.start_daemon(links, daemon_extra=extra)
    if len(all_cpus) > 1:
        pin_self({min(all_cpus)})

    offsets = trace_offsets()
    n = len(offsets)
    spec = dict(iface=topo.a_if, cap_iface=topo.b_if, src_mac=topo.a.mac(topo.a_if),
                dst_mac=topo.b.mac(topo.b_if), src_ip=A_IP, dst_ip=B_IP, frame_len=FRAME_LEN,
                offsets_ns=offsets, cpu=min(all_cpus), resume_file=lab.path("resume_at"), stop_file=lab.path("stop"),
                gen_out=lab.path("gen.json"), cap_out=lab.path("cap.json"))
    S = time.time_ns() + START_LEAD_NS
    F = S + FREEZE_AFTER_NS
    spec.update(start_ns=S, freeze_ns=F)
    spec_path = lab.path("trace.json")
    with open(spec_path, "w") as f:
        json.dump(spec, f)
    print(f"trace: {n} frames of {FRAME_LEN} B over {TRACE_MS} ms, bursts of {BURST} at {BURSTS_MS} ms; "
          f"F = S + {FREEZE_AFTER_NS / 1e6:.0f} ms", flush=True)

    cap = topo.b.start("capture", [sys.executable, os.path.join(HERE, "trace_gen.py"), "cap", spec_path],
                       ready=r"^cap: ready")
    gen = topo.a.start("generator", [sys.executable, os.path.join(HERE, "trace_gen.py"), "gen", spec_path],
                       ready=r"^gen: ready")
    check(time.time_ns() < S - 100_000_000, "helpers ready at least 100 ms before the start instant S",
          fatal=True)
    topo.cli_ok("freeze", "--at", str(F), "--no-wait")

    # Daemon #1: frozen at F; the drain window passes; save; kill.
    wait_until_ns(F + DRAIN_NS)
    print(topo.cli_ok("freeze", "--status").text, flush=True)
    s1 = topo.stats("lan0")
    c1 = pipe_counters(s1, "a_to_b")
    print(f"daemon #1 a_to_b counters at save: {c1}; {lateness(s1)}", flush=True)
    stasis_lab.note_worker_lateness("daemon #1", lateness_ns(s1)["max"])
    snap = lab.path("lan0.stasis")
    topo.cli_ok("save", snap)
    print(topo.cli_ok("snapshot", "inspect", snap).text, flush=True)
    topo.stop_daemon_checked()

    # Daemon #2: a fresh process with the same configuration; load; resume at R; the generator too.
    pin_self(all_cpus)
    topo.start_daemon(links, daemon_extra=extra)
    if len(all_cpus) > 1:
        pin_self({min(all_cpus)})
    topo.cli_ok("load", snap)
    R = time.time_ns() + RESUME_LEAD_NS
    topo.cli_ok("resume", "--at", str(R))
    tmp = spec["resume_file"] + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(R))
    os.replace(tmp, spec["resume_file"])
    pause = R - F
    print(f"resume at R, R - F = {pause / 1e9:.3f} s", flush=True)

    check(gen.wait(timeout=TRACE_MS / 1000 + 30) == 0, f"generator exit status 0\n{gen.tail()}", fatal=True)
    time.sleep(0.5)  # the last frames: 10 ms delay plus the queue
    s2 = topo.stats("lan0")
    c2 = pipe_counters(s2, "a_to_b")
    print(f"daemon #2 a_to_b counters at the end: {c2}; {lateness(s2)}", flush=True)
    stasis_lab.note_worker_lateness("daemon #2", lateness_ns(s2)["max"])
    open(spec["stop_file"], "w").close()
    check(cap.wait(timeout=10) == 0, f"capture exit status 0\n{cap.tail()}", fatal=True)
    topo.stop_daemon_checked()

    with open(spec["gen_out"]) as f:
        g = json.load(f)
    with open(spec["cap_out"]) as f:
        c = json.load(f)
    sent = g["sent"]
    check(len(sent) == n and [s[0] for s in sent] == list(range(n)),
          f"generator sent {len(sent)} frames in order, expected {n}", fatal=True)
    check(g["shift"] == pause, f"generator's pause {g['shift']} ns, expected R - F = {pause} ns", fatal=True)

    # The uninterrupted model on the actual send instants (after the pause mapped back by R - F).
    arrivals = [t - (pause if phase == 1 else 0) for _, t, phase in sent]
    deps, max_occ = model(arrivals, FRAME_LEN, int(stasis_lab.rate_bps(RATE)), stasis_lab.duration_ns(DELAY),
                          QUEUE)
    dropped = [i for i, d in enumerate(deps) if d is None]
    print(f"model: max queue occupancy {max_occ} of {QUEUE} slots; drops {len(dropped)}", flush=True)
    check(not dropped, f"the model drops no frame at the queue: measured {len(dropped)}, expected 0 "
                       "(the trace is designed so)", fatal=True)
    phase0 = sum(1 for s in sent if s[2] == 0)
    late0 = sum(1 for s in sent if s[2] == 0 and s[1] >= F)
    print(f"generator: {phase0} frames before F ({late0} of them sent after F: drain window), "
          f"{n - phase0} after R", flush=True)

    # Loss, duplicates, order.
    got = c["got"]
    seqs = [x[0] for x in got]
    seen: dict[int, int] = {}
    for s in seqs:
        seen[s] = seen.get(s, 0) + 1
    lost = sorted(set(range(n)) - set(seen))
    dups = sorted(s for s, k in seen.items() if k > 1)
    stray = sorted(s for s in seen if s >= n)
    check(not lost, f"frames lost: measured {len(lost)} (first {lost[:10]}), expected 0")
    check(not dups, f"frames duplicated: measured {len(dups)} (first {dups[:10]}), expected 0")
    check(not stray, f"unknown sequence numbers: measured {len(stray)}, expected 0")
    order_ok = all(a < b for a, b in zip(seqs, seqs[1:]))
    check(order_ok, "frames received in send order (the model never reorders)")
    check(all(x[1] > 0 for x in got), "every captured frame has a kernel receive timestamp")
    for k in ("drop_loss", "drop_queue", "drop_red", "drop_fifo", "drop_tx"):
        check(c1[k] == 0 and c2[k] == 0, f"daemon {k}: measured #1 {c1[k]}, #2 {c2[k]}, expected 0 and 0")
    check(c1["rx_packets"] == phase0,
          f"daemon #1 rx_packets: measured {c1['rx_packets']}, expected {phase0} (every frame sent before F)")

    # Timing: observed kernel rx at B vs expected (departure, + R - F if held at the cut).
    rx = {x[0]: x[1] for x in got}
    groups = {"before the cut": [], "held across the cut": [], "after the resume": [], "boundary (+-200us)": []}
    worst = []
    for i in range(n):
        if i not in rx:
            continue
        d = deps[i]
        if abs(d - F) <= BOUNDARY_NS:
            e = min((rx[i] - d, rx[i] - d - pause), key=abs)
            groups["boundary (+-200us)"].append(e)
            continue
        e = rx[i] - (d if d < F else d + pause)
        if d < F:
            groups["before the cut"].append(e)
        elif sent[i][2] == 0:
            groups["held across the cut"].append(e)
        else:
            groups["after the resume"].append(e)
        worst.append((abs(e), i, e))
    held = len(groups["held across the cut"])
    print(f"R - F = {pause / 1e6:.3f} ms; frames held across the cut (sent before F, departing after R): "
          f"{held}; boundary frames {len(groups['boundary (+-200us)'])}", flush=True)
    allerr = [e for k, v in groups.items() if k != "boundary (+-200us)" for e in v]
    for k, v in groups.items():
        print(stats_line(k, v), flush=True)
    print(stats_line("all (boundary excluded)", allerr), flush=True)
    worst.sort(reverse=True)
    print("worst frames (seq, error us, phase, expected departure - F us): " +
          ", ".join(f"({i}, {e / 1000:.1f}, {sent[i][2]}, {(deps[i] - F) / 1000:.0f})" for _, i, e in worst[:8]),
          flush=True)

    check(held > 0, f"frames held across the cut: measured {held}, expected > 0 (freeze mid-trace)")
    if allerr:
        ab = [abs(e) / 1000 for e in allerr]
        p50, p99 = measure.percentile(ab, 50), measure.percentile(ab, 99)
        check(p50 <= TOL_P50_US, f"|error| p50 over {len(ab)} frames: measured {p50:.1f} us, "
                                 f"expected <= {TOL_P50_US} us", bound_ns=TOL_P50_US * 1000)
        check(p99 <= TOL_P99_US, f"|error| p99 over {len(ab)} frames: measured {p99:.1f} us, "
                                 f"expected <= {TOL_P99_US} us", bound_ns=TOL_P99_US * 1000)
        check(max(ab) <= TOL_MAX_US, f"|error| max over {len(ab)} frames: measured {max(ab):.1f} us, "
                                     f"expected <= {TOL_MAX_US} us", bound_ns=TOL_MAX_US * 1000)
        early = min(allerr) / 1000
        check(early >= -TOL_EARLY_US, f"earliest frame relative to the model: measured {early:.1f} us, "
                                      f"expected >= -{TOL_EARLY_US} us (never before its departure)")
        hab = [abs(e) / 1000 for e in groups["held across the cut"]]
        if hab:
            hp50 = measure.percentile(hab, 50)
            check(hp50 <= TOL_P50_US, f"|error| p50 over the {len(hab)} held frames: measured {hp50:.1f} us, "
                                      f"expected <= {TOL_P50_US} us", bound_ns=TOL_P50_US * 1000)
            check(max(hab) <= TOL_HELD_MAX_US, f"|error| max over the {len(hab)} held frames: measured "
                                               f"{max(hab):.1f} us, expected <= {TOL_HELD_MAX_US} us",
                  bound_ns=TOL_HELD_MAX_US * 1000)
    b = [abs(e) / 1000 for e in groups["boundary (+-200us)"]]
    if b:
        check(max(b) <= TOL_HELD_MAX_US, f"boundary frames, |error| to the nearer side of the cut: measured max "
                                    f"{max(b):.1f} us, expected <= {TOL_HELD_MAX_US} us",
              bound_ns=TOL_HELD_MAX_US * 1000)


if __name__ == "__main__":
    stasis_lab.main(test, measure_again_when_held=True)
