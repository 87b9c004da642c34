"""ClusterOperator network conditions from the Network config generation and the nodes' reports."""

from __future__ import annotations

from osdn.model.operator_status import (
    APPLIED_ANNOTATION,
    ERROR_ANNOTATION,
    compute_status,
    desired_conditions,
)

NETWORK = {"metadata": {"name": "cluster", "generation": 3}}


def node(name: str, ready: bool = True, applied: int | None = None, error: str = "") -> dict:
    ann = {}
    if applied is not None:
        ann[APPLIED_ANNOTATION] = str(applied)
    if error:
        ann[ERROR_ANNOTATION] = error
    return {"metadata": {"name": name, "annotations": ann},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def statuses(network: dict | None, nodes: list[dict]) -> dict[str, str]:
    return {kind: status for kind, status, _, _ in desired_conditions(network, nodes)}


def test_all_nodes_applied_is_available_and_settled() -> None:
    conds = desired_conditions(NETWORK, [node("n1", applied=3), node("n2", applied=3)])
    assert [(k, s) for k, s, _, _ in conds] == [("Available", "True"), ("Progressing", "False"),
                                                ("Degraded", "False")]
    assert conds[1][3] == "all 2 ready nodes applied generation 3"


def test_a_node_behind_is_progressing_and_named() -> None:
    conds = desired_conditions(NETWORK, [node("n1", applied=3), node("n2", applied=2), node("n3")])
    assert conds[1][:3] == ("Progressing", "True", "Deploying")
    assert conds[1][3] == "1 of 3 ready nodes applied generation 3; waiting for n2, n3"


def test_not_ready_nodes_do_not_hold_progress() -> None:
    assert statuses(NETWORK, [node("n1", applied=3), node("n2", ready=False, applied=1)]) == {
        "Available": "True", "Progressing": "False", "Degraded": "False"}


def test_no_agents_is_unavailable_and_an_error_is_degraded() -> None:
    assert statuses(NETWORK, [])["Available"] == "False"
    conds = desired_conditions(NETWORK, [node("n1", applied=3, error="nft: table busy")])
    assert conds[2] == ("Degraded", "True", "ApplyFailed", "n1: nft: table busy")


def test_missing_network_config_is_degraded() -> None:
    assert statuses(None, [node("n1", applied=0)]) == {"Available": "True", "Progressing": "False",
                                                       "Degraded": "True"}


def test_transition_time_kept_while_status_holds() -> None:
    first = compute_status(NETWORK, [node("n1", applied=2)], None, "T1", "0.1.0")
    assert {c["type"]: c["lastTransitionTime"] for c in first["conditions"]} == {
        "Available": "T1", "Progressing": "T1", "Degraded": "T1"}
    second = compute_status(NETWORK, [node("n1", applied=3)], first, "T2", "0.1.0")
    assert {c["type"]: c["lastTransitionTime"] for c in second["conditions"]} == {
        "Available": "T1", "Progressing": "T2", "Degraded": "T1"}
    assert second["versions"] == [{"name": "operator", "version": "0.1.0"}]
    assert compute_status(NETWORK, [node("n1", applied=3)], second, "T3", "0.1.0") == second
