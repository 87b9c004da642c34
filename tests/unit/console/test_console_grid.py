"""The console's heat-map data (osdn.console.grid): pod and project grids agree with the model's
matrix pair by pair, drill-down scopes, limits, and the `adm verify` overlay."""

from __future__ import annotations

import random
from typing import Any

import pytest

from osdn.console.grid import POD, PROJECT, Mark, compute_grid, grid_to_dict, overlay_verify
from osdn.errors import ValidationError
from osdn.model.cluster import ClusterState
from osdn.model.matrix import compute_matrix

Obj = dict[str, Any]


def _pod(ns: str, name: str, ip: str | None, labels: dict[str, str]) -> Obj:
    return {"kind": "Pod", "apiVersion": "v1", "metadata": {"namespace": ns, "name": name, "labels": labels},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "x"}]},
            "status": {"podIP": ip} if ip else {}}


def _policy(ns: str, name: str, spec: Obj) -> Obj:
    return {"kind": "NetworkPolicy", "apiVersion": "networking.k8s.io/v1",
            "metadata": {"namespace": ns, "name": name}, "spec": spec}


def _cluster(seed: int) -> list[Obj]:
    """A few projects of uneven size, some pods without IP, random deny/allow policies."""
    rnd = random.Random(seed)
    objs: list[Obj] = []
    n = 2
    for p in range(rnd.randint(2, 5)):
        ns = f"p{p}"
        for i in range(rnd.randint(1, 4)):
            objs.append(_pod(ns, f"x{i}", None if rnd.random() < 0.1 else f"10.128.0.{n}", {"app": rnd.choice("ab")}))
            n += 1
        if rnd.random() < 0.5:
            objs.append(_policy(ns, "deny", {"podSelector": {}}))
        if rnd.random() < 0.5:
            objs.append(_policy(ns, "allow-a", {"podSelector": {"matchLabels": {"app": "a"}},
                                                "ingress": [{"from": [{"podSelector": {}}]}]}))
    return objs


@pytest.mark.parametrize("seed", range(12))
def test_grids_agree_with_the_model_pair_by_pair(seed: int) -> None:
    matrix = compute_matrix(ClusterState.from_objects(_cluster(seed)), "TCP", 80)
    pairs = {(c.src, c.dst): c.allowed for c in matrix.cells()}
    pod = compute_grid(matrix, POD)
    for r, src in enumerate(pod.rows):
        for c, dst in enumerate(pod.cols):
            assert pod.total[r][c] == int(src != dst)
            assert pod.allowed[r][c] == int(pairs.get((src, dst), False))
    project = compute_grid(matrix, PROJECT)
    for r, sp in enumerate(project.rows):
        for c, dp in enumerate(project.cols):
            cell = [ok for (s, d), ok in pairs.items() if s.split("/")[0] == sp and d.split("/")[0] == dp]
            assert (project.allowed[r][c], project.total[r][c]) == (sum(cell), len(cell)), (sp, dp)
    assert pod.summary() == project.summary() == (sum(pairs.values()), len(pairs))


def test_auto_aggregates_above_the_limit_and_a_scope_drills_down() -> None:
    objs = [_pod("a", f"a{i}", f"10.128.0.{i + 2}", {}) for i in range(3)] + \
           [_pod("b", f"b{i}", f"10.128.1.{i + 2}", {}) for i in range(2)] + [_policy("b", "deny", {"podSelector": {}})]
    matrix = compute_matrix(ClusterState.from_objects(objs), "TCP", 80)
    assert compute_grid(matrix, limit=5).level == POD
    grid = compute_grid(matrix, limit=4)
    assert (grid.level, grid.rows) == (PROJECT, ("a", "b"))
    assert grid.allowed == ((6, 0), (6, 0)) and grid.total == ((6, 6), (6, 2))
    down = compute_grid(matrix, scope=("a", "b"), limit=4)
    assert (down.level, down.rows, down.cols, down.scope) == (POD, ("a/a0", "a/a1", "a/a2"), ("b/b0", "b/b1"), ("a", "b"))
    assert down.allowed == ((0, 0),) * 3 and down.total == ((1, 1),) * 3


def test_limits_and_bad_levels_are_422_naming_the_field() -> None:
    matrix = compute_matrix(ClusterState.from_objects([_pod("a", f"a{i}", f"10.128.0.{i + 2}", {}) for i in range(4)]))
    with pytest.raises(ValidationError, match=r"level: pod: the cluster has 4 pods, more than the 3") as e:
        compute_grid(matrix, POD, limit=3)
    assert e.value.code == 422 and e.value.causes[0].field == "level"
    with pytest.raises(ValidationError, match=r'level: "diagonal": must be one of auto, pod, project'):
        compute_grid(matrix, "diagonal")


def _check(src: str, dst: str, port: int, agrees: bool, outcome: str = "connected") -> Obj:
    return {"from": src, "to": dst, "port": port, "agrees": agrees, "kernel": {"outcome": outcome}}


def test_verify_overlay_counts_per_cell_and_ignores_other_ports() -> None:
    objs = [_pod("a", "a0", "10.128.0.2", {}), _pod("a", "a1", "10.128.0.3", {}), _pod("b", "b0", "10.128.1.2", {})]
    matrix = compute_matrix(ClusterState.from_objects(objs), "TCP", 80)
    report = {"protocol": "TCP", "results": [
        _check("a/a0", "b/b0", 80, True), _check("a/a1", "b/b0", 80, False), _check("a/a0", "a/a1", 80, True),
        _check("b/b0", "a/a0", 80, False, "error"), _check("a/a0", "b/b0", 8080, False), _check("gone/x", "a/a0", 80, False)]}
    pods = overlay_verify(compute_grid(matrix, POD), report)
    assert dict(pods.marks) == {(0, 2): Mark(1, 0, 0), (1, 2): Mark(0, 1, 0), (0, 1): Mark(1, 0, 0), (2, 0): Mark(0, 0, 1)}
    projects = overlay_verify(compute_grid(matrix, PROJECT), report)
    assert dict(projects.marks) == {(0, 1): Mark(1, 1, 0), (0, 0): Mark(1, 0, 0), (1, 0): Mark(0, 0, 1)}
    assert grid_to_dict(projects)["verify"][1] == {"row": 0, "col": 1, "agree": 1, "disagree": 1, "failed": 0}
    assert overlay_verify(compute_grid(matrix, POD), {**report, "protocol": "UDP"}).marks == {}
    with pytest.raises(ValidationError, match="verify.results: must be a list"):
        overlay_verify(compute_grid(matrix, POD), {"results": "all good"})
