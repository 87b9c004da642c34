"""What the kernel does with real traffic in a local lab: TCP probes and osdn's drop counters.

Role: the kernel side of `osdn adm verify` and of online `osdn adm trace`. `observe_connect` opens a
TCP connection from inside a lab namespace (a pod's, or a node's) and says what happened;
`observe_counters` reads the named counters of osdn's nft tables (`table inet osdn`, `table bridge
osdn`) in a node namespace. Both act only inside the namespace they are given (never the host's root
namespace: `run_in_netns` and `Nft` refuse it) and send packets only to the address given.

Outcomes of a probe: `connected` (handshake done), `refused` (a RST came back: the network delivered
the SYN and nothing listens on that port), `timeout` (no answer: dropped somewhere), `unreachable`
(the kernel had no route or got an ICMP error), `error` (the probe itself failed, e.g. the
namespace is gone). The first two mean the connection *reached* the destination; `timeout` and
`unreachable` mean it did not. osdn drops policy-denied packets silently, so a denied connection
is a timeout.

`classify_*` and `compute_counter_deltas` are pure; the `observe_*` functions are kernel reads.
"""

from __future__ import annotations

import dataclasses
import errno
import socket
from collections.abc import Mapping
from dataclasses import dataclass

from osdn.errors import KernelError
from osdn.kernel import netns
from osdn.kernel.nft import Nft

CONNECTED, REFUSED, TIMEOUT, UNREACHABLE, ERROR = "connected", "refused", "timeout", "unreachable", "error"
OUTCOMES = (CONNECTED, REFUSED, TIMEOUT, UNREACHABLE, ERROR)
COUNTER_TABLES = (("inet", "osdn"), ("bridge", "osdn"))
_UNREACHABLE = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN}
_TIMEOUT = {errno.ETIMEDOUT, errno.EAGAIN, errno.EINPROGRESS}


@dataclass(frozen=True)
class ProbeResult:
    """What one connection attempt did; `detail` is the errno text for the failed ones."""

    outcome: str
    detail: str = ""
    sport: int = 0  # the local port of the attempt (0: unknown), to find its conntrack entry

    @property
    def reached(self) -> bool | None:
        """True if the SYN reached the destination, False if not, None if the probe could not tell."""
        if self.outcome in (CONNECTED, REFUSED):
            return True
        if self.outcome in (TIMEOUT, UNREACHABLE):
            return False
        return None

    def describe(self) -> str:
        text = {CONNECTED: "connected", REFUSED: "reached (connection refused: nothing listens there)",
                TIMEOUT: "blocked (no answer)", UNREACHABLE: "unreachable", ERROR: "probe failed"}[self.outcome]
        return f"{text}: {self.detail}" if self.detail and self.outcome in (UNREACHABLE, ERROR) else text


def classify_connect_error(exc: OSError) -> ProbeResult:
    """Pure: the outcome of a failed `connect` from its exception."""
    if isinstance(exc, TimeoutError) or exc.errno in _TIMEOUT:
        return ProbeResult(TIMEOUT)
    if isinstance(exc, ConnectionRefusedError) or exc.errno == errno.ECONNREFUSED:
        return ProbeResult(REFUSED)
    if exc.errno in _UNREACHABLE:
        return ProbeResult(UNREACHABLE, exc.strerror or str(exc))
    return ProbeResult(ERROR, exc.strerror or str(exc))


def observe_connect(ns: str, ip: str, port: int, timeout: float = 1.0) -> ProbeResult:
    """A TCP connect to ip:port from inside namespace `ns`, waiting at most `timeout` seconds."""
    def attempt() -> ProbeResult:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect((ip, port))
            result = ProbeResult(CONNECTED)
        except OSError as exc:
            result = classify_connect_error(exc)
        try:
            return dataclasses.replace(result, sport=int(sock.getsockname()[1]))
        finally:
            sock.close()

    try:
        return netns.run_in_netns(ns, attempt)
    except KernelError as exc:
        return ProbeResult(ERROR, f"network namespace {ns!r}: {exc}")


CounterKey = tuple[str, str]  # (family, counter name)


def observe_counters(ns: str) -> dict[CounterKey, int]:
    """Packets of every named counter in osdn's tables of node namespace `ns` (absent tables: none)."""
    out: dict[CounterKey, int] = {}
    with Nft(ns) as nft:
        for family, table in COUNTER_TABLES:
            if not nft.table_exists(family, table):
                continue
            doc = nft.run_json_output(f"list counters table {family} {table}")
            out.update(parse_counters(doc))
    return out


def parse_counters(doc: Mapping[str, object]) -> dict[CounterKey, int]:
    """Pure: `nft -j list counters ...` -> {(family, name): packets}."""
    out: dict[CounterKey, int] = {}
    for obj in doc.get("nftables") or []:  # type: ignore[attr-defined]
        c = obj.get("counter") if isinstance(obj, dict) else None
        if c:
            out[(str(c.get("family")), str(c.get("name")))] = int(c.get("packets") or 0)
    return out


def compute_counter_deltas(before: Mapping[CounterKey, int],
                           after: Mapping[CounterKey, int]) -> dict[CounterKey, int]:
    """Pure: the counters that moved (a counter that appeared counts from 0), sorted by key."""
    return {k: after[k] - before.get(k, 0) for k in sorted(after) if after[k] != before.get(k, 0)}
