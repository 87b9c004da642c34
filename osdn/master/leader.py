"""Leader election for the master controllers: exactly one process runs them, through a Lease.

`LeaderElector` tries to acquire or renew the Lease (default `kube-system/osdn-master`) every
`retry_period` through the API, deciding with the pure osdn.model.leaderelection; the write is an
update with the observed resourceVersion, so two candidates never both win. Each acquisition starts a
*term*; every successful write records the Lease's new resourceVersion for that term.

`ElectedMaster` is the service `osdn server` and `osdn master` run: one thread starts a Master when
this process leads and stops it when it does not (its renewal is older than `renew_deadline`, or the
Lease shows another holder), so a Master's start (informer sync) never delays a renewal. The Master of
term T sends every write fenced by T's latest Lease revision (`X-Osdn-Fence`, osdn.store.fence): once
another process took the Lease over, the store refuses those writes, even a request already on the wire.
On a clean stop the leader releases the Lease (no holder), so another takes over at once.
"""

from __future__ import annotations

import logging
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from osdn.api.timestamps import format_micro_time
from osdn.client import Client, ClientConfig
from osdn.errors import ConflictError, NotFoundError, OsdnError
from osdn.master.manager import Master, MasterOptions
from osdn.model.leaderelection import (
    ElectionConfig,
    Observation,
    decide,
    observe,
    release_spec,
    still_leading,
)

log = logging.getLogger(__name__)
LEASE_NAMESPACE, LEASE_NAME = "kube-system", "osdn-master"
WATCHDOG_PERIOD = 0.1


def default_identity(role: str) -> str:
    """`<hostname>_<role>`: unique among live processes when `role` names the listen address."""
    return f"{socket.gethostname()}_{role}"


class LeaseAPI(Protocol):
    """What the elector needs of the API (osdn.client.Client has it; tests pass an in-memory one)."""

    def get(self, kind: str, name: str, namespace: str = "") -> dict[str, Any]: ...
    def create(self, obj: dict[str, Any]) -> dict[str, Any]: ...
    def update(self, obj: dict[str, Any]) -> dict[str, Any]: ...


class _Startable(Protocol):
    """What `make_master` returns (osdn.master.manager.Master)."""

    def start(self) -> object: ...
    def stop(self) -> None: ...


@dataclass
class _Term:
    number: int = 0
    rv: str = ""
    renewed: float = float("-inf")   # monotonic time of the last successful acquire/renew


class LeaderElector:
    """Acquires and renews the Lease; `leading()` and `fence(term)` are safe from any thread."""

    def __init__(self, client: LeaseAPI, identity: str, cfg: ElectionConfig,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time,
                 lease: tuple[str, str] = (LEASE_NAMESPACE, LEASE_NAME)) -> None:
        self.client, self.identity, self.cfg = client, identity, cfg
        self.clock, self.wall = clock, wall
        self.namespace, self.name = lease
        self._lock = threading.Lock()
        self._term = _Term()
        self._rvs: dict[int, str] = {}
        self._held = False
        self._obs: Observation | None = None
        self.changed = threading.Event()          # set whenever leadership may have changed

    # ---- state, from any thread --------------------------------------------------------------
    def leading(self) -> int:
        """The current term while this process may act as the leader, else 0."""
        with self._lock:
            ok = self._held and still_leading(self._term.renewed, self.clock(), self.cfg)
            return self._term.number if ok else 0

    def fence(self, term: int) -> str:
        """The `X-Osdn-Fence` value of `term`: its latest Lease revision (stale once the term ended)."""
        with self._lock:
            return f"{self.namespace}/{self.name}/{self._rvs.get(term, '0')}"

    # ---- one round ---------------------------------------------------------------------------
    def try_acquire_or_renew(self) -> bool:
        """Read the Lease and write what `decide` says; True if this process holds it afterwards."""
        now = self.clock()
        try:
            lease = self.client.get("Lease", self.name, self.namespace)
            self._obs = observe(self._obs, lease, now)
        except NotFoundError:
            self._obs = None
        except OsdnError as e:
            log.warning("leader election: cannot read Lease %s/%s: %s", self.namespace, self.name, e.message)
            return False
        decision = decide(self._obs, self.identity, now, format_micro_time(self.wall()), self.cfg)
        if decision.action == "wait":
            self._lost(decision.reason)
            return False
        try:
            written = self._write(decision.action, decision.spec or {})
        except ConflictError:   # another candidate wrote it first: the next round reads who
            log.debug("leader election: Lease %s/%s changed under our %s", self.namespace, self.name,
                      decision.action)
            return False
        except OsdnError as e:
            log.info("leader election: %s of Lease %s/%s failed: %s", decision.action, self.namespace,
                     self.name, e.message)
            return False
        self._obs = observe(None, written, now)
        self._renewed(str(written["metadata"]["resourceVersion"]), now, decision.reason)
        return True

    def _write(self, action: str, spec: dict[str, Any]) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": self.name, "namespace": self.namespace}
        if action == "update" and self._obs is not None:
            meta["resourceVersion"] = self._obs.rv
        lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta, "spec": spec}
        return self.client.create(lease) if action == "create" else self.client.update(lease)

    def _renewed(self, rv: str, now: float, reason: str) -> None:
        with self._lock:
            new_term = not (self._held and still_leading(self._term.renewed, now, self.cfg))
            if new_term:
                self._term = _Term(self._term.number + 1)
            self._term.rv, self._term.renewed, self._held = rv, now, True
            self._rvs = {self._term.number: rv}
        if new_term:
            log.info("leader election: %s leads (term %d, Lease %s/%s at resourceVersion %s): %s",
                     self.identity, self._term.number, self.namespace, self.name, rv, reason)
            self.changed.set()

    def _lost(self, reason: str) -> None:
        with self._lock:
            was, self._held = self._held, False
        if was:
            log.warning("leader election: %s no longer leads: %s", self.identity, reason)
            self.changed.set()

    def release(self) -> None:
        """Give the Lease up (a clean stop), so another candidate takes over without waiting."""
        if not self.leading() or self._obs is None:
            return
        with self._lock:
            self._held = False
        lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                 "metadata": {"name": self.name, "namespace": self.namespace, "resourceVersion": self._obs.rv},
                 "spec": release_spec(self._obs, format_micro_time(self.wall()))}
        try:
            self.client.update(lease)
            log.info("leader election: %s released Lease %s/%s", self.identity, self.namespace, self.name)
        except OsdnError as e:
            log.warning("leader election: releasing Lease %s/%s failed: %s", self.namespace, self.name, e.message)


class ElectedMaster:
    """A service: the master controllers, run only while this process leads (see the module doc)."""

    def __init__(self, config: ClientConfig, identity: str, cfg: ElectionConfig,
                 make_master: Callable[[Callable[[], str]], _Startable]) -> None:
        self.config, self.cfg = config, cfg
        timeout = max(0.5, cfg.renew_deadline - cfg.retry_period)   # a hung renewal must not outlive the deadline
        self.client = Client(config, timeout=timeout)
        self.elector = LeaderElector(self.client, identity, cfg)
        self.make_master = make_master
        self.master: _Startable | None = None
        self._term = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> ElectedMaster:
        for target, name in ((self._elect, "leader-election"), (self._follow, "leader-master")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _elect(self) -> None:
        while not self._stop.is_set():
            try:
                leading = self.elector.try_acquire_or_renew()
            except Exception:  # the loop never dies
                log.exception("leader election: round failed")
                leading = False
            pause = self.cfg.retry_period * (1.0 if leading else 1.0 + 0.2 * random.random())
            self._stop.wait(pause)

    def _follow(self) -> None:
        """Start the Master when a term begins, stop it when the term ends (also when the elector's
        own thread is stuck in a request: `leading()` checks the renewal's age itself)."""
        while not self._stop.is_set():
            self.elector.changed.wait(WATCHDOG_PERIOD)
            self.elector.changed.clear()
            term = self.elector.leading()
            if term != self._term and self.master is not None:
                self._stop_master()
            if term and self.master is None and not self._stop.is_set():
                self._start_master(term)

    def _start_master(self, term: int) -> None:
        master = self.make_master(lambda: self.elector.fence(term))
        self.master, self._term = master, term
        try:
            master.start()
        except Exception:
            log.exception("master: start in term %d failed; retrying in 1s while leading", term)
            self._stop_master()
            self._stop.wait(1.0)

    def _stop_master(self) -> None:
        master, self.master, self._term = self.master, None, 0
        if master is not None:
            master.stop()
            log.info("master: controllers stopped")

    def stop(self) -> None:
        self._stop.set()
        self.elector.changed.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self.elector.release()     # first, while the server still listens; the Lease moves, so our writes are fenced
        self._stop_master()
        self.client.close()




def master_service(config: ClientConfig, options: MasterOptions, election: ElectionConfig | None,
                   identity: str) -> Master | ElectedMaster:
    """The controllers as a service: leader-elected, or (election None) unconditionally."""
    if election is None:
        return Master(config, options)
    return ElectedMaster(config, identity, election, lambda fence: Master(config, options, fence))
