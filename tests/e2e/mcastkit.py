"""Real UDP group traffic between lab pods: who receives what one pod sends to a group."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid

from labkit import Lab

from osdn.kernel import netns

GROUP, PORT = "239.7.7.7", 7777
ENABLE = "netnamespace.network.openshift.io/multicast-enabled"
Pods = dict[str, tuple[str, str]]  # name -> (IP, netns)


def _receive(ip: str, payload: bytes, ready: threading.Barrier, window: float, got: list[bool]) -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("", PORT))
        s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(GROUP) + socket.inet_aton(ip))
        s.settimeout(0.1)
        ready.wait(5)
        deadline = time.monotonic() + window
        while time.monotonic() < deadline and not got:
            with contextlib.suppress(TimeoutError):
                if s.recv(200) == payload:
                    got.append(True)
    finally:
        s.close()


def _send(payload: bytes, count: int = 8) -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        for _ in range(count):
            s.sendto(payload, (GROUP, PORT))
            time.sleep(0.05)
    finally:
        s.close()


def deliveries(pods: Pods, sender: str, window: float = 1.2) -> set[str]:
    """Names of the pods (all but `sender` listen, each joined to GROUP) that got `sender`'s packets."""
    listeners = {n: v for n, v in pods.items() if n != sender}
    payload = uuid.uuid4().bytes
    ready = threading.Barrier(len(listeners) + 1)
    got: dict[str, list[bool]] = {n: [] for n in listeners}
    threads = [threading.Thread(target=netns.run_in_netns, args=(ns, _receive, ip, payload, ready, window, got[n]))
               for n, (ip, ns) in listeners.items()]
    for t in threads:
        t.start()
    try:
        ready.wait(5)
        netns.run_in_netns(pods[sender][1], _send, payload)
    finally:
        for t in threads:
            t.join()
    return {n for n, flag in got.items() if flag}


def expect(pods: Pods, sender: str, want: set[str], within: float = 10.0) -> None:
    """`sender`'s group traffic reaches exactly `want` (retried: a change takes a sync to land)."""
    deadline = time.monotonic() + within
    while True:
        got = deliveries(pods, sender)
        if got == want or time.monotonic() > deadline:
            break
    assert got == want, f"multicast from {sender}: delivered to {sorted(got)}, want {sorted(want)}"


def expect_stops(pods: Pods, sender: str, within: float = 10.0) -> None:
    """`sender`'s group traffic reaches nobody, soon and twice in a row (not a lucky lost round)."""
    deadline = time.monotonic() + within
    while deliveries(pods, sender):
        assert time.monotonic() < deadline, f"multicast from {sender} still delivered after {within}s"
    assert deliveries(pods, sender) == set()


def enable(lab: Lab, project: str, on: bool = True) -> None:
    lab.cli("annotate", "netnamespace", project, f"{ENABLE}=true" if on else f"{ENABLE}-", "--overwrite")
