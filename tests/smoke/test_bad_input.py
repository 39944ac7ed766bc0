#!/usr/bin/env python3
"""Smoke f: bad input is refused with a message that says where. A broken configuration (syntax error,
unknown field, unknown port, plr > 1, negative delay) makes stasis-delayd exit non-zero naming the file,
the line and the field; bad `stasis link set` requests are refused and the daemon keeps serving."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import measure  # noqa: E402
import netlab  # noqa: E402
import stasis_lab  # noqa: E402
from stasis_lab import B_IP, READY, Topology, check, link_text  # noqa: E402

EXIT_TIMEOUT_S = 30


def config_lines(topo, shape_lines=('    delay: "10ms"', '    rate: "50Mbit"', "    queue_slots: 200"),
                 b_port="net_af_packet1", extra=()):
    """A configuration with known line numbers: the shape's fields are on lines 7, 8, 9."""
    return [
        f'daemon {{ control: "{topo.control}" }}',   # 1
        "link {",                                    # 2
        '  name: "lan0"',                            # 3
        '  a { port: "net_af_packet0" }',            # 4
        f'  b {{ port: "{b_port}" }}',               # 5
        "  shape {",                                 # 6
        *shape_lines,                                # 7, 8, 9
        "  }",                                       # 10
        *extra,                                      # 11...
        "}",
    ]


# (case, config lines, line the error is on, words the message must contain besides the file)
def cases(topo):
    return [
        ("syntax error (missing ':')",
         config_lines(topo, shape_lines=('    delay: "10ms"', '    rate "50Mbit"', "    queue_slots: 200")),
         8, []),
        ("unknown field",
         config_lines(topo, shape_lines=('    delai: "10ms"', '    rate: "50Mbit"', "    queue_slots: 200")),
         7, ["delai"]),
        ("unknown port", config_lines(topo, b_port="net_af_packet7"), 5, ["port", "net_af_packet7"]),
        ("plr > 1", config_lines(topo, extra=["  a_to_b { plr: 1.5 }"]), 11, ["plr"]),
        ("negative delay", config_lines(topo, extra=['  b_to_a { delay: "-5ms" }']), 11, ["delay"]),
    ]


def names_line(text, path, line):
    return re.search(rf"{re.escape(path)}:{line}\b", text) or (
        path in text and re.search(rf"\bline {line}\b", text))


def bad_config(topo, name, lines, line, words):
    path = topo.write_config("\n".join(lines) + "\n", f"bad-{re.sub(r'[^a-z0-9]+', '-', name)}.conf")
    proc = topo.d.start(f"delayd-{re.sub(r'[^a-z0-9]+', '-', name)}", topo.daemon_argv(path))
    try:
        rc = proc.wait(EXIT_TIMEOUT_S)
    except netlab.NetlabError:
        rc = None  # still running: stopped by wait(); reported below
    out = proc.output()
    print(f"--- {name}: exit status {rc}; output:\n{proc.tail(12)}")
    check(rc is not None and rc > 0, f"{name}: exit status measured {rc if rc is not None else f'none (still running after {EXIT_TIMEOUT_S} s)'}, expected > 0 (an error exit, "
                                     "not a crash by signal, not success)", fatal=False)
    check(not re.search(READY, out, re.M), f"{name}: daemon must not report ready", fatal=False)
    check(bool(names_line(out, path, line)),
          f"{name}: message names file and line: expected '{path}:{line}' or '{path}' and 'line {line}'",
          fatal=False)
    for w in words:
        check(w in out, f"{name}: message names {w!r}", fatal=False)


def test(lab):
    topo = Topology(lab)
    stasis_lab.binaries()
    for name, lines, line, words in cases(topo):
        bad_config(topo, name, lines, line, words)

    # Runtime: bad requests are refused with a reason; the daemon keeps serving unchanged.
    topo.start_daemon(link_text("lan0", dict(delay="10ms", rate="50Mbit", queue_slots=200)))
    r = topo.cli("link", "set", "lan0", "plr=1.5")
    print(f"--- link set lan0 plr=1.5: status {r.status}\n{r.text}")
    check(r.status != 0, f"`link set lan0 plr=1.5` exit status: measured {r.status}, expected non-zero",
          fatal=False)
    check("plr" in r.text, "`link set lan0 plr=1.5` error names the field 'plr'", fatal=False)
    r = topo.cli("link", "set", "nosuch", "delay=1ms")
    print(f"--- link set nosuch delay=1ms: status {r.status}\n{r.text}")
    check(r.status != 0, f"`link set nosuch delay=1ms` exit status: measured {r.status}, expected non-zero",
          fatal=False)
    check("nosuch" in r.text, "`link set nosuch` error names the link 'nosuch'", fatal=False)

    check(topo.daemon.alive(), "daemon still running after the bad requests")
    info = topo.show("lan0")
    for d in ("a_to_b", "b_to_a"):
        pipe = stasis_lab.effective_pipe(info, d)
        plr = float(pipe.get("plr", 0.0))
        check(plr == 0.0, f"`link show` {d} plr after the refused change: measured {plr}, expected 0",
              fatal=False)
        check(stasis_lab.duration_ns(pipe.get("delay")) == 10_000_000,
              f"`link show` {d} delay: measured {pipe.get('delay')!r}, expected 10ms", fatal=False)
    p = measure.ping(topo.a, B_IP, count=20, interval=0.01)
    check(p.received == p.transmitted == 20,
          f"ping through lan0 afterwards: measured {p.received}/{p.transmitted}, expected 20/20", fatal=False)
    topo.stop_daemon_checked()


if __name__ == "__main__":
    stasis_lab.main(test)
