"""Multicast in a 2-node lab, with real UDP group traffic: the delivery matrix of issue 15.

Multitenant: a project without the annotation gets nothing; an enabled project's pods on both nodes
get a member's packets (head-end replication over VXLAN); two enabled projects using the same group
never see each other's; joined projects deliver only once both are enabled; a global project needs
every netid-0 project (default too) enabled and then reaches only global pods; isolating a joined
project splits delivery; removing the annotation stops it. Networkpolicy: an enabled project with a
deny-all ingress policy still receives its own multicast; other projects, even allowed by policy,
never do. Each class has its own lab (run this file alone).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from labkit import Lab, make_lab, needs_agent
from mcastkit import Pods, enable, expect, expect_stops
from polling import wait_for

pytestmark = [pytest.mark.e2e, needs_agent]

DENY_ALL = """apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all}
spec: {podSelector: {}}
"""
ALLOW_ALL = """apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-all}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {}}]}]
"""


def place(lab: Lab, spots: dict[str, tuple[str, str]]) -> Pods:
    return {name: lab.pod(name, proj, node) for name, (proj, node) in spots.items()}


def wait_netid(lab: Lab, project: str, same_as: str | None = None, value: int | None = None) -> None:
    def changed() -> bool:
        mine = lab.client.get("NetNamespace", project)["netid"]
        return (same_as is not None and mine == lab.client.get("NetNamespace", same_as)["netid"]) or mine == value
    wait_for(changed, what=f"NetNamespace {project}'s netid to change")


class TestMultitenant:
    @pytest.fixture(scope="class")
    @classmethod
    def lab(cls) -> Iterator[Lab]:
        yield from make_lab("mcmt", "multitenant", 2)

    @pytest.fixture(scope="class")
    @classmethod
    def pods(cls, lab: Lab) -> Pods:
        return place(lab, {"off1": ("off", "node1"), "off2": ("off", "node2"),
                           "r1": ("red", "node1"), "r2": ("red", "node2"), "r3": ("red", "node1"),
                           "b1": ("blue", "node1"), "b2": ("blue", "node2"),
                           "j1": ("j-one", "node1"), "j2": ("j-two", "node2"), "j3": ("j-two", "node1"),
                           "g1": ("glob", "node1"), "g2": ("glob", "node2"), "d1": ("default", "node2")})

    def test_disabled_project_gets_nothing(self, lab: Lab, pods: Pods) -> None:
        expect(pods, "off1", set())

    def test_enabled_project_reaches_its_pods_on_both_nodes_only(self, lab: Lab, pods: Pods) -> None:
        enable(lab, "red")
        enable(lab, "blue")
        expect(pods, "r1", {"r2", "r3"})  # r2 over VXLAN
        expect(pods, "r2", {"r1", "r3"})
        expect(pods, "b2", {"b1"})  # same group, other project: no leak either way

    def test_joined_projects_need_both_enabled(self, lab: Lab, pods: Pods) -> None:
        lab.cli("adm", "pod-network", "join-projects", "--to", "j-one", "j-two")
        wait_netid(lab, "j-two", same_as="j-one")
        enable(lab, "j-one")
        expect(pods, "j1", set(), within=2)
        enable(lab, "j-two")
        expect(pods, "j1", {"j2", "j3"})
        expect(pods, "j2", {"j1", "j3"})

    def test_global_project_reaches_only_global_pods_once_all_are_enabled(self, lab: Lab, pods: Pods) -> None:
        lab.cli("adm", "pod-network", "make-projects-global", "glob")
        wait_netid(lab, "glob", value=0)
        enable(lab, "glob")
        expect(pods, "g1", set(), within=2)  # default shares netid 0 and is not enabled
        enable(lab, "default")
        expect(pods, "g1", {"g2", "d1"})
        expect(pods, "r1", {"r2", "r3"})  # global pods get no extra reach, nor give any

    def test_isolating_a_joined_project_splits_delivery(self, lab: Lab, pods: Pods) -> None:
        lab.cli("adm", "pod-network", "isolate-projects", "j-two")
        wait_for(lambda: lab.client.get("NetNamespace", "j-two")["netid"] != lab.client.get("NetNamespace", "j-one")["netid"],
                 what="j-two's own netid")
        expect(pods, "j2", {"j3"})
        expect(pods, "j1", set())

    def test_removing_the_annotation_stops_delivery(self, lab: Lab, pods: Pods) -> None:
        expect(pods, "r1", {"r2", "r3"})
        enable(lab, "red", on=False)
        expect_stops(pods, "r1")
        expect(pods, "b1", {"b2"})


class TestNetworkPolicy:
    @pytest.fixture(scope="class")
    @classmethod
    def lab(cls) -> Iterator[Lab]:
        yield from make_lab("mcnp", "networkpolicy", 2)

    @pytest.fixture(scope="class")
    @classmethod
    def pods(cls, lab: Lab) -> Pods:
        got = place(lab, {"a1": ("alpha", "node1"), "a2": ("alpha", "node2"), "a3": ("alpha", "node1"),
                          "o1": ("omega", "node1"), "o2": ("omega", "node2")})
        for project, manifest in (("alpha", DENY_ALL), ("omega", ALLOW_ALL)):
            path = f"{lab.info.dir}/{project}-policy.yaml"
            with open(path, "w") as fh:
                fh.write(manifest)
            lab.cli("create", "-n", project, "-f", path)
        return got

    def test_deny_all_project_still_gets_its_multicast(self, lab: Lab, pods: Pods) -> None:
        assert not lab.can_connect(pods["a1"][1], pods["a2"][0], want=False)  # unicast is denied
        enable(lab, "alpha")
        enable(lab, "omega")
        expect(pods, "a1", {"a2", "a3"})
        expect(pods, "a2", {"a1", "a3"})

    def test_other_projects_never_receive_even_when_policy_allows(self, lab: Lab, pods: Pods) -> None:
        assert lab.can_connect(pods["a1"][1], pods["o2"][0])  # omega admits alpha's unicast
        expect(pods, "o1", {"o2"})
        expect(pods, "a3", {"a1", "a2"})  # and not o1, o2

    def test_removing_the_annotation_stops_delivery(self, lab: Lab, pods: Pods) -> None:
        enable(lab, "alpha", on=False)
        expect_stops(pods, "a1")
        expect(pods, "o2", {"o1"})
