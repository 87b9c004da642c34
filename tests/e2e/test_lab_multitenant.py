"""A 2-node lab in multitenant mode: projects are isolated by NetID on one node and across nodes,
`adm pod-network join-projects` opens them to each other; then `lab down` leaves nothing behind."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from labkit import Lab, make_lab, needs_agent

pytestmark = [pytest.mark.e2e, needs_agent]


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    yield from make_lab("mt", "multitenant", 2)


@pytest.fixture(scope="module")
def pods(lab: Lab) -> dict[str, tuple[str, str]]:
    spots = {"p1": ("red", "node1"), "p2": ("red", "node2"), "q1": ("blue", "node1"), "q2": ("blue", "node2")}
    return {name: lab.pod(name, proj, node) for name, (proj, node) in spots.items()}


def netid(lab: Lab, project: str) -> int:
    return int(lab.client.get("NetNamespace", project)["netid"])


def test_projects_get_their_own_netids(lab: Lab, pods: dict[str, tuple[str, str]]) -> None:
    assert netid(lab, "red") != netid(lab, "blue")
    assert 0 not in (netid(lab, "red"), netid(lab, "blue"))


def test_same_project_talks_on_one_node_and_across(lab: Lab, pods: dict[str, tuple[str, str]]) -> None:
    assert lab.can_connect(pods["p1"][1], pods["p2"][0])
    assert lab.can_connect(pods["p2"][1], pods["p1"][0])
    assert lab.can_connect(pods["q1"][1], pods["q2"][0])


def test_other_projects_are_blocked(lab: Lab, pods: dict[str, tuple[str, str]]) -> None:
    assert not lab.can_connect(pods["p1"][1], pods["q1"][0], want=False), "same node"
    assert not lab.can_connect(pods["p1"][1], pods["q2"][0], want=False), "across nodes"
    assert not lab.can_connect(pods["q2"][1], pods["p1"][0], want=False)


def test_join_projects_opens_them(lab: Lab, pods: dict[str, tuple[str, str]]) -> None:
    lab.cli("adm", "pod-network", "join-projects", "--to", "red", "blue")
    deadline = time.monotonic() + 10
    while netid(lab, "blue") != netid(lab, "red") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert netid(lab, "blue") == netid(lab, "red")
    assert lab.can_connect(pods["q1"][1], pods["p2"][0], within=10)
    assert lab.can_connect(pods["p1"][1], pods["q1"][0])
