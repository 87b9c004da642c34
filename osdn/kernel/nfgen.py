"""The nftables ruleset generation of a network namespace (NFT_MSG_GETGEN).

Side effects: a `GenerationReader` holds one NETLINK_NETFILTER socket, opened in the namespace of
the thread that first reads (use it on an `Nft` worker: `Nft.generation()`), and sends one netlink
request per read. The kernel bumps the generation once per committed nftables transaction in the
namespace, whoever commits it (any table, any program); reads (`list`, `get element`) leave it
alone. So an unchanged generation proves that nothing changed any nft table since it was read.

The socket is kept open on purpose: a NETLINK_NETFILTER socket opened and closed per read right
after a transaction that deleted a chain made that read wait 8-15 ms for the kernel (measured on
Debian 12's 6.1 kernel; `docs/performance.md`); a kept socket answers in ~20 µs.
"""

from __future__ import annotations

import os
import socket
import struct

from osdn.errors import KernelError

NETLINK_NETFILTER = 12
NFNL_SUBSYS_NFTABLES = 10
NFT_MSG_NEWGEN, NFT_MSG_GETGEN = 15, 16
NLM_F_REQUEST = 1
NLMSG_ERROR = 2
NFTA_GEN_ID = 1
_HDR = struct.Struct("=IHHII")  # nlmsghdr: len, type, flags, seq, pid
_NFGEN = struct.Struct("=BBH")  # nfgenmsg: family, version, res_id


class GenerationReader:
    """Reads the generation over one kept socket; not thread-safe (one per `Nft` worker)."""

    def __init__(self) -> None:
        self._sock: socket.socket | None = None
        self._seq = 0

    def read(self) -> int:
        """The current nftables generation id of the namespace the socket was opened in."""
        if self._sock is None:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
            sock.settimeout(5)
            sock.bind((0, 0))
            self._sock = sock
        self._seq = self._seq % 0xFFFFFFFF + 1
        body = _NFGEN.pack(socket.AF_UNSPEC, 0, 0)
        try:
            self._sock.send(_HDR.pack(_HDR.size + len(body), (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN,
                                      NLM_F_REQUEST, self._seq, 0) + body)
            while True:  # a reply to an earlier, timed-out request may still be queued: skip it
                data = self._sock.recv(8192)
                if len(data) >= _HDR.size and _HDR.unpack_from(data)[3] == self._seq:
                    return parse_generation(data)
        except OSError as exc:
            self.close()  # a socket in an unknown state is not reused
            raise KernelError(f"nftables generation request failed: {exc}") from exc

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def parse_generation(data: bytes) -> int:
    """Pure: the generation id in a NEWGEN reply (raises `KernelError` on an error reply)."""
    length, mtype, _, _, _ = _HDR.unpack_from(data)
    if mtype == NLMSG_ERROR:
        (err,) = struct.unpack_from("=i", data, _HDR.size)
        raise KernelError(f"nftables generation request failed: {os.strerror(-err)}")
    if mtype != (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN:
        raise KernelError(f"nftables generation request: unexpected netlink message type {mtype:#x}")
    off = _HDR.size + _NFGEN.size
    while off + 4 <= length:
        alen, atype = struct.unpack_from("=HH", data, off)
        if atype & 0x3FFF == NFTA_GEN_ID:
            return int(struct.unpack_from(">I", data, off + 4)[0])
        off += (alen + 3) & ~3
    raise KernelError("nftables generation reply without NFTA_GEN_ID")
