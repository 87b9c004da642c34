"""Pure EndpointSlice planning (osdn.master.slices): content as Kubernetes' EndpointSlice and
mirroring controllers publish it, splitting at 100 endpoints, little churn, and a fixed point."""

from __future__ import annotations

import copy
import itertools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from osdn.api.kinds.discovery import validate_endpoint_slice
from osdn.master.slices import (
    CONTROLLER,
    HEADLESS_LABEL,
    MANAGED_BY_LABEL,
    MIRROR_CONTROLLER,
    SERVICE_NAME_LABEL,
    SlicePlan,
    desired_for_endpoints,
    desired_for_service,
    plan_slices,
)

Obj = dict[str, Any]


def svc(ports: list[Obj] | None = None, **spec: Any) -> Obj:
    return {"metadata": {"name": "web", "namespace": "p", "uid": "svc-uid", "labels": {"team": "a"}},
            "spec": {"selector": {"app": "web"}, "clusterIP": "172.30.0.20",
                     "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]
                     if ports is None else ports, **spec}}


def pod(name: str, ip: str | None, ready: bool = True, ports: list[Obj] | None = None, **meta: Any) -> Obj:
    return {"metadata": {"name": name, "namespace": "p", "uid": f"u-{name}", "labels": {"app": "web"}, **meta},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "ports": ports or []}]},
            "status": {"phase": "Running", "podIP": ip,
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


class FakeStore:
    """Applies a plan as the API server would (generateName gets a suffix, resourceVersions grow)."""

    def __init__(self) -> None:
        self.objs: dict[str, Obj] = {}
        self.rv = itertools.count(1)
        self.names = itertools.count(1)

    def apply(self, plan: SlicePlan) -> None:
        for obj in plan.create:
            obj = copy.deepcopy(obj)
            meta = obj["metadata"]
            meta["name"] = meta.pop("generateName") + f"{next(self.names):05d}"
            self._put(obj)
        for obj in plan.update:
            assert obj["metadata"]["resourceVersion"] == self.objs[obj["metadata"]["name"]]["metadata"]["resourceVersion"]
            self._put(copy.deepcopy(obj))
        for name in plan.delete:
            del self.objs[name]

    def _put(self, obj: Obj) -> None:
        assert validate_endpoint_slice(obj, None) == [], obj
        obj["metadata"]["resourceVersion"] = str(next(self.rv))
        self.objs[obj["metadata"]["name"]] = obj

    def items(self) -> list[Obj]:
        return list(self.objs.values())


def converge(store: FakeStore, service: Obj, pods: list[Obj]) -> None:
    store.apply(plan_slices(desired_for_service(service, pods), store.items()))
    assert plan_slices(desired_for_service(service, pods), store.items()).empty()


def test_slice_content_is_what_kubernetes_publishes() -> None:
    terminating = pod("c", "10.128.0.7", deletionTimestamp="2026-01-01T00:00:00Z")
    pods = [pod("a", "10.128.0.5"), pod("b", "10.128.0.6", ready=False), terminating, pod("d", None),
            {**pod("e", "10.128.0.9"), "status": {"phase": "Succeeded", "podIP": "10.128.0.9"}}]
    store = FakeStore()
    converge(store, svc(), pods)
    [only] = store.items()
    meta = only["metadata"]
    assert meta["name"].startswith("web-")
    assert meta["labels"] == {"team": "a", SERVICE_NAME_LABEL: "web", MANAGED_BY_LABEL: CONTROLLER}
    assert meta["ownerReferences"] == [{"apiVersion": "v1", "kind": "Service", "name": "web", "uid": "svc-uid",
                                        "controller": True, "blockOwnerDeletion": True}]
    assert only["addressType"] == "IPv4"
    assert only["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    conds = {e["targetRef"]["name"]: e["conditions"] for e in only["endpoints"]}
    assert conds == {"a": {"ready": True, "serving": True, "terminating": False},
                     "b": {"ready": False, "serving": False, "terminating": False},
                     "c": {"ready": False, "serving": True, "terminating": True}}
    first = only["endpoints"][0]
    assert first == {"addresses": ["10.128.0.5"], "conditions": conds["a"], "nodeName": "n1",
                     "targetRef": {"kind": "Pod", "namespace": "p", "name": "a", "uid": "u-a"}}


def test_publish_not_ready_marks_every_endpoint_ready_and_hostname_follows_subdomain() -> None:
    store = FakeStore()
    b = pod("b", "10.128.0.6", ready=False)
    b["spec"].update(hostname="db-0", subdomain="web")
    converge(store, svc(publishNotReadyAddresses=True), [b])
    [ep] = store.items()[0]["endpoints"]
    assert ep["conditions"] == {"ready": True, "serving": False, "terminating": False}
    assert ep["hostname"] == "db-0"


def test_named_target_ports_group_pods_into_slices_per_port_set() -> None:
    service = svc([{"name": "m", "port": 80, "targetPort": "metrics", "protocol": "TCP"}])
    pods = [pod("a", "10.128.0.5", ports=[{"name": "metrics", "containerPort": 9090}]),
            pod("b", "10.128.0.6", ports=[{"name": "metrics", "containerPort": 9191}]),
            pod("c", "10.128.0.7")]
    store = FakeStore()
    converge(store, service, pods)
    by_ports = {tuple(p["port"] for p in s["ports"]): [e["addresses"][0] for e in s["endpoints"]]
                for s in store.items()}
    assert by_ports == {(9090,): ["10.128.0.5"], (9191,): ["10.128.0.6"], (): ["10.128.0.7"]}


def test_more_than_100_endpoints_are_split_and_a_removal_touches_one_slice() -> None:
    pods = [pod(f"p{i:03d}", f"10.128.{i // 200}.{i % 200 + 1}") for i in range(250)]
    store = FakeStore()
    converge(store, svc(), pods)
    assert sorted(len(s["endpoints"]) for s in store.items()) == [50, 100, 100]
    before = {s["metadata"]["name"]: s["metadata"]["resourceVersion"] for s in store.items()}
    plan = plan_slices(desired_for_service(svc(), pods[1:]), store.items())
    assert (len(plan.create), len(plan.update), plan.delete) == (0, 1, [])
    store.apply(plan)
    changed = [n for n, s in store.objs.items() if s["metadata"]["resourceVersion"] != before[n]]
    assert len(changed) == 1 and sum(len(s["endpoints"]) for s in store.items()) == 249


def test_new_endpoints_fill_a_slice_with_room_before_a_new_one() -> None:
    pods = [pod(f"p{i:03d}", f"10.128.1.{i + 1}") for i in range(120)]
    store = FakeStore()
    converge(store, svc(), pods[:100])
    converge(store, svc(), pods[:90])
    converge(store, svc(), pods)
    assert sorted(len(s["endpoints"]) for s in store.items()) == [20, 100]


def test_no_endpoints_keeps_one_placeholder_and_a_headless_service_is_labelled() -> None:
    store = FakeStore()
    converge(store, svc(clusterIP="None"), [pod("a", "10.128.0.5")])
    assert store.items()[0]["metadata"]["labels"][HEADLESS_LABEL] == ""
    converge(store, svc(clusterIP="None"), [])
    [placeholder] = store.items()
    assert (placeholder["endpoints"], placeholder["ports"]) == ([], [])


def test_a_recreated_service_replaces_the_slices_of_the_old_one() -> None:
    store = FakeStore()
    converge(store, svc(), [pod("a", "10.128.0.5")])
    old = set(store.objs)
    again = svc()
    again["metadata"]["uid"] = "new-uid"
    converge(store, again, [pod("a", "10.128.0.5")])
    assert not old & set(store.objs)
    assert store.items()[0]["metadata"]["ownerReferences"][0]["uid"] == "new-uid"


def test_a_to_b_to_a_converges_back_to_the_same_endpoints() -> None:
    a = [pod(f"p{i}", f"10.128.2.{i + 1}") for i in range(5)]
    b = a[2:] + [pod("q", "10.128.3.1", ready=False)]
    store = FakeStore()
    converge(store, svc(), a)
    first = sorted((e["targetRef"]["name"], str(e["conditions"])) for s in store.items() for e in s["endpoints"])
    converge(store, svc(), b)
    converge(store, svc(), a)
    assert sorted((e["targetRef"]["name"], str(e["conditions"])) for s in store.items()
                  for e in s["endpoints"]) == first


def test_manual_endpoints_are_mirrored_as_the_mirroring_controller_does() -> None:
    ep = {"metadata": {"name": "ext", "namespace": "p", "uid": "ep-uid", "labels": {"x": "y"},
                       "annotations": {"note": "n", "kubectl.kubernetes.io/last-applied-configuration": "{}"}},
          "subsets": [{"addresses": [{"ip": "192.0.2.7", "nodeName": "n2"}], "notReadyAddresses": [{"ip": "192.0.2.8"}],
                       "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}]}
    desired = desired_for_endpoints(ep)
    store = FakeStore()
    store.apply(plan_slices(desired, []))
    assert plan_slices(desired, store.items()).empty()
    [mirrored] = store.items()
    assert mirrored["metadata"]["labels"] == {"x": "y", SERVICE_NAME_LABEL: "ext", MANAGED_BY_LABEL: MIRROR_CONTROLLER}
    assert mirrored["metadata"]["annotations"] == {"note": "n"}
    assert mirrored["metadata"]["ownerReferences"][0]["kind"] == "Endpoints"
    assert mirrored["endpoints"] == [{"addresses": ["192.0.2.7"], "conditions": {"ready": True}, "nodeName": "n2"},
                                     {"addresses": ["192.0.2.8"], "conditions": {"ready": False}}]
    store.apply(plan_slices(desired_for_endpoints({**ep, "subsets": []}), store.items()))
    assert store.items() == []


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sets(st.integers(0, 259), max_size=260), st.booleans()), min_size=1, max_size=5))
def test_any_sequence_of_pod_sets_converges_to_exactly_the_desired_endpoints(
        steps: list[tuple[set[int], bool]]) -> None:
    """Whatever the pods were before, after one plan the slices hold each selected pod once, no slice
    is over 100 or empty (but the one placeholder), and planning again has nothing to do."""
    store = FakeStore()
    for chosen, ready in steps:
        pods = [pod(f"p{i:03d}", f"10.128.{i // 200}.{i % 200 + 1}", ready=ready or i % 2 == 0) for i in sorted(chosen)]
        converge(store, svc(), pods)
        held = [e["targetRef"]["name"] for s in store.items() for e in s["endpoints"]]
        assert sorted(held) == sorted(p["metadata"]["name"] for p in pods)
        sizes = [len(s["endpoints"]) for s in store.items()]
        assert all(0 < n <= 100 for n in sizes) or (sizes == [0] and not pods)
