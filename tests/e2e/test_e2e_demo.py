#!/usr/bin/env python3
"""e2e test: runs scripts/e2e_demo.py --json and checks its document claim by claim.

Usage: test_e2e_demo.py DEMO BUILD_DIR. Exit 0 when every claim holds, 1 otherwise (each failed claim
printed with measured and expected values, or a missing prerequisite: root or QEMU).
"""
import json
import os
import shutil
import subprocess
import sys


def run(demo: str, build: str, attempt: int) -> tuple[list[str], bool]:
    """One run of the demo, judged: the failed claims, and whether each is a bound on time only."""
    cp = subprocess.run([sys.executable, demo, "--json", "--build", build], capture_output=True, text=True,
                        timeout=560)
    sys.stderr.write(cp.stderr)
    try:
        doc = json.loads(cp.stdout)
    except ValueError:
        return [f"the demo printed no JSON document (exit {cp.returncode}):\n{cp.stdout}"], False
    # The whole document next to meson's logs, for a look after a failure.
    keep = os.path.join(build, "meson-logs", "e2e-demo.json" if attempt == 1 else f"e2e-demo.{attempt}.json")
    try:
        with open(keep, "w") as f:
            f.write(cp.stdout)
        print(f"the demo's document: {keep}")
    except OSError:
        pass
    failed = []
    # What the issue asks for, each present in the document and judged by the demo.
    names = [w["name"] for w in doc.get("windows", [])]
    for want in ("control", "checkpoint #1", "checkpoint #2", "swap-out", "timetravel"):
        if not any(n.startswith(want) for n in names):
            failed.append(f"no window '{want}...' in the document (windows: {names})")
    for w in doc.get("windows", []):
        for rep in w.get("reports", []):
            skews = {a["agent"]: int(a.get("freeze_skew_ns", 0)) / 1e6 for a in rep.get("agents", [])}
            print(f"{w['name']}: {rep.get('operation')} {rep.get('checkpoint')}: freeze skew (ms) {skews}")
            if rep.get("operation") != "swapin" and set(skews) != {"d1", "ngA", "ngB"}:
                failed.append(f"{w['name']}: freeze skews of d1, ngA and ngB expected, got {skews}")
        for g, c in w.get("retrans", {}).items():
            print(f"  {g}: retransmissions {c}; clock {w['clock'][g]}")
        print(f"  stream {w.get('stream')}; RTT within 500 ms of F {w.get('rtt_near_cut_ms')}")
        for d, c in w.get("link_stats", {}).items():
            print(f"  lan0 {d}: rx {c.get('rx_packets')} tx {c.get('tx_packets')}, drops "
                  f"{ {k: v for k, v in c.items() if 'drop' in k and str(v) != '0'} }, lateness max "
                  f"{int(c.get('lateness_max_ns', 0)) / 1e6:.1f} ms")
    end = doc.get("end", {})
    print(f"end: {end}")
    timing_only = bool(doc.get("failures")) and not failed and set(doc["failures"]) <= set(doc.get("timing_failures", []))
    failed += doc.get("failures", [])
    if doc.get("ok") is not True or cp.returncode != 0:
        failed.append(f"demo exit status {cp.returncode}, ok={doc.get('ok')}; expected 0 and true")
    for f in failed:
        print(f"FAIL: {f}")
    return failed, timing_only


def main(demo: str, build: str) -> int:
    if os.geteuid() != 0 or not shutil.which("qemu-system-x86_64"):
        print("FAIL: needs root and qemu-system-x86_64 (scripts/bootstrap installs QEMU; run as root)")
        return 1
    failed, timing_only = run(demo, build, 1)
    if failed and timing_only:
        # Every count held (stream, retransmissions, losses, exits) and only a bound on time was missed:
        # on a shared host a held vCPU reads as a guest clock step, a late RTT or a TCP tail loss probe
        # (scripts/e2e_demo.py, judge). Measured once more; a second miss fails. A pause the guests saw
        # would step by R-F (>= 500 ms) in every run.
        print(f"only bounds on time were missed ({len(failed) - 1}); measuring the whole demo once more")
        failed, _ = run(demo, build, 2)
    print("PASS" if not failed else f"{len(failed)} failure(s)")
    return 0 if not failed else 1


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
