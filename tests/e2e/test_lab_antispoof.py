"""Anti-spoofing with real frames in a 2-node networkpolicy lab.

`db` (node1) accepts only pods labelled role=client (NetworkPolicy). `good` (node2) is a client;
`bad` (node2) and `bad1` (node1) are not. From inside bad/bad1, hand-made Ethernet frames (an
AF_PACKET socket on the pod's eth0) carry UDP to a listener in db: with good's IP, with a forged
MAC, with both, and an ARP reply claiming good's IP. None may arrive, the sender node's
`drop_spoof` counter in `table bridge osdn` must count them, and afterwards the same frame sent
honestly by good (the control, proving the frames and the path work) still arrives, so the dropped
frames poisoned neither the bridge's FDB nor db's neighbour table.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import time
from collections.abc import Iterator

import pytest
from labcheck import counter
from labkit import Lab, make_lab, needs_agent

from osdn.kernel import netns
from osdn.kernel.links import pod_mac

pytestmark = [pytest.mark.e2e, needs_agent]
UDP_PORT = 9999
FORGED_MAC = "0a:58:de:ad:be:ef"
POLICY = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
          "metadata": {"name": "db-from-clients", "namespace": "shop"},
          "spec": {"podSelector": {"matchLabels": {"app": "db"}},
                   "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "client"}}}]}]}}
Pods = dict[str, tuple[str, str]]
NODE_OF = {"db": "node1", "good": "node2", "bad": "node2", "bad1": "node1"}


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    yield from make_lab("sp", "networkpolicy", 2)


@pytest.fixture(scope="module")
def pods(lab: Lab) -> Pods:
    labels = {"db": {"app": "db"}, "good": {"role": "client"}, "bad": {}, "bad1": {}}
    out = {name: lab.pod(name, "shop", NODE_OF[name], labels[name]) for name in NODE_OF}
    lab.client.create(POLICY, namespace="shop")
    assert not lab.can_connect(out["bad"][1], out["db"][0], want=False), "policy must block bad"
    assert lab.can_connect(out["good"][1], out["db"][0])
    return out


# -- frames ---------------------------------------------------------------------------------------

def _mac(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))


def _checksum(header: bytes) -> int:
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def udp_frame(src_mac: str, dst_mac: str, src_ip: str, dst_ip: str, payload: bytes) -> bytes:
    udp = struct.pack("!HHHH", 40000, UDP_PORT, 8 + len(payload), 0) + payload  # checksum 0: none (IPv4)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0x4000, 64, socket.IPPROTO_UDP, 0,
                     ipaddress.IPv4Address(src_ip).packed, ipaddress.IPv4Address(dst_ip).packed)
    ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
    return _mac(dst_mac) + _mac(src_mac) + b"\x08\x00" + ip + udp


def arp_reply(src_mac: str, claimed_ip: str, dst_mac: str, dst_ip: str) -> bytes:
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 2, _mac(src_mac), ipaddress.IPv4Address(claimed_ip).packed,
                      _mac(dst_mac), ipaddress.IPv4Address(dst_ip).packed)
    return _mac(dst_mac) + _mac(src_mac) + b"\x08\x06" + arp


def send_frames(ns: str, frames: list[bytes]) -> None:
    """Send raw frames out of eth0 inside pod namespace `ns` (what a compromised pod can do)."""
    def send() -> None:
        with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
            s.bind(("eth0", 0))
            for frame in frames:
                s.send(frame)

    netns.run_in_netns(ns, send)


def listen_udp(ns: str) -> socket.socket:
    def bind() -> socket.socket:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", UDP_PORT))
        return s

    return netns.run_in_netns(ns, bind)


def receive_until(sock: socket.socket, marker: bytes, wait: float = 10.0) -> list[bytes]:
    """Payloads received until `marker` arrives (plus whatever follows right behind it)."""
    got: list[bytes] = []
    deadline = time.monotonic() + wait
    while marker not in got and time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            got.append(sock.recv(2048))
        except TimeoutError:
            break
    sock.settimeout(0.3)
    try:
        while True:
            got.append(sock.recv(2048))
    except TimeoutError:
        pass
    return got


def neighbour_mac(ns: str, ip: str) -> str:
    out = netns.run_cmd(ns, ["ip", "neigh", "show", ip]).stdout.split()
    return out[out.index("lladdr") + 1] if "lladdr" in out else ""


# -- the test -------------------------------------------------------------------------------------

@pytest.mark.parametrize("attacker", ["bad", "bad1"], ids=["across-nodes", "same-node"])
def test_spoofed_frames_are_dropped_and_counted(lab: Lab, pods: Pods, attacker: str) -> None:
    (db_ip, db_ns), (good_ip, good_ns), (bad_ip, bad_ns) = pods["db"], pods["good"], pods[attacker]
    db_mac, good_mac, bad_mac = pod_mac(db_ip), pod_mac(good_ip), pod_mac(bad_ip)
    node = NODE_OF[attacker]
    lab.get(good_ns, db_ip)  # db now has a neighbour entry for good
    assert neighbour_mac(db_ns, good_ip) == good_mac
    at_db, at_good = listen_udp(db_ns), listen_udp(good_ns)
    try:
        before = counter(lab, node, "bridge", "drop_spoof")
        spoofed = [  # each would pass the policy if it were not dropped as spoofed
            udp_frame(FORGED_MAC, good_mac, bad_ip, good_ip, b"forged source MAC"),
            udp_frame(bad_mac, db_mac, good_ip, db_ip, b"forged source IP"),
            udp_frame(good_mac, db_mac, good_ip, db_ip, b"forged IP and MAC"),  # would also teach the FDB
            arp_reply(bad_mac, good_ip, db_mac, db_ip),
        ]
        send_frames(bad_ns, spoofed)
        # controls: the same kinds of frames, honest, arrive
        honest_db, honest_good = f"good -> db after {attacker}".encode(), f"{attacker} -> good".encode()
        send_frames(good_ns, [udp_frame(good_mac, db_mac, good_ip, db_ip, honest_db)])
        send_frames(bad_ns, [udp_frame(bad_mac, good_mac, bad_ip, good_ip, honest_good)])
        got = receive_until(at_db, honest_db) + receive_until(at_good, honest_good)
    finally:
        at_db.close()
        at_good.close()
    assert got == [honest_db, honest_good], f"spoofed frames from {attacker} arrived (or a control did not): {got}"
    assert counter(lab, node, "bridge", "drop_spoof") >= before + len(spoofed)
    assert neighbour_mac(db_ns, good_ip) == good_mac, "db's ARP entry for good was poisoned"
    assert lab.get(good_ns, db_ip).startswith(f"shop/db on port 80: you are {good_ip}:")
