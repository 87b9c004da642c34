"""NodePort allocation through the real write path (Resources over a SQLite store with the
NodePortAllocation admission plugin): ranges, explicit ports, duplicates with kube's messages,
release on delete and on a type change, ports kept on update, a restart, racing creates; and the
validation of nodePort and externalTrafficPolicy."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from osdn.api.registry import by_kind
from osdn.apiserver.admission import AdmissionChain
from osdn.apiserver.auth import CLUSTER_ADMINS, Authorizer, User
from osdn.apiserver.plugins import node_port_range
from osdn.apiserver.plugins.nodeports import NodePortAllocation
from osdn.apiserver.resources import Resources, key_of
from osdn.errors import BadRequestError, NotFoundError, OsdnError, ValidationError
from osdn.model.nodeports import NodePortRange, parse_range
from osdn.store import Key
from osdn.store.sqlite import SQLiteStore

Obj = dict[str, Any]
ADMIN = User("admin", (CLUSTER_ADMINS,))
SVC = by_kind("Service")


def make(path: Path, rng: NodePortRange | None = None, seed: int = 1) -> tuple[Resources, SQLiteStore]:
    store = SQLiteStore(path)
    res = Resources(store, Authorizer(store), AdmissionChain([NodePortAllocation(rng, random.Random(seed))]))
    return res, store


@pytest.fixture
def res(tmp_path: Path) -> Iterator[Resources]:
    r, store = make(tmp_path / "db")
    try:
        r.create(ADMIN, by_kind("Namespace"), "", {"metadata": {"name": "p1"}})
        yield r
    finally:
        store.close()


def svc(name: str, *ports: Obj, type: str = "NodePort", **spec: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"type": type, "selector": {"app": name}, "ports": list(ports), **spec}}


def port(n: int, node_port: int | None = None, name: str | None = None, protocol: str = "TCP") -> Obj:
    out: Obj = {"port": n, "protocol": protocol}
    out.update({k: v for k, v in (("nodePort", node_port), ("name", name)) if v is not None})
    return out


def node_ports(obj: Obj) -> list[int]:
    return [p.get("nodePort") for p in obj["spec"]["ports"]]


def stored(res: Resources, name: str) -> Obj:
    return res.store.get(key_of(SVC, "p1", name))


def invalid(fn: Callable[[], object]) -> str:
    with pytest.raises(ValidationError) as err:
        fn()
    return "; ".join(str(c) for c in err.value.causes)


def test_a_nodeport_service_gets_a_free_port_of_the_range_per_port(res: Resources) -> None:
    got = res.create(ADMIN, SVC, "p1", svc("web", port(80, name="http"), port(443, name="https"))).obj
    a, b = node_ports(got)
    assert 30000 <= a <= 32767 and 30000 <= b <= 32767 and a != b
    assert got["spec"]["externalTrafficPolicy"] == "Cluster"
    assert node_ports(stored(res, "web")) == [a, b]


def test_clusterip_services_get_none_and_loadbalancers_unless_told_not_to(res: Resources) -> None:
    assert node_ports(res.create(ADMIN, SVC, "p1", svc("c", port(80), type="ClusterIP")).obj) == [None]
    assert node_ports(res.create(ADMIN, SVC, "p1", svc("lb", port(80), type="LoadBalancer")).obj)[0]
    off = svc("lb2", port(80), port(81, 30081, name="b"), type="LoadBalancer", allocateLoadBalancerNodePorts=False)
    off["spec"]["ports"][0]["name"] = "a"
    assert node_ports(res.create(ADMIN, SVC, "p1", off).obj) == [None, 30081]   # explicit ones are honoured


def test_explicit_ports_are_honoured_and_refused_as_kube_refuses_them(res: Resources) -> None:
    assert node_ports(res.create(ADMIN, SVC, "p1", svc("a", port(80, 30080))).obj) == [30080]
    assert invalid(lambda: res.create(ADMIN, SVC, "p1", svc("b", port(80, 30080)))) == \
        "spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated"
    assert invalid(lambda: res.create(ADMIN, SVC, "p1", svc("b", port(80, 29999)))) == (
        "spec.ports[0].nodePort: Invalid value: 29999: provided port is not in the valid range. "
        "The range of valid ports is 30000-32767")
    assert invalid(lambda: res.create(ADMIN, SVC, "p1", svc("b", port(80, 30080, protocol="UDP")))) == \
        "spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated"   # numbers, as kube
    with pytest.raises(NotFoundError):
        stored(res, "b")


def test_tcp_and_udp_of_one_service_share_a_node_port_as_kube(res: Resources) -> None:
    dns = res.create(ADMIN, SVC, "p1", svc("dns", port(53, name="tcp"), port(53, name="udp", protocol="UDP"))).obj
    tcp, udp = node_ports(dns)
    assert tcp == udp
    both = svc("x", port(70, 30070, name="t"), port(70, 30070, name="u", protocol="UDP"))
    assert node_ports(res.create(ADMIN, SVC, "p1", both).obj) == [30070, 30070]


def test_validation_of_node_port_fields(res: Resources) -> None:
    assert invalid(lambda: res.create(ADMIN, SVC, "p1", svc("c", port(80, 30080), type="ClusterIP"))) == \
        "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"
    assert invalid(lambda: res.create(ADMIN, SVC, "p1", svc("d", port(80, 30080, name="a"), port(81, 30080, name="b")))) \
        == "spec.ports[1].nodePort: Duplicate value: 30080"
    assert invalid(lambda: res.create(ADMIN, SVC, "p1", svc("e", port(80), externalTrafficPolicy="Nearby"))) == \
        'spec.externalTrafficPolicy: Unsupported value: "Nearby": supported values: "Cluster", "Local"'
    assert invalid(lambda: res.create(ADMIN, SVC, "p1", svc("f", port(80), type="ClusterIP",
                                                            externalTrafficPolicy="Local"))) == \
        'spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services'
    many = svc("g", *(port(1000 + i, name=f"p{i}") for i in range(101)))
    assert invalid(lambda: res.create(ADMIN, SVC, "p1", many)) == \
        "spec.ports: Too many: 101: must have at most 100 items (osdn's limit of ports per Service)"


def test_release_on_delete_and_on_a_type_change_to_clusterip(res: Resources) -> None:
    res.create(ADMIN, SVC, "p1", svc("a", port(80, 30080), externalTrafficPolicy="Local"))
    res.delete(ADMIN, SVC, "p1", "a")
    res.create(ADMIN, SVC, "p1", svc("b", port(80, 30080)))   # free again at once
    res.patch(ADMIN, SVC, "p1", "b", {"spec": {"type": "ClusterIP"}}, "merge")
    b = stored(res, "b")
    assert node_ports(b) == [None] and "externalTrafficPolicy" not in b["spec"]
    assert node_ports(res.create(ADMIN, SVC, "p1", svc("c", port(80, 30080))).obj) == [30080]


def test_an_update_keeps_the_ports_and_gets_them_back_by_name(res: Resources) -> None:
    first = node_ports(res.create(ADMIN, SVC, "p1", svc("a", port(80, name="http"), port(81, name="x"))).obj)
    res.patch(ADMIN, SVC, "p1", "a", {"metadata": {"labels": {"k": "v"}}}, "merge")
    assert node_ports(stored(res, "a")) == first
    replaced = svc("a", port(8080, name="http"), port(81, name="x"))   # `kubectl replace` without nodePorts
    replaced["metadata"]["resourceVersion"] = stored(res, "a")["metadata"]["resourceVersion"]
    assert node_ports(res.update(ADMIN, SVC, "p1", "a", replaced).obj) == first


def test_a_dry_run_shows_a_port_and_holds_none(res: Resources) -> None:
    shown = res.create(ADMIN, SVC, "p1", svc("a", port(80, 30080)), dry_run=True).obj
    assert node_ports(shown) == [30080]
    assert node_ports(res.create(ADMIN, SVC, "p1", svc("b", port(80, 30080))).obj) == [30080]


def test_a_restart_rebuilds_what_is_used_from_the_stored_services(tmp_path: Path) -> None:
    rng = NodePortRange(30000, 30002)
    res, store = make(tmp_path / "db", rng)
    res.create(ADMIN, by_kind("Namespace"), "", {"metadata": {"name": "p1"}})
    held = {node_ports(res.create(ADMIN, SVC, "p1", svc(n, port(80))).obj)[0] for n in ("a", "b")}
    store.close()
    res, store = make(tmp_path / "db", rng, seed=1)   # a new server: same random choices, nothing in memory
    try:
        got = node_ports(res.create(ADMIN, SVC, "p1", svc("c", port(80))).obj)[0]
        assert got not in held and {got, *held} == {30000, 30001, 30002}
        with pytest.raises(OsdnError, match=r"failed to allocate a nodePort for Service p1/d: range 30000-30002 is full"):
            res.create(ADMIN, SVC, "p1", svc("d", port(80)))
    finally:
        store.close()


class Zero(random.Random):
    def randrange(self, *args: Any, **kwargs: Any) -> int:
        return 0   # every allocation starts its scan at the range's first port


class SlowStore(SQLiteStore):
    def create(self, key: Key, obj: Obj) -> Obj:
        time.sleep(0.05)   # widens the gap between admission and commit: every racer is admitted in it
        return super().create(key, obj)


def test_racing_creates_never_get_the_same_port(tmp_path: Path) -> None:
    store = SlowStore(tmp_path / "db")
    res = Resources(store, Authorizer(store), AdmissionChain([NodePortAllocation(NodePortRange(30000, 30023), Zero())]))
    res.create(ADMIN, by_kind("Namespace"), "", {"metadata": {"name": "p1"}})
    got: list[int] = []
    errors: list[BaseException] = []

    def create(i: int) -> None:
        try:
            got.extend(node_ports(res.create(ADMIN, SVC, "p1", svc(f"s{i}", port(80, name="a"), port(81, name="b"))).obj))
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    store.close()
    assert not errors and sorted(got) == list(range(30000, 30024))


def test_the_range_comes_from_the_master_config_and_bad_ones_are_refused() -> None:
    assert node_port_range({}) == NodePortRange(30000, 32767)
    assert node_port_range({"kubernetesMasterConfig": {"servicesNodePortRange": "31000-31010"}}) == \
        NodePortRange(31000, 31010)
    assert parse_range("30000+10") == NodePortRange(30000, 30010)
    with pytest.raises(BadRequestError, match="servicesNodePortRange: invalid node port range \"9-2\""):
        node_port_range({"kubernetesMasterConfig": {"servicesNodePortRange": "9-2"}})
