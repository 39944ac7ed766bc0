#!/usr/bin/env python3
"""Smoke: a coordinated checkpoint of a two-agent experiment, a swap-out and a swap-in onto other ports.

Topology (checkpoint_lab.Chain): A -> d1 (link l1, 5 ms, 20 Mbit/s) -> d2 (link l2, the same) -> B, each
delay node its own stasis-delayd agent behind a CURVE-encrypted ipc:// control socket that lets in only
the controller's key. A paced UDP trace (1 frame per ms, 200 B) runs from A to B throughout.

1. `stasis checkpoint EXP` mid-trace (the generator pauses from F to R like a frozen host): the
   checkpoint commits, both agents resume at one instant, and
   the report gives every phase's latency. Expected: both agents froze at the same F (each in its own
   clock: F + its measured offset); the spread of their freeze instants is within the measured skew
   bound plus 2 ms of scheduling; command -> F is the lead plus at most 150 ms.
2. `stasis swapout EXP`: the trace generator stops at F as a frozen host would; both daemons exit 0
   once released; frames were held in the network core at F.
3. The agents' interfaces move to new namespaces under new names, new daemons start there with their
   DPDK ports in the other order and new control sockets; `stasis swapin EXP --map ...` resumes them at
   one instant R, and the generator goes on at t - F + R.
Expected at B: every frame of the trace exactly once and in order (none lost across the checkpoint,
the swap-out or the swap-in); the catalog has c1 and c2 committed with c2 the head; the experiment
runs again.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checkpoint_lab  # noqa: E402
import stasis_lab  # noqa: E402
from checkpoint_lab import Chain, Traffic, delivery, freeze_ns_of, report_of  # noqa: E402
from stasis_lab import check  # noqa: E402

FRAMES = 4000                # 1 per ms: 4 s of trace, with the operations in its middle
SPREAD_TOL_NS = 2_000_000    # scheduling on 2 vCPUs shared by two busy-polling workers and the helpers
COMMAND_TO_F_EXTRA_NS = 150_000_000


def agents_agree(rep: dict, what: str) -> None:
    f = int(rep["freeze_ns"])
    for a in rep["agents"]:
        check(int(a["freeze_ns"]) - int(a.get("offset_ns", 0)) == f,
              f"{what}: {a['agent']} froze at F in its clock: {a['freeze_ns']} - offset {a.get('offset_ns', 0)} "
              f"= controller F {f}")
    spread, bound = int(rep.get("freeze_spread_ns", 0)), int(rep.get("skew_bound_ns", 0))
    check(spread <= bound + SPREAD_TOL_NS,
          f"{what}: freeze instants spread {spread / 1e3:.0f} us, within the skew bound {bound / 1e3:.0f} us "
          f"+ {SPREAD_TOL_NS / 1e6:.0f} ms")
    extra = int(rep["command_to_freeze_ns"]) - int(rep["lead_ns"])
    check(0 <= extra <= COMMAND_TO_F_EXTRA_NS,
          f"{what}: command -> F {int(rep['command_to_freeze_ns']) / 1e6:.1f} ms = lead {int(rep['lead_ns']) / 1e6:.1f} ms "
          f"+ {extra / 1e6:.1f} ms (at most {COMMAND_TO_F_EXTRA_NS / 1e6:.0f} ms)")
    phases = ", ".join(f"{p['name']} {int(p.get('duration_ns', 0)) / 1e6:.2f} ms" for p in rep.get("phases", []))
    print(f"{what}: phases: {phases}", flush=True)


def delivered_all(traffic, frames: int, what: str) -> None:
    g, c = traffic.finish()
    n, missing, dups, in_order = delivery(g, c)
    check(n == frames, f"{what}: generator sent {n} frames, expected {frames}")
    check(not missing, f"{what}: frames lost: {len(missing)} (first {missing[:10]}), expected 0")
    check(not dups, f"{what}: frames duplicated: {len(dups)}, expected 0")
    check(in_order, f"{what}: frames arrived in order")
    pause = int(g["shift"] or 0)
    print(f"{what}: delivered {n - len(missing)} of {n}; the generator was paused {pause / 1e9:.3f} s (R - F)",
          flush=True)


def test(lab):
    chain = Chain(lab, hops=2)
    chain.start_all()
    exp = chain.write_experiment()
    print(open(exp).read(), flush=True)
    r = chain.cli_ok("status", exp)
    print(r.stdout, flush=True)

    # 1. a checkpoint that resumes; the hosts pause from F to R as frozen guests would (a host that
    # kept sending through a long pause would overflow the frozen links' FIFOs, as a real one would)
    traffic = Traffic(chain, FRAMES // 2, tag="c1")
    S = traffic.start()
    checkpoint_lab_wait(S + 800_000_000)
    ctl = chain.start_controller("checkpoint", "checkpoint", exp, "--json")
    traffic.freeze_at(freeze_ns_of(ctl))
    check(ctl.wait(timeout=60) == 0, f"stasis checkpoint exit status 0\n{ctl.tail()}", fatal=True)
    rep = report_of(ctl.output())
    traffic.resume_at(int(rep["resume_ns"]))
    check(rep.get("ok") is True and rep.get("checkpoint") == "c1", f"checkpoint c1 committed: {rep.get('message')}")
    agents_agree(rep, "checkpoint c1")
    delivered_all(traffic, FRAMES // 2, "checkpoint c1")

    traffic = Traffic(chain, FRAMES, tag="swap")
    S = traffic.start()

    # 2. swap-out: the generator stops at F like a frozen host
    checkpoint_lab_wait(S + 1_600_000_000)
    ctl = chain.start_controller("swapout", "swapout", exp, "--json", "--lead", "300")
    F = freeze_ns_of(ctl)
    traffic.freeze_at(F)
    check(ctl.wait(timeout=60) == 0, f"stasis swapout exit status 0\n{ctl.tail()}", fatal=True)
    rep = report_of(ctl.output())
    check(rep.get("ok") is True and rep.get("checkpoint") == "c2", f"swapout c2 committed: {rep.get('message')}")
    agents_agree(rep, "swapout c2")
    held = sum(int(a.get("held_packets", 0)) for a in rep["agents"])
    check(held > 0, f"frames held in the network core at F: {held} (> 0: the cut is mid-flight)")
    for a in chain.agents:
        rc = a.proc.wait(timeout=10)
        check(rc == 0, f"{a.name}'s daemon exits 0 once released: {rc}")
    print(chain.cli_ok("status", exp).stdout, flush=True)

    # 3. swap-in on other interfaces, other port ids, other sockets
    for a in chain.agents:
        chain.move_agent(a)
        chain.start_agent(a, swap_ports=True)
    maps = [x for a in chain.agents for x in ("--map", f"{a.name}={a.endpoint}")]
    r = chain.cli("swapin", exp, *maps, "--json", "--lead", "200")
    print(r.stderr, flush=True)
    check(r.status == 0, f"stasis swapin exit status {r.status}, expected 0\n{r.text}", fatal=True)
    rep = report_of(r.stdout)
    R = int(rep["resume_ns"])
    traffic.resume_at(R)
    check(rep.get("ok") is True and rep.get("checkpoint") == "c2", f"swapped in c2: {rep.get('message')}")
    for a in rep["agents"]:
        check(int(a["resume_ns"]) - int(a.get("offset_ns", 0)) == R,
              f"{a['agent']} resumes at the common R (its clock: {a['resume_ns']})")

    delivered_all(traffic, FRAMES, "swap-out and swap-in")

    tree = chain.cli_ok("checkpoints", exp, "--json").json()
    print(chain.cli_ok("checkpoints", exp).stdout, flush=True)
    states = {c["name"]: c["state"] for c in tree["checkpoints"]}
    check(states == {"c1": "committed", "c2": "committed"}, f"catalog checkpoints {states}")
    st = chain.cli_ok("status", exp, "--json").json()
    check(st["state"] == "running" and st["head"] == "c2", f"experiment running at head c2: {st}")
    for a in chain.agents:
        check(a.proc.stop() == 0, f"{a.name} (swapped in) stops cleanly")


def checkpoint_lab_wait(t_ns: int) -> None:
    while time.time_ns() < t_ns:
        time.sleep(0.01)


if __name__ == "__main__":
    stasis_lab.main(test)
