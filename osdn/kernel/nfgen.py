"""The nftables ruleset generation of the calling thread's network namespace (NFT_MSG_GETGEN).

Side effects: one netlink request on a NETLINK_NETFILTER socket, opened and closed per call in the
calling thread's namespace (call it on an `Nft` worker: `Nft.generation()`). The kernel bumps the
generation once per committed nftables transaction in the namespace, whoever commits it (any table,
any program); reads (`list`, `get element`) leave it alone. So an unchanged generation proves that
nothing changed any nft table since it was read.
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


def read_generation() -> int:
    """The current nftables generation id of this thread's network namespace."""
    body = _NFGEN.pack(socket.AF_UNSPEC, 0, 0)
    msg = _HDR.pack(_HDR.size + len(body), (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN, NLM_F_REQUEST, 1, 0) + body
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER) as sock:
        sock.settimeout(5)
        sock.bind((0, 0))
        sock.send(msg)
        data = sock.recv(8192)
    return parse_generation(data)


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
