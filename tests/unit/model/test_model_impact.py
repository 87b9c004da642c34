"""osdn.model.impact's pod-network replay: what `adm pod-network ... --dry-run=impact` and the
console's impact preview compute from the change-network annotation."""

from __future__ import annotations

from typing import Any

from osdn.model.impact import compute_network_changes, network_change_requests
from osdn.model.netid import CHANGE_NETWORK_ANNOTATION
from osdn.model.sdnconfig import Mode


def _nn(name: str, netid: int, change: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if change is not None:
        meta["annotations"] = {CHANGE_NETWORK_ANNOTATION: change}
    return {"kind": "NetNamespace", "apiVersion": "network.openshift.io/v1", "metadata": meta,
            "netname": name, "netid": netid}


def test_join_isolate_and_global_in_order() -> None:
    objs = [_nn("a", 11), _nn("b", 12), _nn("c", 13)]
    changed, errors = compute_network_changes(objs, [("b", "join:a"), ("c", "global"), ("a", "isolate")],
                                              Mode.MULTITENANT)
    assert errors == []
    got = {o["metadata"]["name"]: o["netid"] for o in changed}
    assert got["b"] == 11 and got["c"] == 0 and got["a"] not in (11, 12, 13, 0)


def test_refusals_are_lines_and_other_modes_refuse() -> None:
    objs = [_nn("a", 11)]
    changed, errors = compute_network_changes(objs, [("a", "join:nope"), ("a", "bogus")], Mode.MULTITENANT)
    assert changed == [] and len(errors) == 2 and all(e.startswith("a: ") for e in errors)
    assert "renumbering" in compute_network_changes(objs, [("a", "global")], Mode.NETWORKPOLICY)[1][0]


def test_requests_come_from_annotated_netnamespaces_only() -> None:
    objs = [_nn("a", 11), _nn("b", 12, "join:a"), {"kind": "Namespace", "metadata": {
        "name": "c", "annotations": {CHANGE_NETWORK_ANNOTATION: "global"}}}]
    assert network_change_requests(objs) == [("b", "join:a")]
