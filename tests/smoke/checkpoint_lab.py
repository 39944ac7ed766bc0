"""The coordinated-checkpoint topology: hosts A and B joined through a chain of delay nodes, each its own
stasis-delayd agent in its own namespace, driven by the reference controller over an experiment file.

    ns a: a-if 10.77.0.1 ==veth== [ns d1: link l1] ==veth== [ns d2: link l2] ==veth== b-if 10.77.0.2 :ns b

Extra idle agents (no traffic, a veth pair of their own) can be added. Every agent serves an ipc://
control socket in the lab's folder, so the controller in the root namespace reaches them all; with
`curve=True` the sockets are CURVE-encrypted and allow only the controller's key.
"""
from __future__ import annotations

import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netlab  # noqa: E402
import stasis_lab  # noqa: E402
from stasis_lab import A_IP, B_IP, READY, CheckFailed, binaries, hugepages_available  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
F_LINE = r"prepare: F = .* = (\d+) ns"


class Agent:
    def __init__(self, name: str, ns, ports: list[str], link: str, shape: str):
        self.name, self.ns, self.ports, self.link, self.shape = name, ns, ports, link, shape
        self.endpoint = ""
        self.proc: netlab.Process | None = None
        self.generation = 0


class Chain:
    def __init__(self, lab: netlab.Lab, hops: int = 2, idle: int = 0, curve: bool = True,
                 shape: str = 'delay: "5ms" rate: "20Mbit" queue_slots: 200', timeout_ms: int = 400, tries: int = 2):
        self.lab, self.curve = lab, curve
        self.delayd, self.cli_bin = binaries()
        self.a, self.b = lab.namespace("a"), lab.namespace("b")
        self.a_if, self.b_if = lab.ifname("a"), lab.ifname("b")
        self.agents: list[Agent] = []
        prev_ns, prev_if = self.a, self.a_if
        for i in range(1, hops + 1):
            ns = lab.namespace(f"d{i}")
            pa, pb = lab.ifname(f"d{i}a"), lab.ifname(f"d{i}b")
            lab.veth(prev_ns, prev_if, ns, pa)
            self.agents.append(Agent(f"d{i}", ns, [pa, pb], f"l{i}", shape))
            prev_ns, prev_if = ns, pb
            if i == hops:
                lab.veth(ns, pb, self.b, self.b_if)
        for j in range(1, idle + 1):
            ns = lab.namespace(f"i{j}")
            pa, pb = lab.ifname(f"i{j}a"), lab.ifname(f"i{j}b")
            lab.veth(ns, pa, ns, pb)
            self.agents.append(Agent(f"i{j}", ns, [pa, pb], f"idle{j}", shape))
        self.a.addr_add(self.a_if, f"{A_IP}/24")
        self.b.addr_add(self.b_if, f"{B_IP}/24")
        self.a.neigh_add(B_IP, self.b.mac(self.b_if), self.a_if)
        self.b.neigh_add(A_IP, self.a.mac(self.a_if), self.b_if)
        self.keys = lab.path("keys")
        if curve:
            os.makedirs(self.keys, exist_ok=True)
            for who in ["controller"] + [a.name for a in self.agents]:
                self.cli_ok("keygen", "--out", self.keys, who)
        self.snapshots = lab.path("snapshots")
        self.catalog = lab.path("catalog.db")
        self.timeout_ms, self.tries = timeout_ms, tries

    # --- agents ---------------------------------------------------------------------------------
    def agent(self, name: str) -> Agent:
        return next(a for a in self.agents if a.name == name)

    def start_agent(self, a: Agent, swap_ports: bool = False) -> netlab.Process:
        """Starts a's daemon on its current ports (swap_ports: the two DPDK ports in the other order,
        so the link's sides land on other port ids, as on another machine)."""
        a.generation += 1
        a.endpoint = f"ipc://{self.lab.tmpfile(self.lab.path(f'{a.name}-{a.generation}.sock'))}"
        p0, p1 = ("net_af_packet0", "net_af_packet1")
        side_a, side_b = (p1, p0) if swap_ports else (p0, p1)
        ifaces = list(reversed(a.ports)) if swap_ports else a.ports  # the a side on port 1 when swapped
        conf = (f'daemon {{ control: "{a.endpoint}" }}\n'
                f'link {{ name: "{a.link}" a {{ port: "{side_a}" }} b {{ port: "{side_b}" }} shape {{ {a.shape} }} }}\n')
        path = self.lab.path(f"{a.name}-{a.generation}.conf")
        with open(path, "w") as f:
            f.write(conf)
        eal = ["-l", "0,1", "--no-pci"]
        prefix = f"ck-{self.lab.run_id}-{a.name}-{a.generation}"
        if hugepages_available(128 * len(self.agents)):
            eal += ["--in-memory"]
        else:
            self.lab.tmpfile(f"/var/run/dpdk/{prefix}")
            eal += ["--no-huge", "-m", "256", "--no-shconf", "--file-prefix", prefix]
        eal += ["--vdev", f"net_af_packet0,iface={ifaces[0]}", "--vdev", f"net_af_packet1,iface={ifaces[1]}"]
        sec = (["--curve-key", os.path.join(self.keys, f"{a.name}.key"),
                "--allow", os.path.join(self.keys, "controller.pub")] if self.curve else ["--plain"])
        argv = [self.delayd, *eal, "--", "--config", path, *sec]
        a.proc = a.ns.start(f"delayd-{a.name}-{a.generation}", argv, ready=READY, timeout=30)
        return a.proc

    def start_all(self) -> None:
        for a in self.agents:
            self.start_agent(a)

    def move_agent(self, a: Agent) -> None:
        """Moves a's interfaces to a new namespace under new names: the next start_agent runs it 'on
        another machine' with other interfaces."""
        ns = self.lab.namespace(f"{a.name}n")
        new = []
        for i, dev in enumerate(a.ports):
            name = self.lab.ifname(f"{a.name}n{'ab'[i]}")
            a.ns.ip("link", "set", "dev", dev, "netns", ns.name)
            ns.ip("link", "set", "dev", dev, "name", name)
            ns.offloads_off(name)
            ns.link_up(name)
            new.append(name)
        a.ns, a.ports = ns, new

    # --- the experiment and the controller ----------------------------------------------------------
    def write_experiment(self, name: str = "chain", extra: str = "") -> str:
        lines = [f'name: "{name}"', f'catalog: "{self.catalog}"', f"timeout_ms: {self.timeout_ms}",
                 f"tries: {self.tries}"]
        if self.curve:
            lines.append(f'controller_key: "{os.path.join(self.keys, "controller.key")}"')
        for a in self.agents:
            key = f' public_key: "{os.path.join(self.keys, a.name + ".pub")}"' if self.curve else ""
            lines.append(f'agent {{ name: "{a.name}" role: DELAY endpoint: "{a.endpoint}"{key} '
                         f'snapshot_dir: "{self.snapshots}" links: "{a.link}" }}')
        path = self.lab.path(f"{name}.exp")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n" + extra)
        return path

    def cli(self, *args: str, env: dict | None = None, timeout: float = 60.0) -> stasis_lab.CliResult:
        argv = ["env", *[f"{k}={v}" for k, v in (env or {}).items()], self.cli_bin, *args]
        cp = netlab.run(argv, check=False, timeout=timeout)
        return stasis_lab.CliResult(cp.returncode, cp.stdout, cp.stderr)

    def cli_ok(self, *args: str, **kw) -> stasis_lab.CliResult:
        r = self.cli(*args, **kw)
        if r.status != 0:
            raise CheckFailed(f"`stasis {' '.join(args)}` exit status {r.status}, expected 0:\n{r.text}")
        return r

    def start_controller(self, name: str, *args: str, env: dict | None = None) -> netlab.Process:
        """A controller command in the background, returned once it printed F (its 'prepare' line)."""
        argv = ["env", *[f"{k}={v}" for k, v in (env or {}).items()], self.cli_bin, *args]
        return self.lab.start(name, argv, ready=F_LINE, timeout=30)


def freeze_ns_of(proc_or_line) -> int:
    line = proc_or_line if isinstance(proc_or_line, str) else proc_or_line._ready_line
    m = re.search(F_LINE, line or "")
    if not m:
        raise CheckFailed(f"no F in {line!r}")
    return int(m.group(1))


def report_of(text: str) -> dict:
    """The JSON report at the end of a controller's output (after its progress lines)."""
    i = text.find("\n{") + 1 if not text.startswith("{") else 0
    if i == 0 and not text.startswith("{"):
        raise CheckFailed(f"no JSON report in:\n{text}")
    return json.loads(text[i:])


def write_atomic(path: str, value: int) -> None:
    with open(path + ".tmp", "w") as f:
        f.write(str(value))
    os.replace(path + ".tmp", path)


class Traffic:
    """A paced UDP trace A -> B (trace_gen.py): it stops at an F it is told and goes on at t - F + R."""

    def __init__(self, chain: Chain, frames: int, spacing_ms: int = 1, frame_len: int = 200, tag: str = "t"):
        lab = chain.lab
        self.n = frames
        self.spec = dict(iface=chain.a_if, cap_iface=chain.b_if, src_mac=chain.a.mac(chain.a_if),
                         dst_mac=chain.b.mac(chain.b_if), src_ip=A_IP, dst_ip=B_IP, frame_len=frame_len,
                         offsets_ns=[i * spacing_ms * 1_000_000 for i in range(frames)], cpu=0,
                         freeze_file=lab.path(f"{tag}-freeze_at"), resume_file=lab.path(f"{tag}-resume_at"),
                         stop_file=lab.path(f"{tag}-stop"), gen_out=lab.path(f"{tag}-gen.json"),
                         cap_out=lab.path(f"{tag}-cap.json"))
        self.chain, self.tag = chain, tag

    def start(self, lead_ns: int = 1_000_000_000) -> int:
        self.spec["start_ns"] = time.time_ns() + lead_ns
        path = self.chain.lab.path(f"{self.tag}-trace.json")
        with open(path, "w") as f:
            json.dump(self.spec, f)
        gen = os.path.join(HERE, "trace_gen.py")
        self.cap = self.chain.b.start(f"{self.tag}-capture", [sys.executable, gen, "cap", path], ready=r"^cap: ready")
        self.gen = self.chain.a.start(f"{self.tag}-generator", [sys.executable, gen, "gen", path],
                                      ready=r"^gen: ready")
        return self.spec["start_ns"]

    def freeze_at(self, f_ns: int) -> None:
        write_atomic(self.spec["freeze_file"], f_ns)

    def resume_at(self, r_ns: int) -> None:
        write_atomic(self.spec["resume_file"], r_ns)

    def finish(self, settle_s: float = 0.5) -> tuple[dict, dict]:
        duration = self.n * 0.001 * 2 + 60
        if self.gen.wait(timeout=duration) != 0:
            raise CheckFailed(f"generator failed\n{self.gen.tail()}")
        time.sleep(settle_s)
        open(self.spec["stop_file"], "w").close()
        if self.cap.wait(timeout=10) != 0:
            raise CheckFailed(f"capture failed\n{self.cap.tail()}")
        with open(self.spec["gen_out"]) as f:
            g = json.load(f)
        with open(self.spec["cap_out"]) as f:
            c = json.load(f)
        return g, c


def delivery(g: dict, c: dict) -> tuple[int, list[int], list[int], bool]:
    """(frames sent, missing seqs, duplicated seqs, in order) of one trace."""
    sent = [s[0] for s in g["sent"]]
    got = [x[0] for x in c["got"]]
    seen: dict[int, int] = {}
    for s in got:
        seen[s] = seen.get(s, 0) + 1
    missing = [s for s in sent if s not in seen]
    dups = [s for s, k in seen.items() if k > 1]
    return len(sent), missing, dups, got == sorted(got)
