"""The pure node port choice (`osdn.model.nodeports`), table-driven: ranges, what an update keeps or
drops (kube's patchAllocatedValues / dropTypeDependentFields), shared numbers, refusals, a full
range; and the Service validation that goes with it."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from osdn.api.kinds.service import default_service, validate_service
from osdn.model.nodeports import (
    NodePortRange,
    NoFreeNodePort,
    assign_node_ports,
    drop_type_dependent,
    parse_range,
    patch_allocated,
)

Spec = dict[str, Any]
SMALL = NodePortRange(30000, 30003)


@pytest.mark.parametrize(("text", "want"), [
    ("30000-32767", NodePortRange(30000, 32767)), ("30000+10", NodePortRange(30000, 30010)),
    (" 31000 ", NodePortRange(31000, 31000)),
], ids=["dash", "plus", "one"])
def test_parse_range(text: str, want: NodePortRange) -> None:
    assert parse_range(text) == want


@pytest.mark.parametrize("text", ["abc", "9-2", "0-10", "60000-70000", "1-2-3", ""], ids=str)
def test_parse_range_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="invalid node port range"):
        parse_range(text)


def spec(kind: str, *ports: Spec, **more: Any) -> Spec:
    return {"type": kind, "ports": [dict(p) for p in ports], **more}


def test_automatic_ports_skip_the_used_and_explicit_ones_and_wrap() -> None:
    s = spec("NodePort", {"name": "a", "port": 80}, {"name": "b", "port": 81, "nodePort": 30000})
    taken, errs = assign_node_ports(s, set(), {30003}, SMALL, pick=3)   # starts at 30003: used, wraps to 30000: b's
    assert errs == [] and [p["nodePort"] for p in s["ports"]] == [30001, 30000] and sorted(taken) == [30000, 30001]


def test_a_full_range_raises_and_refusals_take_nothing() -> None:
    with pytest.raises(NoFreeNodePort, match="range 30000-30003 is full"):
        assign_node_ports(spec("NodePort", {"port": 80}), set(), {30000, 30001, 30002, 30003}, SMALL, 0)
    s = spec("NodePort", {"name": "a", "port": 80, "nodePort": 30001}, {"name": "b", "port": 81, "nodePort": 40000})
    taken, errs = assign_node_ports(s, set(), {30001}, SMALL, 0)
    assert taken == [] and [str(e) for e in errs] == [
        "spec.ports[0].nodePort: Invalid value: 30001: provided port is already allocated",
        "spec.ports[1].nodePort: Invalid value: 40000: provided port is not in the valid range. "
        "The range of valid ports is 30000-30003"]


def test_a_port_the_service_held_is_kept_even_outside_a_narrowed_range() -> None:
    s = spec("NodePort", {"port": 80, "nodePort": 31000})
    assert assign_node_ports(s, {31000}, set(), SMALL, 0) == ([], [])


@pytest.mark.parametrize(("old", "new", "want"), [
    (spec("NodePort", {"name": "a", "port": 80, "nodePort": 30001}), spec("NodePort", {"name": "a", "port": 8080}),
     [30001]),
    (spec("NodePort", {"name": "a", "port": 80, "nodePort": 30001}),
     spec("NodePort", {"name": "a", "port": 80}, {"name": "b", "port": 81, "nodePort": 30001}), [None, 30001]),
    (spec("ClusterIP", {"name": "a", "port": 80}), spec("NodePort", {"name": "a", "port": 80}), [None]),
], ids=["kept-by-name", "number-reused-by-another-port", "was-clusterip"])
def test_patch_allocated(old: Spec, new: Spec, want: list[int | None]) -> None:
    patch_allocated(new, old)
    assert [p.get("nodePort") for p in new["ports"]] == want


def test_drop_type_dependent_keeps_what_the_user_changed() -> None:
    old = spec("NodePort", {"name": "a", "port": 80, "nodePort": 30001}, {"name": "b", "port": 81, "nodePort": 30002},
               externalTrafficPolicy="Local")
    new = copy.deepcopy(old)
    new["type"] = "ClusterIP"
    new["ports"][1]["nodePort"] = 30003
    drop_type_dependent(new, old)
    assert [p.get("nodePort") for p in new["ports"]] == [None, 30003] and "externalTrafficPolicy" not in new
    still = spec("NodePort", {"name": "a", "port": 80, "nodePort": 30001})
    drop_type_dependent(still, old)
    assert still["ports"][0]["nodePort"] == 30001


def validate(obj_spec: Spec, old: Spec | None = None) -> list[str]:
    def obj(s: Spec) -> dict[str, Any]:
        o = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "p"}, "spec": copy.deepcopy(s)}
        default_service(o)
        return o
    return [str(e) for e in validate_service(obj(obj_spec), obj(old) if old is not None else None)]


def test_validation_allows_the_old_node_ports_on_a_type_change_only() -> None:
    old = spec("NodePort", {"port": 80, "nodePort": 30001})
    assert validate(spec("ClusterIP", {"port": 80, "nodePort": 30001}), old) == []   # the allocator drops it
    assert validate(spec("ClusterIP", {"port": 80, "nodePort": 30002}), old) == [
        "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]
    assert validate(spec("NodePort", {"port": 80}, clusterIP="None")) == [
        "spec.clusterIP: Invalid value: \"None\": may not be set to 'None' for NodePort services"]
    assert validate(spec("ClusterIP", {"port": 80}, externalIPs=["192.0.2.1"], externalTrafficPolicy="Local")) == []
