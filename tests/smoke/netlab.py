#!/usr/bin/env python3
"""netlab: network namespaces, veth pairs and processes for smoke tests, torn down whatever happens.

Standard library only. Everything a Lab creates carries a short run id in its name, so labs can run side
by side. A Lab cleans up on normal exit, on exceptions and on SIGTERM/SIGINT/SIGHUP; a guardian process in
its own session also cleans up if the test process dies without a chance to (SIGKILL, or meson's SIGKILL
0.5 s after its SIGTERM on timeout).

    with Lab() as lab:
        a, d = lab.namespace("a"), lab.namespace("d")
        lab.veth(a, lab.ifname("a"), d, lab.ifname("da"))
        a.addr_add(lab.ifname("a"), "10.77.0.1/24")
        p = a.start("srv", ["iperf3", "-s", "-1"], ready=r"Server listening")

Measurements (ping, iperf3, statistics) are in measure.py.
Command line: `netlab.py cleanup` removes what labs of dead processes left behind (see _guard).
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

STATE_DIRS = ("/run/stasis-netlab", os.path.join(tempfile.gettempdir(), "stasis-netlab"))
IFNAMSIZ = 15
OFFLOADS_OFF = ["rx", "off", "tx", "off", "tso", "off", "gso", "off", "gro", "off", "lro", "off"]
# Best effort: VLAN tags in the frame bytes rather than in skb metadata, so every tap sees the same thing.
VLAN_OFFLOADS_OFF = ["rxvlan", "off", "txvlan", "off"]


class NetlabError(RuntimeError):
    pass


class Interrupted(BaseException):
    """A termination signal arrived; raised in the main thread so that `with Lab()` tears down."""

    def __init__(self, signum: int):
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum


def log(msg: str) -> None:
    print(f"[netlab] {msg}", file=sys.stderr, flush=True)


def run(argv: list[str], *, check: bool = True, timeout: float = 30, input: str | None = None
        ) -> subprocess.CompletedProcess:
    """Runs a short command; on failure raises with the command, status and stderr."""
    try:
        cp = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input)
    except subprocess.TimeoutExpired as e:
        raise NetlabError(f"timed out after {timeout}s: {' '.join(argv)}") from e
    if check and cp.returncode != 0:
        raise NetlabError(f"command failed ({cp.returncode}): {' '.join(argv)}\n{cp.stderr.strip()}")
    return cp


# --- process identity: a PID plus its start time, so that a recycled PID is never signalled -----------

def proc_start_time(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    if fields[0] == "Z":
        return None  # a zombie has finished; nothing left to stop
    return int(fields[19])


def same_process(pid: int, start_time: int | None) -> bool:
    now = proc_start_time(pid)
    return now is not None and (start_time is None or now == start_time)


def kill_pid(pid: int, start_time: int | None, grace: float = 3.0) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds; only if pid is still the process we started."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 2.0)):
        if not same_process(pid, start_time):
            return
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                os.waitpid(pid, os.WNOHANG)  # reap it if it is our child
            except ChildProcessError:
                pass
            if not same_process(pid, start_time):
                return
            time.sleep(0.02)


# --- the state file: what a lab owns, for its guardian and for `netlab.py cleanup` ---------------------

def state_dir() -> str:
    for d in STATE_DIRS:
        try:
            os.makedirs(d, exist_ok=True)
            if os.access(d, os.W_OK):
                return d
        except OSError:
            continue
    raise NetlabError("no writable state directory among " + ", ".join(STATE_DIRS))


def write_json_atomic(path: str, obj: dict) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.replace(tmp, path)


def cleanup_state(state: dict) -> list[str]:
    """Stops recorded processes, deletes namespaces and files. Idempotent; returns what went wrong."""
    errors: list[str] = []
    for p in reversed(state.get("pids", [])):
        try:
            kill_pid(p["pid"], p.get("start"), grace=2.0)
        except Exception as e:  # keep going: the rest must still be removed
            errors.append(f"pid {p['pid']}: {e}")
    for ns in reversed(state.get("namespaces", [])):
        if not os.path.exists(f"/run/netns/{ns}"):
            continue
        # Anything still inside one of our namespaces was started by this lab (e.g. a child of a process).
        cp = run(["ip", "netns", "pids", ns], check=False)
        for tok in cp.stdout.split():
            try:
                kill_pid(int(tok), proc_start_time(int(tok)), grace=1.0)
            except Exception as e:
                errors.append(f"pid {tok} in {ns}: {e}")
        cp = run(["ip", "netns", "del", ns], check=False)
        if cp.returncode != 0 and os.path.exists(f"/run/netns/{ns}"):
            errors.append(f"ip netns del {ns}: {cp.stderr.strip()}")
    for link in state.get("root_links", []):
        if os.path.exists(f"/sys/class/net/{link}"):
            run(["ip", "link", "del", link], check=False)
    for path in state.get("files", []):
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as e:
            errors.append(f"{path}: {e}")
    return errors


def _guard(state_path: str) -> int:
    """Guardian: waits for EOF on stdin (its lab's process is gone), then cleans what is left."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    while sys.stdin.buffer.read(4096):
        pass
    try:
        with open(state_path) as f:
            state = json.load(f)
    except (OSError, ValueError):
        return 0  # the lab removed its state file: it cleaned up itself
    errors = cleanup_state(state)
    for e in errors:
        print(f"[netlab guard] {e}", file=sys.stderr)
    if not errors:
        try:
            os.unlink(state_path)
        except OSError:
            pass
    return 1 if errors else 0


def cleanup_stale() -> int:
    """Cleans labs whose owner and guardian are both gone (e.g. both were SIGKILLed)."""
    status = 0
    for d in STATE_DIRS:
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            if not name.endswith(".json"):
                continue
            path = os.path.join(d, name)
            try:
                with open(path) as f:
                    state = json.load(f)
            except (OSError, ValueError):
                continue
            owners = [state.get("owner", {}), state.get("guard", {})]
            if any(o.get("pid") and same_process(o["pid"], o.get("start")) for o in owners):
                continue
            print(f"cleaning stale lab {state.get('run_id')}: namespaces {state.get('namespaces')}")
            errors = cleanup_state(state)
            for e in errors:
                print(f"  {e}", file=sys.stderr)
                status = 1
            if not errors:
                os.unlink(path)
    return status


# --- processes ---------------------------------------------------------------------------------------

class Process:
    """A command started (inside a namespace or not), its output copied to a log file line by line."""

    def __init__(self, lab: "Lab", name: str, argv: list[str], ns: "Namespace | None" = None):
        self.lab, self.name, self.ns = lab, name, ns
        self.argv = (["ip", "netns", "exec", ns.name] if ns else []) + list(argv)
        self.log_path = os.path.join(lab.workdir, f"{name}.log")
        self.popen: subprocess.Popen | None = None
        self.returncode: int | None = None
        self._ready_re: re.Pattern | None = None
        self._ready = threading.Event()
        self._ready_line: str | None = None
        self._eof = threading.Event()
        self._reader: threading.Thread | None = None

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def start(self, ready: str | None = None, timeout: float = 15.0) -> "Process":
        """Starts; with `ready` (a regex), waits for a matching output line or fails with the log."""
        self._ready_re = re.compile(ready) if ready else None
        # Own session: a signal to the test's process group does not hit it; we stop it by PID.
        # `ip netns exec` execs the command, so the PID is the command's.
        self.popen = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        self.lab._register_pid(self.popen.pid)
        self._reader = threading.Thread(target=self._pump, name=f"log-{self.name}", daemon=True)
        self._reader.start()
        if ready:
            self.wait_ready(timeout)
        return self

    def _pump(self) -> None:
        assert self.popen is not None and self.popen.stdout is not None
        with open(self.log_path, "ab", buffering=0) as logf:
            for raw in iter(self.popen.stdout.readline, b""):
                logf.write(raw)
                if self._ready_re and not self._ready.is_set():
                    line = raw.decode(errors="replace").rstrip("\n")
                    if self._ready_re.search(line):
                        self._ready_line = line
                        self._ready.set()
        self._eof.set()

    def wait_ready(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.05):
            if self._eof.is_set() or self.popen.poll() is not None:
                self._eof.wait(1.0)
                if self._ready.is_set():
                    break
                rc = self.popen.wait()
                raise NetlabError(f"{self.name} exited with status {rc} before it was ready "
                                  f"(waited for /{self._ready_re.pattern}/)\n{self.tail()}")
            if time.monotonic() > deadline:
                raise NetlabError(f"{self.name} not ready after {timeout}s "
                                  f"(waited for /{self._ready_re.pattern}/)\n{self.tail()}")
        return self._ready_line or ""

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def wait(self, timeout: float) -> int:
        """Waits for the process to exit by itself; kills it and raises if it takes longer."""
        try:
            self.returncode = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise NetlabError(f"{self.name} still running after {timeout}s; killed\n{self.tail()}")
        self._eof.wait(2.0)
        self.lab._unregister_pid(self.pid)
        return self.returncode

    def stop(self, grace: float = 5.0) -> int:
        """SIGTERM by PID, SIGKILL after `grace` seconds; returns the exit status (-N = killed by N)."""
        if self.popen is None:
            return 0
        if self.popen.poll() is None:
            try:
                self.popen.send_signal(signal.SIGTERM)
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                log(f"{self.name} (pid {self.pid}) ignored SIGTERM for {grace}s; SIGKILL")
                self.popen.kill()
                self.popen.wait(5)
        self.returncode = self.popen.returncode
        self._eof.wait(2.0)
        self.lab._unregister_pid(self.pid)
        return self.returncode

    def output(self) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def tail(self, lines: int = 40) -> str:
        out = self.output().splitlines()[-lines:]
        return "\n".join(f"  {self.name}| {l}" for l in out) or f"  {self.name}| (no output)"


# --- namespaces --------------------------------------------------------------------------------------

class Namespace:
    def __init__(self, lab: "Lab", name: str):
        self.lab, self.name = lab, name

    def __repr__(self) -> str:
        return f"Namespace({self.name})"

    def argv(self, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.name] + list(argv)

    def run(self, argv: list[str], **kw) -> subprocess.CompletedProcess:
        return run(self.argv(argv), **kw)

    def ip(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return run(["ip", "-n", self.name, *args], **kw)

    def start(self, name: str, argv: list[str], ready: str | None = None, timeout: float = 15.0
              ) -> Process:
        return self.lab.start(name, argv, ns=self, ready=ready, timeout=timeout)

    def sysctl(self, key: str, value: str) -> None:
        self.run(["sysctl", "-q", "-w", f"{key}={value}"])

    def link_up(self, dev: str) -> None:
        self.ip("link", "set", "dev", dev, "up")

    def set_mtu(self, dev: str, mtu: int) -> None:
        self.ip("link", "set", "dev", dev, "mtu", str(mtu))

    def addr_add(self, dev: str, cidr: str) -> None:
        self.ip("addr", "add", cidr, "dev", dev)

    def mac(self, dev: str) -> str:
        out = self.ip("-j", "link", "show", "dev", dev).stdout
        return json.loads(out)[0]["address"]

    def neigh_add(self, ip: str, mac: str, dev: str) -> None:
        """A permanent neighbour entry: no ARP traffic through the link under test."""
        self.ip("neigh", "replace", ip, "lladdr", mac, "dev", dev, "nud", "permanent")

    def offloads_off(self, dev: str) -> None:
        """Checksum/segmentation offloads off: af_packet forwarding sees partial checksums otherwise."""
        self.run(["ethtool", "-K", dev, *OFFLOADS_OFF], check=False)
        self.run(["ethtool", "-K", dev, *VLAN_OFFLOADS_OFF], check=False)
        feats = self.run(["ethtool", "-k", dev]).stdout
        on = [k for k in ("rx-checksumming", "tx-checksumming", "tcp-segmentation-offload",
                          "generic-segmentation-offload", "generic-receive-offload",
                          "large-receive-offload")
              if re.search(rf"^{k}: on", feats, re.M)]
        if on:
            raise NetlabError(f"{self.name}/{dev}: offloads still on after ethtool -K: {', '.join(on)}")

    def vlan(self, parent: str, vid: int, name: str | None = None) -> str:
        """An 802.1Q subinterface `parent.vid`; without 8021q in the kernel, a BPF equivalent."""
        name = name or f"{parent}.{vid}"
        if len(name) > IFNAMSIZ:
            raise NetlabError(f"interface name {name!r} longer than {IFNAMSIZ}")
        cp = self.ip("link", "add", "link", parent, "name", name, "type", "vlan", "id", str(vid),
                     check=False)
        if cp.returncode == 0:
            self.link_up(name)
            return name
        if "Unknown device type" not in cp.stderr:
            raise NetlabError(f"ip link add {name} type vlan: {cp.stderr.strip()}")
        # No 8021q: the host end of a veth pair, tagged and untagged by tcx programs on the other end.
        inner = self.lab.ifname(f"v{vid}")
        mtu = json.loads(self.ip("-j", "link", "show", "dev", parent).stdout)[0]["mtu"]
        self.ip("link", "add", name, "mtu", str(mtu), "type", "veth", "peer", "name", inner,
                "mtu", str(mtu))
        for dev in (name, inner):
            self.offloads_off(dev)
            self.link_up(dev)
        here = os.path.dirname(os.path.abspath(__file__))
        self.start(f"vlan-bpf-{name}", [sys.executable, os.path.join(here, "vlan_bpf.py"), parent,
                                       str(vid), inner], ready=r"^vlan-bpf: ready")
        return name


# --- the lab -----------------------------------------------------------------------------------------

class Lab:
    """Owns namespaces, processes and files of one run; `with Lab() as lab:` guarantees teardown."""

    def __init__(self, prefix: str = "stl", keep_workdir: bool | None = None):
        self.run_id = secrets.token_hex(3)
        self.prefix = prefix
        self.namespaces: list[Namespace] = []
        self.processes: list[Process] = []
        self.workdir = tempfile.mkdtemp(prefix=f"stasis-{self.run_id}-")
        self.keep_workdir = (os.environ.get("NETLAB_KEEP") == "1") if keep_workdir is None else keep_workdir
        self._state_path = os.path.join(state_dir(), f"{self.run_id}.json")
        self._state = {"run_id": self.run_id, "owner": {"pid": os.getpid(),
                                                        "start": proc_start_time(os.getpid())},
                       "guard": {}, "pids": [], "namespaces": [], "root_links": [], "files": []}
        if not self.keep_workdir:
            self._state["files"].append(self.workdir)
        self._guard: subprocess.Popen | None = None
        self._old_handlers: dict[int, object] = {}
        self._torn_down = False

    # names
    def ifname(self, role: str) -> str:
        """An interface name with the run id, e.g. 'da' -> 'da-1a2b3c' (<= 15 characters)."""
        name = f"{role}-{self.run_id}"
        if len(name) > IFNAMSIZ:
            raise NetlabError(f"interface name {name!r} longer than {IFNAMSIZ}")
        return name

    def path(self, name: str) -> str:
        return os.path.join(self.workdir, name)

    def tmpfile(self, path: str) -> str:
        """Registers a file outside the workdir (e.g. a socket in /tmp) for removal at teardown."""
        self._state["files"].append(path)
        self._save()
        return path

    # lifecycle
    def __enter__(self) -> "Lab":
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            self._old_handlers[sig] = signal.signal(sig, self._on_signal)
        self._save()
        self._guard = subprocess.Popen([sys.executable, os.path.abspath(__file__), "_guard",
                                        self._state_path],
                                       stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                       start_new_session=True)
        self._state["guard"] = {"pid": self._guard.pid, "start": proc_start_time(self._guard.pid)}
        self._save()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.teardown()

    @staticmethod
    def _on_signal(signum, frame):
        raise Interrupted(signum)

    def _save(self) -> None:
        write_json_atomic(self._state_path, self._state)

    def _register_pid(self, pid: int) -> None:
        self._state["pids"].append({"pid": pid, "start": proc_start_time(pid)})
        self._save()

    def _unregister_pid(self, pid: int) -> None:
        self._state["pids"] = [p for p in self._state["pids"] if p["pid"] != pid]
        self._save()

    def teardown(self) -> None:
        if self._torn_down:
            return
        self._torn_down = True
        # A second signal must not cut the teardown short; the guardian covers a SIGKILL.
        for sig in self._old_handlers:
            signal.signal(sig, signal.SIG_IGN)
        try:
            for p in reversed(self.processes):
                try:
                    p.stop(grace=3.0)
                except Exception as e:
                    log(f"stopping {p.name}: {e}")
            errors = cleanup_state(self._state)
            for e in errors:
                log(f"teardown: {e}")
            if not errors:
                os.unlink(self._state_path)
            if self.keep_workdir:
                log(f"logs kept in {self.workdir}")
        finally:
            if self._guard is not None:
                self._guard.stdin.close()  # EOF: the guardian finds no state file and exits
                try:
                    self._guard.wait(3)
                except subprocess.TimeoutExpired:
                    pass
            for sig, h in self._old_handlers.items():
                signal.signal(sig, h)

    # resources
    def namespace(self, role: str) -> Namespace:
        name = f"{self.prefix}-{self.run_id}-{role}"
        n = 1
        while name in self._state["namespaces"]:  # a second topology in the same lab
            n += 1
            name = f"{self.prefix}-{self.run_id}-{role}{n}"
        self._state["namespaces"].append(name)  # recorded first: a half-made one is still removed
        self._save()
        run(["ip", "netns", "add", name])
        ns = Namespace(self, name)
        self.namespaces.append(ns)
        ns.ip("link", "set", "lo", "up")
        # No IPv6: no router solicitations, MLD or DAD frames crossing the link under test.
        for key in ("net.ipv6.conf.all.disable_ipv6", "net.ipv6.conf.default.disable_ipv6"):
            ns.run(["sysctl", "-q", "-w", f"{key}=1"], check=False)
        return ns

    def veth(self, ns1: Namespace, name1: str, ns2: Namespace, name2: str, mtu: int = 1500,
             offloads_off: bool = True) -> tuple[str, str]:
        """A veth pair created directly in its two namespaces (never in the root one), both ends up."""
        for n in (name1, name2):
            if len(n) > IFNAMSIZ:
                raise NetlabError(f"interface name {n!r} longer than {IFNAMSIZ}")
        run(["ip", "link", "add", name1, "netns", ns1.name, "mtu", str(mtu), "type", "veth",
             "peer", "name", name2, "netns", ns2.name, "mtu", str(mtu)])
        for ns, n in ((ns1, name1), (ns2, name2)):
            if offloads_off:
                ns.offloads_off(n)
            ns.link_up(n)
        return name1, name2

    def start(self, name: str, argv: list[str], ns: Namespace | None = None, ready: str | None = None,
              timeout: float = 15.0) -> Process:
        p = Process(self, name, argv, ns)
        self.processes.append(p)
        return p.start(ready=ready, timeout=timeout)


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "_guard":
        return _guard(argv[1])
    if argv == ["cleanup"]:
        return cleanup_stale()
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
