#!/usr/bin/env python3
"""trace_gen: a paced raw-socket traffic generator that pauses like a frozen node, and a capture with
kernel receive timestamps. Standard library only; run inside a namespace (`ip netns exec`).

    trace_gen.py gen SPEC.json   # sends the trace, pauses at F until R is written, writes its send times
    trace_gen.py cap SPEC.json   # records (seq, kernel rx time) until the stop file appears

Frames are UDP/IPv4 in Ethernet, FRAME_LEN bytes without FCS; the payload starts with MAGIC, the
sequence number (u32) and the scheduled send offset (u64 ns from the start instant S). All times are
CLOCK_REALTIME ns, the clock of `stasis freeze --at` and `resume --at`.
"""
from __future__ import annotations

import json
import os
import socket
import struct
import sys
import time

MAGIC = b"STFR"
UDP_SPORT, UDP_DPORT = 40000, 40001
ETH_P_IP = 0x0800
ETH_P_ALL = 0x0003
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
SPIN_NS = 300_000  # sleep until this long before a send, then busy-wait


def ip_checksum(hdr: bytes) -> int:
    s = sum(struct.unpack(f"!{len(hdr) // 2}H", hdr))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def build_frame(seq: int, offset_ns: int, frame_len: int, src_mac: str, dst_mac: str,
                src_ip: str, dst_ip: str) -> bytes:
    eth = bytes.fromhex(dst_mac.replace(":", "")) + bytes.fromhex(src_mac.replace(":", "")) + \
        struct.pack("!H", ETH_P_IP)
    ip_len = frame_len - 14
    udp_len = ip_len - 20
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, ip_len, seq & 0xFFFF, 0x4000, 64, 17, 0,
                      socket.inet_aton(src_ip), socket.inet_aton(dst_ip))
    hdr = hdr[:10] + struct.pack("!H", ip_checksum(hdr)) + hdr[12:]
    udp = struct.pack("!HHHH", UDP_SPORT, UDP_DPORT, udp_len, 0)  # checksum 0: none (IPv4)
    payload = MAGIC + struct.pack("!IQ", seq, offset_ns)
    payload += bytes(udp_len - 8 - len(payload))
    frame = eth + hdr + udp + payload
    assert len(frame) == frame_len, (len(frame), frame_len)
    return frame


def parse_frame(buf: bytes) -> tuple[int, int] | None:
    """(seq, scheduled offset) of one of our frames (starting at the Ethernet header), else None."""
    if len(buf) < 14 + 20 + 8 + 16 or buf[12:14] != b"\x08\x00" or buf[23] != 17:
        return None
    ihl = (buf[14] & 0x0F) * 4
    udp = 14 + ihl
    if struct.unpack("!H", buf[udp + 2:udp + 4])[0] != UDP_DPORT:
        return None
    p = udp + 8
    if buf[p:p + 4] != MAGIC:
        return None
    seq, off = struct.unpack("!IQ", buf[p + 4:p + 16])
    return seq, off


def wait_until(t_ns: int) -> None:
    """Sleeps until SPIN_NS before t_ns, then spins on CLOCK_REALTIME."""
    while True:
        d = t_ns - time.time_ns()
        if d <= 0:
            return
        if d > SPIN_NS:
            time.sleep((d - SPIN_NS) / 1e9)


def pin(spec: dict) -> None:
    """Keeps the helpers on spec["cpu"] (0), off the daemon's worker lcore (1) on a 2-CPU machine."""
    if spec.get("cpu") is not None and len(os.sched_getaffinity(0)) > 1:
        try:
            os.sched_setaffinity(0, {spec["cpu"]})
        except OSError:
            pass


def generate(spec: dict) -> int:
    pin(spec)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
    s.bind((spec["iface"], 0))
    S, F = spec["start_ns"], spec.get("freeze_ns")
    freeze_file = spec.get("freeze_file")  # F may come later, in this file (a controller chose it)
    offsets = spec["offsets_ns"]
    frames = [build_frame(i, off, spec["frame_len"], spec["src_mac"], spec["dst_mac"], spec["src_ip"],
                          spec["dst_ip"]) for i, off in enumerate(offsets)]
    sent: list[tuple[int, int, int]] = []  # (seq, send ns just before send, phase 0 before F / 1 after R)
    shift = None
    print("gen: ready", flush=True)
    for i, off in enumerate(offsets):
        t = S + off
        if F is None and freeze_file and os.path.exists(freeze_file):
            with open(freeze_file) as f:
                F = int(f.read().strip())
            print(f"gen: F is {F}, {F - time.time_ns()} ns from now", flush=True)
        if F is not None and t >= F and shift is None:
            # Frozen: everything scheduled from F on waits for the resume instant R.
            print(f"gen: paused at F after {len(sent)} frames", flush=True)
            while not os.path.exists(spec["resume_file"]):
                time.sleep(0.001)
            with open(spec["resume_file"]) as f:
                R = int(f.read().strip())
            shift = R - F
            print(f"gen: resuming at R (R - F = {shift} ns)", flush=True)
        if shift is not None:
            t += shift
        wait_until(t)
        now = time.time_ns()
        s.send(frames[i])
        sent.append((i, now, 0 if shift is None else 1))
    tmp = spec["gen_out"] + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"sent": sent, "shift": shift}, f)
    os.replace(tmp, spec["gen_out"])
    print(f"gen: done, {len(sent)} frames", flush=True)
    return 0


def capture(spec: dict) -> int:
    pin(spec)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    s.bind((spec["cap_iface"], 0))
    s.settimeout(0.1)
    # A bound UDP socket, never read: the stack has a receiver, so it sends no ICMP port unreachable
    # back through the link; a full buffer drops silently.
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    u.bind((spec["dst_ip"], UDP_DPORT))
    got: list[tuple[int, int, int]] = []  # (seq, kernel rx ns, python rx ns)
    other = 0
    print("cap: ready", flush=True)
    while True:
        try:
            data, anc, _flags, addr = s.recvmsg(4096, socket.CMSG_SPACE(16))
        except socket.timeout:
            if os.path.exists(spec["stop_file"]):
                break
            continue
        if addr[2] == socket.PACKET_OUTGOING:
            continue
        py_ns = time.time_ns()
        ts = None
        for level, typ, val in anc:
            if level == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS:
                sec, nsec = struct.unpack("qq", val[:16])
                ts = sec * 1_000_000_000 + nsec
        p = parse_frame(data)
        if p is None:
            other += 1
            continue
        got.append((p[0], ts if ts is not None else -1, py_ns))
    tmp = spec["cap_out"] + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"got": got, "other": other}, f)
    os.replace(tmp, spec["cap_out"])
    print(f"cap: done, {len(got)} frames, {other} others", flush=True)
    return 0


def main() -> int:
    if len(sys.argv) != 3 or sys.argv[1] not in ("gen", "cap"):
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[2]) as f:
        spec = json.load(f)
    return generate(spec) if sys.argv[1] == "gen" else capture(spec)


if __name__ == "__main__":
    sys.exit(main())
