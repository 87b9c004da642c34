"""Egress node health probing: the I/O driver around the pure `osdn.model.health.HealthTracker`.

Two signals, combined by the egress controller (a node is offline if either says so):
- `tcp`: a TCP connect to each egress node, scheduled by the tracker (0.2 s healthy cadence, 0.1 s
  when suspect, 0.15 s timeout; offline after 5 failures spanning >= 0.8 s: worst case 1.4 s).
  Target: `targets[node]` ("host:port") if given, else `<HostSubnet.hostIP>:port` (`address: hostIP`)
  or `<subnet .1>:port` (`address: sdn`, the reference's SDN IP). A refused connection means the
  host is up (reference) unless `refusedIsOnline: false` (tests close a loopback port to "kill" a
  node). All probes of a round run from one thread with non-blocking sockets. With `netns` (the lab
  sets its router's namespace) the sockets are made in that namespace, so the probe crosses the
  nodes' underlay as it would in a real cluster.
- `heartbeat`: the Node's Ready condition: status False/Unknown, or a lastHeartbeatTime older than
  `heartbeatTimeout`, means offline. Nodes that never reported a condition count as online. The age
  counts at most from when this master started watching (as Kubernetes' node lifecycle controller
  does): heartbeats could not be written while no API server ran, so after a control-plane outage
  every node gets a full timeout to report again instead of all going offline at once.
Default `mode: heartbeat` sends no packets at all; `mode: tcp` must be asked for (it connects to
node addresses, which is only right in a real cluster or with loopback `targets`).
"""

from __future__ import annotations

import datetime
import errno
import logging
import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from osdn.errors import BadRequestError
from osdn.kernel import netns
from osdn.model.health import HealthParams, HealthTracker, Transition

log = logging.getLogger(__name__)
Obj = dict[str, Any]
Target = tuple[str, int]
_PARAM_KEYS = {"interval": "interval", "suspectInterval": "suspect_interval", "timeout": "timeout",
               "failCount": "fail_count", "failSpan": "fail_span", "recoverCount": "recover_count",
               "holdDown": "hold_down"}


@dataclass(frozen=True)
class ProbeOptions:
    mode: str = "heartbeat"                  # heartbeat | tcp
    port: int = 9
    address: str = "hostIP"                  # hostIP | sdn
    targets: dict[str, str] = field(default_factory=dict)
    refused_is_online: bool = True
    heartbeat_timeout: float = 40.0
    params: HealthParams = field(default_factory=HealthParams)
    netns: str = ""                          # probe from this network namespace (the lab's router)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ProbeOptions:
        """The `egressHealth` section of master.yaml (camelCase keys); unknown keys are errors."""
        known = {"mode", "port", "address", "targets", "refusedIsOnline", "heartbeatTimeout", "netns", *_PARAM_KEYS}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise BadRequestError(f"master config egressHealth: unknown field(s) {', '.join(unknown)} "
                                  f"(known: {', '.join(sorted(known))})")
        mode = str(raw.get("mode", "heartbeat"))
        if mode not in ("heartbeat", "tcp"):
            raise BadRequestError(f'master config egressHealth.mode: "{mode}" is not heartbeat or tcp')
        params = HealthParams(**{attr: type(getattr(HealthParams(), attr))(raw[key])
                                 for key, attr in _PARAM_KEYS.items() if key in raw})
        targets = {str(k): str(v) for k, v in (raw.get("targets") or {}).items()}
        for node, text in targets.items():
            parse_target(text, f"egressHealth.targets.{node}")
        return cls(mode, int(raw.get("port", 9)), str(raw.get("address", "hostIP")), targets,
                   bool(raw.get("refusedIsOnline", True)), float(raw.get("heartbeatTimeout", 40.0)), params,
                   str(raw.get("netns") or ""))

    def to_dict(self) -> dict[str, Any]:
        base = HealthParams()
        out: dict[str, Any] = {"mode": self.mode, "port": self.port, "address": self.address,
                               "refusedIsOnline": self.refused_is_online, "heartbeatTimeout": self.heartbeat_timeout}
        if self.targets:
            out["targets"] = dict(self.targets)
        if self.netns:
            out["netns"] = self.netns
        for key, attr in _PARAM_KEYS.items():
            if getattr(self.params, attr) != getattr(base, attr):
                out[key] = getattr(self.params, attr)
        return out


def parse_target(text: str, where: str) -> Target:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise BadRequestError(f'{where}: "{text}" must be HOST:PORT')
    return host, int(port)


def _sdn_ip(subnet: str) -> str | None:
    try:
        base = int.from_bytes(socket.inet_aton(subnet.split("/")[0]), "big")
    except OSError:
        return None
    return socket.inet_ntoa((base | 1).to_bytes(4, "big"))


def probe_target(options: ProbeOptions, node: str, hostsubnet: Obj) -> Target | None:
    """Where to probe `node` (None: cannot be probed). Pure."""
    if node in options.targets:
        return parse_target(options.targets[node], f"egressHealth.targets.{node}")
    host = _sdn_ip(str(hostsubnet.get("subnet") or "")) if options.address == "sdn" else hostsubnet.get("hostIP")
    return (str(host), options.port) if host else None


# ---- heartbeat ------------------------------------------------------------------------------

def _parse_time(text: str) -> float | None:
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except (ValueError, AttributeError):
        return None


def heartbeat_problem(node: Obj, now: float, timeout: float, since: float = 0.0) -> str | None:
    """Why a Node's own status says it is down (None: up or never reported). Pure; `now` = epoch s;
    `since`: when the caller started watching (a heartbeat older than that counts from then)."""
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") != "Ready":
            continue
        if cond.get("status") != "True":
            return f"Node Ready condition is {cond.get('status')}: {cond.get('message') or cond.get('reason') or ''}".rstrip(": ")
        beat = _parse_time(str(cond.get("lastHeartbeatTime") or ""))
        if beat is not None and now - max(beat, since) > timeout:
            return f"no heartbeat for {now - beat:.1f}s (timeout {timeout:.1f}s)"
    return None


# ---- tcp prober -----------------------------------------------------------------------------

class TcpProber:
    """One thread: starts due probes, waits for their sockets, feeds results to the tracker."""

    def __init__(self, options: ProbeOptions, on_change: Callable[[list[Transition]], None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.options, self.on_change, self.clock = options, on_change, clock
        self.tracker = HealthTracker(options.params)
        self._targets: dict[str, Target] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sel = selectors.DefaultSelector()
        self._inflight: dict[str, tuple[socket.socket, float]] = {}
        self._thread: threading.Thread | None = None
        self.probes = 0

    def set_targets(self, targets: dict[str, Target]) -> None:
        with self._lock:
            self._targets = dict(targets)
            self.tracker.set_nodes(targets, self.clock())

    def offline(self) -> set[str]:
        with self._lock:
            return self.tracker.offline()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="master-egress-prober", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        for sock, _ in self._inflight.values():
            sock.close()
        self._sel.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            changes = self._start_due() + self._collect()
            if changes:
                self.on_change(changes)

    def _start_due(self) -> list[Transition]:
        now = self.clock()
        changes: list[Transition] = []
        with self._lock:
            due = [(n, self._targets[n]) for n in self.tracker.due_nodes(now)
                   if n in self._targets and n not in self._inflight]
            for node, _ in due:
                self.tracker.probe_started(node, now)
        for node, target in due:
            result = self._connect(node, target, now)
            if result is not None:
                changes += self._observe(node, result)
        return changes

    def _connect(self, node: str, target: Target, now: float) -> bool | None:
        sock = self._socket()
        sock.setblocking(False)
        self.probes += 1
        code = sock.connect_ex(target)
        if code in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN):
            self._inflight[node] = (sock, now + self.options.params.timeout)
            self._sel.register(sock, selectors.EVENT_WRITE, node)
            return None
        sock.close()
        return self._verdict(code)

    def _socket(self) -> socket.socket:
        """A TCP socket, made inside `options.netns` when set (it stays in that namespace)."""
        if not self.options.netns:
            return socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        return netns.run_in_netns(self.options.netns, socket.socket, socket.AF_INET, socket.SOCK_STREAM)

    def _verdict(self, code: int) -> bool:
        if code == 0:
            return True
        return code == errno.ECONNREFUSED and self.options.refused_is_online

    def _collect(self) -> list[Transition]:
        wait = self._wait_time()
        changes: list[Transition] = []
        events = self._sel.select(wait) if self._inflight else (self._stop.wait(wait) and [])
        for key, _ in events or []:
            node = key.data
            sock, _ = self._inflight.pop(node)
            self._sel.unregister(sock)
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            sock.close()
            changes += self._observe(node, self._verdict(code))
        now = self.clock()
        for node, (sock, deadline) in list(self._inflight.items()):
            if deadline <= now:
                del self._inflight[node]
                self._sel.unregister(sock)
                sock.close()
                changes += self._observe(node, False)
        return changes

    def _wait_time(self) -> float:
        now = self.clock()
        with self._lock:
            due = self.tracker.next_probe_due(now)
        times = [t for t in [due, *(d for _, d in self._inflight.values())] if t is not None]
        return min(0.05, max(0.0, min(times) - now)) if times else 0.05

    def _observe(self, node: str, ok: bool) -> list[Transition]:
        with self._lock:
            if node not in self._targets:
                return []
            return self.tracker.observe(node, ok, self.clock())

