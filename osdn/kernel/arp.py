"""Gratuitous ARP: announce that an address moved to this interface (egress IP takeover).

`garp_frames` (pure) builds the two announcements `arping -A` and `arping -U` send: an ARP reply
and an ARP request, both with sender = target = the address, to the broadcast MAC. Neighbours
that cache the address update their entry at once (Linux overrides its lock time for a gratuitous
ARP), so traffic to an egress IP follows it to its new node without waiting for the cache to age.
`send_frames` writes frames on one interface with an AF_PACKET socket; it must run on a thread
inside the interface's namespace (`links.with_netlink` / `netns.run_in_netns`).
"""

from __future__ import annotations

import ipaddress
import socket
import struct

from osdn.errors import KernelError

ETH_P_ARP = 0x0806
BROADCAST = b"\xff" * 6
ARP_REQUEST, ARP_REPLY = 1, 2


def _mac_bytes(mac: str) -> bytes:
    raw = bytes(int(part, 16) for part in mac.split(":"))
    if len(raw) != 6:
        raise ValueError(f"MAC address {mac!r}: want 6 bytes")
    return raw


def garp_frames(mac: str, ip: str) -> list[bytes]:
    """Pure: Ethernet frames of a gratuitous ARP reply and request for `ip` at `mac`."""
    src, addr = _mac_bytes(mac), ipaddress.IPv4Address(ip).packed
    frames = []
    for op, target_mac in ((ARP_REPLY, BROADCAST), (ARP_REQUEST, b"\x00" * 6)):
        arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, src, addr, target_mac, addr)
        frames.append(BROADCAST + src + struct.pack("!H", ETH_P_ARP) + arp)
    return frames


def send_frames(ifname: str, frames: list[bytes]) -> None:
    """Send raw Ethernet `frames` on `ifname` of the calling thread's namespace."""
    try:
        with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP)) as s:
            s.bind((ifname, 0))
            for frame in frames:
                s.send(frame)
    except OSError as exc:
        raise KernelError(f"gratuitous ARP on {ifname!r}: {exc.strerror or exc}") from exc
