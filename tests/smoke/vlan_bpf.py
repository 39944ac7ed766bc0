#!/usr/bin/env python3
"""A VLAN subinterface made of a veth pair and two tcx BPF programs, for kernels without 8021q.

    vlan_bpf.py WIRE VID INNER

Frames entering INNER (sent by the host end of its veth pair) get an 802.1Q tag VID and leave on WIRE;
tagged frames with VID arriving on WIRE lose their tag and leave on INNER (so the host end receives them).
Other frames on WIRE go on to the kernel. Runs in the namespace of WIRE and INNER, prints
"vlan-bpf: ready" once attached and holds the BPF links until SIGTERM (closing them detaches them).
Needs Linux >= 6.6 (tcx); where the kernel has 8021q, netlab uses real VLAN devices instead.
Standard library only: the programs are a dozen hand-assembled eBPF instructions.
"""
import ctypes
import os
import signal
import socket
import struct
import sys

SYS_BPF = 321  # x86_64
BPF_PROG_LOAD, BPF_LINK_CREATE = 5, 28
BPF_PROG_TYPE_SCHED_CLS = 3
BPF_TCX_INGRESS = 46
HELPER_VLAN_PUSH, HELPER_VLAN_POP, HELPER_REDIRECT = 18, 19, 23
SKB_VLAN_PRESENT, SKB_VLAN_TCI = 20, 24  # offsets in struct __sk_buff
TCX_NEXT = -1
ETH_P_8021Q_BE = 0x0081  # htons(0x8100) as a little-endian register value

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def mov_reg(dst, src): return insn(0xBF, dst, src)
def mov_imm(dst, imm): return insn(0xB7, dst, imm=imm)
def ldx_w(dst, src, off): return insn(0x61, dst, src, off)
def and_imm(dst, imm): return insn(0x57, dst, imm=imm)
def jeq_imm(dst, imm, off): return insn(0x15, dst, off=off, imm=imm)
def jne_imm(dst, imm, off): return insn(0x55, dst, off=off, imm=imm)
def call(helper): return insn(0x85, imm=helper)
def exit_(): return insn(0x95)


def push_prog(vid: int, wire_ifindex: int) -> bytes:
    """INNER ingress: tag with vid, redirect to WIRE egress."""
    return b"".join([
        mov_imm(2, ETH_P_8021Q_BE), mov_imm(3, vid), call(HELPER_VLAN_PUSH),  # r1 is still ctx
        mov_imm(1, wire_ifindex), mov_imm(2, 0), call(HELPER_REDIRECT),
        exit_(),
    ])


def pop_prog(vid: int, inner_ifindex: int) -> bytes:
    """WIRE ingress: frames tagged vid lose the tag and go to INNER egress; others go on (TCX_NEXT)."""
    return b"".join([
        mov_reg(6, 1),
        ldx_w(2, 6, SKB_VLAN_PRESENT), jeq_imm(2, 0, 9),
        ldx_w(2, 6, SKB_VLAN_TCI), and_imm(2, 0xFFF), jne_imm(2, vid, 6),
        mov_reg(1, 6), call(HELPER_VLAN_POP),
        mov_imm(1, inner_ifindex), mov_imm(2, 0), call(HELPER_REDIRECT),
        exit_(),
        mov_imm(0, TCX_NEXT), exit_(),
    ])


def bpf(cmd: int, attr: ctypes.Array) -> int:
    fd = _libc.syscall(SYS_BPF, cmd, ctypes.byref(attr), ctypes.sizeof(attr))
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"bpf({cmd}): {os.strerror(err)}")
    return fd


def load(name: str, code: bytes) -> int:
    insns = ctypes.create_string_buffer(code, len(code))
    license_ = ctypes.create_string_buffer(b"GPL")
    log = ctypes.create_string_buffer(65536)
    attr = ctypes.create_string_buffer(128)
    struct.pack_into("<IIQQIIQ", attr, 0, BPF_PROG_TYPE_SCHED_CLS, len(code) // 8,
                     ctypes.addressof(insns), ctypes.addressof(license_), 1, len(log),
                     ctypes.addressof(log))
    struct.pack_into("16s", attr, 48, name.encode()[:15])
    try:
        return bpf(BPF_PROG_LOAD, attr)
    except OSError as e:
        raise OSError(e.errno, f"{e.strerror}; verifier log:\n{log.value.decode(errors='replace')}")


def attach_ingress(prog_fd: int, ifindex: int) -> int:
    attr = ctypes.create_string_buffer(64)
    struct.pack_into("<IIII", attr, 0, prog_fd, ifindex, BPF_TCX_INGRESS, 0)
    return bpf(BPF_LINK_CREATE, attr)


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    wire, vid, inner = argv[0], int(argv[1]), argv[2]
    wire_ix, inner_ix = socket.if_nametoindex(wire), socket.if_nametoindex(inner)
    fds = [
        attach_ingress(load(f"vpush{vid}", push_prog(vid, wire_ix)), inner_ix),
        attach_ingress(load(f"vpop{vid}", pop_prog(vid, inner_ix)), wire_ix),
    ]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"vlan-bpf: ready vid {vid} {inner} <-> {wire} (links {fds})", flush=True)
    while True:
        signal.pause()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
