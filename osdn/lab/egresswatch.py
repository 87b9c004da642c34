"""Watch egress IPs from outside the cluster: which source address the lab's web server sees.

Role: the evidence for egress IP tests and `bench/egress.py`. `source_seen` opens one connection from
a pod's namespace to the outside web server (which answers "you are IP:PORT") and returns the source
address the server saw. `Capture` runs tcpdump in the web server's namespace and records the source of
every connection attempt (SYN) that reaches the outside, whatever the client saw: proof that nothing
left from a wrong address. `measure_failover` times an event (a node failing) until the first
successful connection seen from an expected address.
"""

from __future__ import annotations

import re
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from osdn.kernel import netns

WEB = "203.0.113.80"
_SOURCE = re.compile(r"you are ([0-9.]+):\d+")
_SYN = re.compile(r" IP ([0-9.]+)\.\d+ > [0-9.]+\.80: Flags \[S\]")


def source_seen(pod_netns: str, server: str = WEB, timeout: float = 0.5) -> str | None:
    """The source address the web server saw for one new connection from `pod_netns` (None: failed)."""
    def fetch() -> str | None:
        try:
            with socket.create_connection((server, 80), timeout=timeout) as s:
                s.settimeout(timeout)
                s.sendall(f"GET / HTTP/1.0\r\nHost: {server}\r\n\r\n".encode())
                data = b""
                while chunk := s.recv(4096):
                    data += chunk
        except OSError:
            return None
        found = _SOURCE.search(data.decode(errors="replace"))
        return found.group(1) if found else None

    return netns.run_in_netns(pod_netns, fetch)


@dataclass
class Capture:
    """tcpdump in the outside web server's namespace: the source address of every SYN to port 80."""

    web_netns: str
    sources: list[tuple[float, str]] = field(default_factory=list)
    _proc: subprocess.Popen[str] | None = None
    _thread: threading.Thread | None = None

    def __enter__(self) -> Capture:
        argv = ["tcpdump", "-n", "-l", "-i", "eth0", "tcp dst port 80 and tcp[tcpflags] & tcp-syn != 0"]
        self._proc = netns.spawn_in_netns(self.web_netns, argv, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True)
        assert self._proc.stderr is not None
        self._proc.stderr.readline()  # "listening on eth0 ...": the capture is running
        self._thread = threading.Thread(target=self._read, name="egress-capture", daemon=True)
        self._thread.start()
        return self

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            found = _SYN.search(line)
            if found:
                self.sources.append((time.time(), found.group(1)))

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            time.sleep(0.2)  # let the last packets be printed
            self._proc.terminate()
            self._proc.wait(timeout=5)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def seen(self) -> set[str]:
        return {src for _, src in self.sources}


@dataclass(frozen=True)
class Failover:
    seconds: float | None           # event start -> first success from a wanted address (None: never)
    sources: tuple[str | None, ...]  # what each attempt saw, in order (None: failed)


def measure_failover(pod_netns: str, event: Callable[[], object], want: Iterable[str],
                     timeout: float = 10.0, interval: float = 0.02) -> Failover:
    """Run `event`, then open a connection from `pod_netns` every `interval` s until the web server
    sees one from an address in `want`; the time from the event's start."""
    wanted = set(want)
    seen: list[str | None] = []
    start = time.monotonic()
    event()
    while time.monotonic() - start < timeout:
        src = source_seen(pod_netns, timeout=0.2)
        seen.append(src)
        if src in wanted:
            return Failover(time.monotonic() - start, tuple(seen))
        time.sleep(interval)
    return Failover(None, tuple(seen))
