#!/usr/bin/env python3
"""Smoke: faults during a coordinated checkpoint. Three agents: d1 carries a paced UDP trace A -> B
(1 frame per ms), i1 and i2 hold idle links; CURVE control sockets; the trace generator stops at F and
goes on at t - F + R, as a frozen host would.

A. An agent (i1) is killed (SIGKILL) between prepare and commit. Expected: the checkpoint fails naming
   i1 and rolls back; the survivors d1 and i2 resume at one common instant R (each at R + its offset);
   the catalog marks the checkpoint aborted; every frame of the trace arrives exactly once, in order.
B. The controller dies (fault hook STASIS_FAULT=crash-after=frozen) with every agent frozen and nothing
   committed. Expected: `stasis status` names the unfinished operation; `stasis recover` rolls it back:
   every agent resumes at one R, the checkpoint is aborted, no frame is lost.
C. The controller dies right after the commit (crash-after=committed). Expected: `stasis recover`
   completes it: the checkpoint stays committed and becomes the head, every agent resumes at one R, no
   frame is lost; a following checkpoint works as usual.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stasis_lab  # noqa: E402
from checkpoint_lab import Chain, Traffic, delivery, freeze_ns_of, report_of  # noqa: E402
from stasis_lab import check  # noqa: E402

FRAMES = 1500


def delivered(traffic: Traffic, what: str) -> None:
    g, c = traffic.finish()
    n, missing, dups, in_order = delivery(g, c)
    check(n == FRAMES and not missing and not dups and in_order,
          f"{what}: {n - len(missing)} of {n} frames delivered, {len(missing)} lost (first {missing[:5]}), "
          f"{len(dups)} duplicated, {'in order' if in_order else 'REORDERED'}; expected all, once, in order")


def common_resume(rep: dict, names: list[str], what: str) -> None:
    R = int(rep["resume_ns"])
    for a in rep["agents"]:
        if a["agent"] in names:
            check(int(a["resume_ns"]) - int(a.get("offset_ns", 0)) == R,
                  f"{what}: {a['agent']} resumes at the common R: {a['resume_ns']} - offset {a.get('offset_ns', 0)} = {R}")


def catalog_states(chain, exp) -> dict:
    tree = chain.cli_ok("checkpoints", exp, "--json").json()
    return {c["name"]: c["state"] for c in tree["checkpoints"]}


def test(lab):
    chain = Chain(lab, hops=1, idle=2)
    chain.start_all()
    exp = chain.write_experiment()

    # A. an agent dies between prepare and commit
    t = Traffic(chain, FRAMES, tag="a")
    t.start(lead_ns=500_000_000)
    ctl = chain.start_controller("checkpoint-a", "checkpoint", exp, "--json", "--lead", "600")
    t.freeze_at(freeze_ns_of(ctl))
    victim = chain.agent("i1").proc
    victim.popen.kill()
    victim.wait(timeout=10)
    rc = ctl.wait(timeout=60)
    rep = report_of(ctl.output())
    check(rc == 1 and rep["ok"] is False, f"A: the checkpoint fails (exit {rc}, ok {rep['ok']})")
    check("i1" in rep["message"], f"A: the error names the dead agent: {rep['message']!r}")
    states = {a["agent"]: a["state"] for a in rep["agents"]}
    check(states.get("d1") == "aborted" and states.get("i2") == "aborted", f"A: survivors aborted: {states}")
    common_resume(rep, ["d1", "i2"], "A")
    t.resume_at(int(rep["resume_ns"]))
    delivered(t, "A")
    check(catalog_states(chain, exp) == {"c1": "aborted"}, f"A: catalog {catalog_states(chain, exp)}")
    chain.start_agent(chain.agent("i1"))  # back, at a new socket
    exp = chain.write_experiment()

    # B. the controller dies with everyone frozen, before the commit
    t = Traffic(chain, FRAMES, tag="b")
    t.start(lead_ns=500_000_000)
    ctl = chain.start_controller("checkpoint-b", "checkpoint", exp, "--lead", "600",
                                 env={"STASIS_FAULT": "crash-after=frozen"})
    t.freeze_at(freeze_ns_of(ctl))
    rc = ctl.wait(timeout=60)
    check(rc == 70, f"B: the controller crashed at the fault hook (exit {rc}, expected 70)")
    st = chain.cli_ok("status", exp)
    print(st.stdout, flush=True)
    check("unfinished: checkpoint" in st.stdout and "died" in st.stdout,
          "B: status names the unfinished checkpoint and its dead controller")
    sj = chain.cli_ok("status", exp, "--json").json()
    check(all(a["frozen"] for a in sj["agents"]), f"B: every agent is frozen meanwhile: {sj['agents']}")
    r = chain.cli("recover", exp, "--json")
    print(r.stderr, flush=True)
    rep = report_of(r.stdout)
    check(r.status == 0 and rep["ok"] and "rolled back" in rep["message"], f"B: recover rolls back: {rep['message']!r}")
    states = {a["agent"]: (a["state"], a["error"]) for a in rep["agents"]}
    check(all(s == "aborted" for s, _ in states.values()), f"B: every agent aborted: {states}")
    common_resume(rep, ["d1", "i1", "i2"], "B")
    t.resume_at(int(rep["resume_ns"]))
    delivered(t, "B")
    check(catalog_states(chain, exp).get("c2") == "aborted", f"B: catalog {catalog_states(chain, exp)}")

    # C. the controller dies right after the commit
    t = Traffic(chain, FRAMES, tag="c")
    t.start(lead_ns=500_000_000)
    ctl = chain.start_controller("checkpoint-c", "checkpoint", exp, "--lead", "600",
                                 env={"STASIS_FAULT": "crash-after=committed"})
    t.freeze_at(freeze_ns_of(ctl))
    rc = ctl.wait(timeout=60)
    check(rc == 70, f"C: the controller crashed at the fault hook (exit {rc}, expected 70)")
    r = chain.cli("recover", exp, "--json")
    print(r.stderr, flush=True)
    rep = report_of(r.stdout)
    check(r.status == 0 and rep["ok"] and "completed" in rep["message"], f"C: recover completes: {rep['message']!r}")
    common_resume(rep, ["d1", "i1", "i2"], "C")
    t.resume_at(int(rep["resume_ns"]))
    delivered(t, "C")
    check(catalog_states(chain, exp).get("c3") == "committed", f"C: catalog {catalog_states(chain, exp)}")
    sj = chain.cli_ok("status", exp, "--json").json()
    check(sj["state"] == "running" and sj["head"] == "c3" and not any(a["frozen"] for a in sj["agents"]),
          f"C: running at head c3, nothing frozen: {sj}")
    r = chain.cli("checkpoint", exp, "--json")
    check(r.status == 0 and report_of(r.stdout)["checkpoint"] == "c4", f"C: the next checkpoint works\n{r.stderr}")
    for a in chain.agents:
        a.proc.stop()


if __name__ == "__main__":
    stasis_lab.main(test)
