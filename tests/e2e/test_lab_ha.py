"""A replicated control plane under faults: `osdn lab up --store etcd --servers 3` (3 etcd members, 3 API
servers, leader-elected controllers, agents and clients that know every server URL).

- The API server whose controllers lead is killed (SIGKILL) while a client creates namespaces
  steadily: every write acknowledged before, during and after survives; the client fails over to
  another server, and so does the node agent (its heartbeat); another server takes the Lease over;
  the controllers act exactly once: every namespace gets one NetNamespace whose NetID never changes,
  and no NetID is given twice.
- One etcd member of three (the etcd leader) is killed under the same load: writes continue; the
  member is started again and catches up.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from labcheck import wait_for
from labkit import Lab, make_lab, needs_agent

from osdn.api import timestamps
from osdn.client import Client, load_config
from osdn.client.informer import Informer
from osdn.errors import OsdnError
from osdn.lab import controlplane

pytestmark = [pytest.mark.e2e, needs_agent]


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    yield from make_lab("ha", "multitenant", 1, "--store", "etcd", "--servers", "3", "--no-router")


class Writer(threading.Thread):
    """Creates namespaces `<prefix>-N` one after another through the lab's admin.conf (every server URL)
    and remembers which creations were acknowledged (201), with the time of each."""

    def __init__(self, lab: Lab, prefix: str) -> None:
        super().__init__(daemon=True)
        self.client = Client(load_config(lab.conf), timeout=10)
        self.prefix, self.stop = prefix, threading.Event()
        self.acked: list[tuple[str, float]] = []
        self.failures: list[str] = []

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            name = f"{self.prefix}-{n}"
            try:
                self.client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
                self.acked.append((name, time.monotonic()))
            except OsdnError as e:          # unacknowledged: it may or may not exist; not counted
                self.failures.append(f"{name}: {e.message}")
            self.stop.wait(0.1)

    def acked_after(self, t: float) -> int:
        return sum(1 for _, at in self.acked if at > t)

    def finish(self) -> list[str]:
        self.stop.set()
        self.join(30)
        self.client.close()
        return [name for name, _ in self.acked]


class NetIDs:
    """Every NetID each NetNamespace was ever seen with (an informer through every server URL)."""

    def __init__(self, lab: Lab) -> None:
        self.seen: dict[str, set[int]] = {}
        self.lock = threading.Lock()
        self.informer = Informer(load_config(lab.conf), "NetNamespace", handlers=[self.on])

    def on(self, kind: str, new: dict | None, old: dict | None) -> None:
        if new is not None:
            with self.lock:
                self.seen.setdefault(new["metadata"]["name"], set()).add(int(new["netid"]))

    def has(self, names: list[str]) -> bool:
        with self.lock:
            return all(n in self.seen for n in names)


def heartbeat(lab: Lab, node: str) -> float:
    """The epoch time of the node agent's last Ready heartbeat."""
    conditions = lab.client.get("Node", node).get("status", {}).get("conditions") or []
    ready = [c for c in conditions if c.get("type") == "Ready"]
    return (timestamps.parse(ready[0].get("lastHeartbeatTime")) or 0.0) if ready else 0.0


def lease(lab: Lab) -> dict:
    return lab.client.get("Lease", "osdn-master", "kube-system")


def test_killing_the_leading_server_loses_no_write_and_the_controllers_act_once(lab: Lab) -> None:
    wait_for("a server leads", lambda: controlplane.leader(lab.info) != 0, timeout=60)
    old = controlplane.leader(lab.info)
    transitions = int(lease(lab)["spec"].get("leaseTransitions") or 0)
    netids = NetIDs(lab)
    netids.informer.start()
    writer = Writer(lab, "haw")
    writer.start()
    try:
        wait_for("writes before the kill", lambda: len(writer.acked) >= 10, timeout=60)
        killed_at, killed_wall = time.monotonic(), time.time()
        assert controlplane.kill_server(lab.info, old) > 0
        wait_for("the node agent's heartbeat reaches another server",
                 lambda: heartbeat(lab, "node1") > killed_wall, timeout=60)
        wait_for("another server takes the Lease over",
                 lambda: controlplane.leader(lab.info) not in (0, old), timeout=60)
        wait_for("writes acknowledged after the kill (the client failed over)",
                 lambda: writer.acked_after(killed_at) >= 20, timeout=60)
        acked = writer.finish()
        for name in acked:                                   # no acknowledged write is lost
            lab.client.get("Namespace", name)
        wait_for("a NetNamespace for every acknowledged namespace", lambda: netids.has(acked), timeout=60)
        current = {o["metadata"]["name"]: o["netid"] for o in lab.client.list("NetNamespace")["items"]}
        with netids.lock:
            changed = {n: ids for n, ids in netids.seen.items() if len(ids) != 1}
        assert changed == {}, f"NetIDs changed (two leaders acted?): {changed}"
        ids = [netid for name, netid in current.items() if name != "default"]
        assert len(ids) == len(set(ids)), "a NetID was given twice"
        assert int(lease(lab)["spec"]["leaseTransitions"]) > transitions
    finally:
        writer.stop.set()
        netids.informer.stop()
        controlplane.start_server(lab.info, old)
    print(f"\n{len(writer.acked)} namespaces acknowledged, {len(writer.failures)} creations failed while "
          f"server {old} died: {writer.failures[:3]}")


def etcd_status(member: controlplane.Member) -> dict:
    return dict(httpx.post(f"http://{member.endpoint}/v3/maintenance/status", json={}, timeout=5).json())


def etcd_leader(cp: controlplane.ControlPlane) -> int:
    """The index (1-based) of the member that leads the etcd cluster."""
    for i, member in enumerate(cp.members, 1):
        status = etcd_status(member)
        if status.get("leader") and status["leader"] == status["header"]["member_id"]:
            return i
    return 0


def test_killing_one_etcd_member_of_three_lets_writes_continue(lab: Lab) -> None:
    cp = controlplane.load(lab.info.dir)
    wait_for("the etcd cluster has a leader", lambda: etcd_leader(cp) != 0, timeout=30)
    victim = etcd_leader(cp)
    writer = Writer(lab, "hae")
    writer.start()
    try:
        wait_for("writes before the kill", lambda: len(writer.acked) >= 10, timeout=60)
        killed_at = time.monotonic()
        assert controlplane.kill_etcd(lab.info, victim) > 0
        wait_for("writes acknowledged with two members of three",
                 lambda: writer.acked_after(killed_at) >= 30, timeout=90)
        acked = writer.finish()
        for name in acked:
            lab.client.get("Namespace", name)
        wait_for("NetNamespaces for the namespaces made with one member down", lambda: all(
            _exists(lab, "NetNamespace", name) for name in acked[-5:]), timeout=60)
    finally:
        writer.stop.set()
        controlplane.start_etcd(lab.info, victim)
    member = cp.members[victim - 1]
    wait_for(f"etcd member {victim} caught up after its restart", lambda: etcd_status(member)["header"]
             ["revision"] >= etcd_status(cp.members[victim % 3])["header"]["revision"], timeout=60)


def _exists(lab: Lab, kind: str, name: str) -> bool:
    try:
        lab.client.get(kind, name)
        return True
    except OsdnError:
        return False
