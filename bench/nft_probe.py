"""A commit-time probe of nftables set elements: when did a namespace's kernel get an element?

`CommitProbe(netns)` joins the namespace's NFNLGRP_NFTABLES netlink group (the multicast group
`nft monitor` listens to) on a socket of its own and reads it on a thread: the kernel sends one
NFT_MSG_NEWSETELEM notification per added element while it commits the transaction, so the time the
thread reads it is the commit time (plus the scheduling of one thread; nothing is polled, and no
agent or libnftables cache is touched). `nft monitor` 1.0.6 prints no element of a set that has
concatenated keys, hence netlink directly.

Elements are matched by their key bytes, encoded here the way nft stores them: each field of a
concatenation in a 4-byte-aligned slot; `mark` host byte order, addresses and ports network order,
`inet_proto` one byte. Only the elements someone waits for are recorded (`expect` first).
"""

from __future__ import annotations

import ctypes
import ipaddress
import os
import socket
import struct
import threading
import time

NETLINK_NETFILTER, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, NFNLGRP_NFTABLES = 12, 270, 1, 7
NFT_MSG_NEWSETELEM = (10 << 8) | 12
SET_NAME, ELEMENTS, LIST_ELEM, ELEM_KEY, DATA_VALUE = 2, 3, 1, 1, 1
_HDR, _ATTR = struct.Struct("=IHHII"), struct.Struct("=HH")
PROTOS = {"tcp": 6, "udp": 17, "sctp": 132}


def key(fields: str, *values: str | int) -> bytes:
    """The key bytes of one element: `fields` like "mark.ipv4_addr", values in the same order."""
    out = b""
    for kind, value in zip(fields.split("."), values, strict=True):
        if kind == "mark":
            raw = struct.pack("=I", int(value))
        elif kind == "ipv4_addr":
            raw = ipaddress.IPv4Address(str(value)).packed
        elif kind == "inet_proto":
            raw = bytes([PROTOS[str(value)] if isinstance(value, str) else value])
        elif kind == "inet_service":
            raw = struct.pack(">H", int(value))
        else:
            raise ValueError(f"key field {kind!r}")
        out += raw + bytes(-len(raw) % 4)
    return out


def attrs(data: bytes, off: int, end: int) -> dict[int, tuple[int, int]]:
    """Netlink attributes in data[off:end]: type -> (payload start, payload end) (last one wins)."""
    found: dict[int, tuple[int, int]] = {}
    while off + 4 <= end:
        alen, atype = _ATTR.unpack_from(data, off)
        if alen < 4:
            break
        found[atype & 0x3FFF] = (off + 4, off + alen)
        off += (alen + 3) & ~3
    return found


def new_elements(data: bytes) -> list[tuple[str, bytes]]:
    """(set name, key bytes) of every element added in the netlink messages of one datagram."""
    out: list[tuple[str, bytes]] = []
    off = 0
    while off + _HDR.size <= len(data):
        length, mtype = _HDR.unpack_from(data, off)[:2]
        if length < _HDR.size:
            break
        if mtype == NFT_MSG_NEWSETELEM:
            top = attrs(data, off + _HDR.size + 4, off + length)
            if SET_NAME in top and ELEMENTS in top:
                name = data[slice(*top[SET_NAME])].rstrip(b"\0").decode()
                s, e = top[ELEMENTS]
                for ls, le in _all(data, s, e, LIST_ELEM):
                    k = attrs(data, ls, le).get(ELEM_KEY)
                    v = attrs(data, *k).get(DATA_VALUE) if k else None
                    if v:
                        out.append((name, data[slice(*v)]))
        off += (length + 3) & ~3
    return out


def _all(data: bytes, off: int, end: int, want: int) -> list[tuple[int, int]]:
    found = []
    while off + 4 <= end:
        alen, atype = _ATTR.unpack_from(data, off)
        if alen < 4:
            break
        if atype & 0x3FFF == want:
            found.append((off + 4, off + alen))
        off += (alen + 3) & ~3
    return found


def _socket_in(netns: str) -> socket.socket:
    """A NETLINK_NETFILTER socket of /run/netns/<netns>, made on a throw-away thread (setns is per thread)."""
    box: list[socket.socket | BaseException] = []

    def make() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/run/netns/{netns}", os.O_RDONLY | os.O_CLOEXEC)
            try:
                if libc.setns(fd, 0x40000000) != 0:
                    raise OSError(ctypes.get_errno(), f"setns {netns}")
            finally:
                os.close(fd)
            box.append(socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER))
        except BaseException as exc:  # handed to the caller
            box.append(exc)
    t = threading.Thread(target=make)
    t.start()
    t.join()
    if isinstance(box[0], BaseException):
        raise box[0]
    return box[0]


class CommitProbe:
    """Records when each awaited element of one namespace's nftables is committed."""

    def __init__(self, netns: str) -> None:
        self.netns = netns
        self.sock = _socket_in(netns)
        self.sock.setsockopt(socket.SOL_SOCKET, 33, 32 << 20)  # SO_RCVBUFFORCE: a big commit does not overflow
        self.sock.bind((0, 0))
        self.sock.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, NFNLGRP_NFTABLES)
        self.sock.settimeout(0.2)
        self.lost = 0
        self._want: set[tuple[str, bytes]] = set()
        self._seen: dict[tuple[str, bytes], float] = {}
        self._lock = threading.Lock()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name=f"probe-{netns}", daemon=True)
        self._thread.start()

    def expect(self, set_name: str, elem: bytes) -> None:
        with self._lock:
            self._want.add((set_name, elem))
            self._seen.pop((set_name, elem), None)

    def seen(self, set_name: str, elem: bytes) -> float | None:
        with self._lock:
            return self._seen.get((set_name, elem))

    def _run(self) -> None:
        while not self._stop:
            try:
                data = self.sock.recv(1 << 20)
            except TimeoutError:
                continue
            except OSError:  # ENOBUFS: notifications were dropped (a bulk commit); counted
                self.lost += 1
                continue
            now = time.perf_counter()
            found = new_elements(data)
            with self._lock:
                for item in found:
                    if item in self._want and item not in self._seen:
                        self._seen[item] = now

    def close(self) -> None:
        self._stop = True
        self._thread.join(timeout=5)
        self.sock.close()
