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
    seconds: float | None                     # event start -> first success from a wanted address
    attempts: tuple[tuple[float, str | None], ...]  # (seconds after the event's start, source seen)

    @property
    def sources(self) -> set[str | None]:
        return {src for _, src in self.attempts}


def measure_failover(pod_netns: str, event: Callable[[], object], want: Iterable[str],
                     timeout: float = 10.0, interval: float = 0.05, attempt_timeout: float = 0.3) -> Failover:
    """Run `event`; from its start, open a new connection from `pod_netns` every `interval` s (each
    in its own thread, so a slow attempt does not hide the next one) until the web server sees one
    from an address in `want`. Seconds from the event's start to that connection's answer."""
    wanted = set(want)
    attempts: list[tuple[float, str | None]] = []
    done = threading.Event()
    start = time.monotonic()

    def attempt() -> None:
        src = source_seen(pod_netns, timeout=attempt_timeout)
        attempts.append((time.monotonic() - start, src))
        if src in wanted:
            done.set()

    threads = [threading.Thread(target=event, name="failover-event")]
    threads[0].start()
    while not done.wait(interval) and time.monotonic() - start < timeout:
        t = threading.Thread(target=attempt, name="failover-attempt", daemon=True)
        t.start()
        threads.append(t)
    for t in threads:
        t.join(timeout=attempt_timeout + 1)
    firsts = [at for at, src in attempts if src in wanted]
    return Failover(min(firsts) if firsts else None, tuple(sorted(attempts, key=lambda a: a[0])))
