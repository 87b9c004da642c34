"""`osdn router`: watch Routes, Ingresses, Services and Endpoints; serve them with HAProxy.

Level-triggered: informer events only mark the router dirty; one loop thread syncs at most once per
`reload_interval` (changes arriving meanwhile are batched into the next sync). A sync computes the
plan (osdn.router.plan, pure), and when the files differ from the live generation it stages them,
checks them with `haproxy -c` and, only if valid, promotes them and reloads HAProxy. When HAProxy
refuses a generation, the routes its error names (their certificate file or backend) are left out
and marked `ConfigurationRejected` with HAProxy's message, and the rest is tried again; if the error
names no route, the last good configuration stays in force and the error is logged. Then every
stored route whose `status.ingress` entry for this router is not what the verdict says is written
(the status subresource, by osdn.router.statuswriter in the background). If the HAProxy master
exits, the router exits with an error.
"""

from __future__ import annotations

import datetime
import logging
import re
import resource
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from osdn.client import Client, ClientConfig
from osdn.client.informer import Informer
from osdn.errors import OsdnError
from osdn.router.certs import ensure_default_certificate
from osdn.router.haproxy import HAProxy
from osdn.router.model import RouteDesc, describe_route
from osdn.router.plan import Key, Obj, RouterPlan, Snapshot, compute_plan
from osdn.router.render import RouterSettings
from osdn.router.statuswriter import StatusWriter

log = logging.getLogger(__name__)
KINDS = {"routes": "routes.route.openshift.io", "ingresses": "ingresses.networking.k8s.io",
         "services": "services", "endpoints": "endpoints"}
_NAMED = (re.compile(r"cacerts/([a-z0-9.-]+):([a-z0-9.-]+?)\.pem|certs/([a-z0-9.-]+):([a-z0-9.-]+?)\.pem"),
          re.compile(r"be_[a-z_]+:([a-z0-9.-]+):([a-z0-9.-]*[a-z0-9])"))


@dataclass
class RouterOptions:
    run_dir: Path
    router_name: str = "default"
    reload_interval: float = 1.0  # seconds between reloads at most
    allow_wildcards: bool = False
    netns: str | None = None
    http_port: int = 80
    https_port: int = 443
    default_certificate: Path | None = None
    canonical_hostname: str = ""
    max_connections: int = 20000
    haproxy_binary: str = "haproxy"


def affordable_connections(wanted: int) -> int:
    """`wanted`, or fewer if the file-descriptor hard limit cannot hold them (two per connection)."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY:
        return wanted
    afford = max(64, (hard - 200) // 2)
    if afford < wanted:
        log.warning("router: maxconn %d needs %d file descriptors, the hard limit is %d: using maxconn %d",
                    wanted, 2 * wanted, hard, afford)
    return min(wanted, afford)


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def culprits(output: str) -> set[Key]:
    """The routes an `haproxy -c` error names (by their certificate file or backend)."""
    found: set[Key] = set()
    for pattern in _NAMED:
        for m in pattern.finditer(output):
            groups = [g for g in m.groups() if g is not None]
            found.add((groups[0], groups[1]))
    return found


@dataclass
class SyncStats:
    reloads: int = 0
    rejected_configs: int = 0
    last_reload_seconds: float = 0.0
    render_seconds: float = 0.0
    check_seconds: float = 0.0


class Router:
    def __init__(self, config: ClientConfig, options: RouterOptions,
                 clock: Callable[[], float] = time.monotonic, now: Callable[[], str] = now_rfc3339) -> None:
        self.config, self.options, self.clock, self.now = config, options, clock, now
        options.run_dir.mkdir(parents=True, exist_ok=True)
        cert = options.default_certificate or ensure_default_certificate(options.run_dir / "default.pem")
        self.settings = RouterSettings(run_dir=str(options.run_dir), default_certificate=str(cert),
                                       http_port=options.http_port, https_port=options.https_port,
                                       max_connections=affordable_connections(options.max_connections))
        self.haproxy = HAProxy(options.run_dir, options.netns, options.haproxy_binary)
        self.dirty = threading.Event()
        self.stopping = threading.Event()
        self.informers = {name: Informer(config, kind, handlers=[self._mark]) for name, kind in KINDS.items()}
        self.live_files: dict[str, str] | None = None
        self.rejected: dict[Key, str] = {}
        self.stats = SyncStats()
        self.client = Client(config)
        self.statuses = StatusWriter(self.client, options.router_name,
                                     lambda key: self.informers["routes"].get(key[1], key[0]), now,
                                     options.canonical_hostname)
        self._described: dict[tuple[str, str, str], RouteDesc] = {}

    def _mark(self, _kind: str, _new: object, _old: object) -> None:
        self.dirty.set()

    # ---- lifecycle -----------------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> Router:
        for inf in self.informers.values():
            inf.start()
        for name, inf in self.informers.items():
            if not inf.wait_synced(timeout):
                raise OsdnError(f"router: the {name} informer did not sync within {timeout:.0f}s")
        self.statuses.start()
        self.dirty.set()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.dirty.set()
        self.statuses.stop()
        for inf in self.informers.values():
            inf.stop()
        self.haproxy.stop()
        self.client.close()

    def run(self) -> None:
        """Sync loop until stop(); raises if the HAProxy master dies."""
        last = -1e9
        while not self.stopping.is_set():
            self.dirty.wait(1.0)
            if self.haproxy.proc is not None and not self.haproxy.master_alive():
                raise OsdnError(f"router: the HAProxy master exited (code {self.haproxy.proc.returncode}); "
                                f"see {self.haproxy.log_path}")
            if not self.dirty.is_set() or self.stopping.is_set():
                continue
            wait = last + self.options.reload_interval - self.clock()
            if wait > 0 and self.stopping.wait(wait):
                return
            self.dirty.clear()
            last = self.clock()
            try:
                self.sync()
            except OsdnError as e:
                log.warning("router: sync failed, retrying: %s", e)
                self.dirty.set()

    # ---- one sync ------------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        cache = {name: {(o["metadata"].get("namespace") or "", o["metadata"]["name"]): o for o in inf.items()}
                 for name, inf in self.informers.items()}
        return Snapshot(cache["routes"], cache["ingresses"], cache["services"], cache["endpoints"])

    def sync(self) -> RouterPlan:
        snap = self.snapshot()
        start = time.perf_counter()
        plan = self._configure(snap)
        self.statuses.submit(plan.verdicts)
        log.info("router: %d routes served, %d rejected, sync %.3fs", len(plan.served),
                 sum(not v.admitted for v in plan.verdicts.values()), time.perf_counter() - start)
        return plan

    def describe(self, obj: Obj) -> RouteDesc:
        """describe_route, once per route version (a sync at 10,000 routes reads only what changed)."""
        meta = obj.get("metadata") or {}
        key = (meta.get("namespace") or "", meta.get("name") or "", meta.get("resourceVersion") or "")
        if not key[2]:
            return describe_route(obj)  # an Ingress-made route: no version of its own
        if key not in self._described:
            self._described[key] = describe_route(obj)
        return self._described[key]

    def _plan(self, snap: Snapshot, rejected: dict[Key, str]) -> RouterPlan:
        live = {(m["metadata"].get("namespace") or "", m["metadata"]["name"], m["metadata"].get("resourceVersion") or "")
                for m in snap.routes.values()}
        self._described = {k: d for k, d in self._described.items() if k in live}
        return compute_plan(snap, self.settings, rejected, self.options.allow_wildcards, self.describe)

    def _configure(self, snap: Snapshot) -> RouterPlan:
        rejected = {k: m for k, m in self.rejected.items() if k in snap.routes}
        for _ in range(3):
            start = time.perf_counter()
            plan = self._plan(snap, rejected)
            if plan.files == self.live_files:
                self.rejected = rejected
                return plan
            rendered = time.perf_counter()
            self.haproxy.stage(plan.files)
            check = self.haproxy.check()
            self.stats.render_seconds, self.stats.check_seconds = rendered - start, time.perf_counter() - rendered
            if check.ok:
                self._go_live(plan)
                self.rejected = rejected
                return plan
            self.stats.rejected_configs += 1
            named = culprits(check.output) - set(rejected)
            log.error("router: HAProxy refused the new configuration (%s); the last good configuration "
                      "stays in force: %s", ", ".join("/".join(k) for k in sorted(named)) or "no route named",
                      " | ".join(_alerts(check.output)) or check.output)
            if not named:
                break
            message = f"HAProxy refused the configuration with this route: {_first_alert(check.output)}"
            rejected.update({k: message for k in named})
        self.rejected = rejected
        return self._plan(snap, rejected)

    def _go_live(self, plan: RouterPlan) -> None:
        start = time.perf_counter()
        self.haproxy.promote()
        self.haproxy.reload()
        self.live_files = plan.files
        self.stats.reloads += 1
        self.stats.last_reload_seconds = time.perf_counter() - start
        log.info("router: configuration reloaded (%d routes; render %.3fs, haproxy -c %.3fs, install+signal %.3fs)",
                 len(plan.served), self.stats.render_seconds, self.stats.check_seconds, self.stats.last_reload_seconds)


def _alerts(output: str) -> list[str]:
    """HAProxy's ALERT lines without their `[ALERT] (pid) : config :` prefix."""
    return [line.split(":", 2)[-1].strip() for line in output.splitlines() if "ALERT" in line]


def _first_alert(output: str) -> str:
    alerts = _alerts(output)
    return alerts[0] if alerts else output.strip().splitlines()[0] if output.strip() else "no output"
