"""Pod churn under a NetworkPolicy in a 2-node lab with tiny per-node subnets (a /29: 5 pod IPs).

Four fixed pods fill 2 of each node's 5 addresses; each round creates 3 pods per node (so every
round reuses exactly the addresses the previous round released, under other roles and sometimes
the same names), checks real connects between all pods against the model, deletes them and checks
that their IPs left every node's nft sets, their leases are released and no pod veth is left.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from labcheck import expect_model, ipam_ips, nft_ips, pod_veths
from labkit import Lab, make_lab, needs_agent

from osdn.kernel import netns
from osdn.lab.pods import PodRequest, create_pod, ensure_project, pod_netns, wait_pod_ip

pytestmark = [pytest.mark.e2e, needs_agent]
Pods = dict[str, tuple[str, str]]
NODES = ("node1", "node2")
POLICY = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
          "metadata": {"name": "db-from-clients", "namespace": "shop"},
          "spec": {"podSelector": {"matchLabels": {"app": "db"}},
                   "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "client"}}}],
                                "ports": [{"protocol": "TCP", "port": 80}]}]}}
DB: dict[str, str] = {"app": "db"}
CLIENT: dict[str, str] = {"role": "client"}
NONE: dict[str, str] = {}
ROLES = (DB, CLIENT, NONE)


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    yield from make_lab("ch", "networkpolicy", 2, "--host-subnet-length", "3")


FIXED = {"db1": ("node1", DB), "cli1": ("node1", CLIENT), "db2": ("node2", DB), "cli2": ("node2", CLIENT)}


@pytest.fixture(scope="module")
def fixed(lab: Lab) -> Pods:
    """db1 + cli1 on node1, db2 + cli2 on node2; only clients may reach the dbs."""
    ensure_project(lab.client, "shop")
    lab.client.create(POLICY, namespace="shop")
    return {f"shop/{name}": lab.pod(name, "shop", node, labels) for name, (node, labels) in FIXED.items()}


def round_specs(r: int) -> list[tuple[str, str, dict[str, str]]]:
    """Round r: 3 pods per node, roles rotated by r; round 2 reuses round 0's names."""
    names = r % 2
    return [(f"r{names}{node[-1]}{i}", node, ROLES[(i + r) % 3]) for node in NODES for i in range(3)]


def create_all(lab: Lab, specs: list[tuple[str, str, dict[str, str]]]) -> Pods:
    for name, node, labels in specs:
        create_pod(lab.client, PodRequest(name, "shop", node, labels))
    out = {}
    for name, _, _ in specs:
        ip = wait_pod_ip(lab.client, "shop", name, timeout=60)
        out[f"shop/{name}"] = (ip, pod_netns(lab.client.get("Pod", name, "shop")))
    return out


def delete_all(lab: Lab, pods: Pods) -> None:
    for key in pods:
        lab.client.delete("Pod", key.split("/")[1], "shop")
    for key, (_, ns) in pods.items():
        deadline = time.monotonic() + 30
        while netns.netns_exists(ns):
            assert time.monotonic() < deadline, f"pod {key}: namespace {ns} still there"
            time.sleep(0.05)


def wait_gone(lab: Lab, ips: set[str], within: float = 10) -> None:
    """Poll until none of `ips` is in any node's nft sets (each node learns it in a sync or two)."""
    deadline = time.monotonic() + within
    while True:
        left = {node: {ip: sorted(sets) for ip, sets in nft_ips(lab, node).items() if ip in ips} for node in NODES}
        if not any(left.values()):
            return
        assert time.monotonic() < deadline, f"deleted pods' IPs still in nft sets: {left}"
        time.sleep(0.2)


def test_churn_keeps_policy_exact_and_leaves_nothing(lab: Lab, fixed: Pods) -> None:
    expect_model(lab, fixed)
    fixed_ips = {ip for ip, _ in fixed.values()}
    role_of_ip: dict[str, list[str]] = {}
    for r in range(3):
        specs = round_specs(r)
        churn = create_all(lab, specs)
        for (_, _, labels), (ip, _) in zip(specs, churn.values(), strict=True):
            role_of_ip.setdefault(ip, []).append(next(iter(labels.values()), "none"))
        assert not fixed_ips & {ip for ip, _ in churn.values()}
        expect_model(lab, {**fixed, **churn})
        delete_all(lab, churn)
        wait_gone(lab, {ip for ip, _ in churn.values()})
        for node in NODES:
            mine = {fixed[f"shop/{name}"][0] for name, (where, _) in FIXED.items() if where == node}
            assert ipam_ips(lab, node) == mine, f"round {r}: leases on {node} are not just the fixed pods'"
            assert len(pod_veths(lab, node)) == len(mine), f"round {r}: pod veths leaked on {node}"
    assert len(role_of_ip) == 6 and all(len(roles) == 3 for roles in role_of_ip.values()), \
        f"the full subnets force every churn address to be reused each round: {role_of_ip}"
    assert any(len(set(roles)) > 1 for roles in role_of_ip.values()), f"no address changed role: {role_of_ip}"
    expect_model(lab, fixed)
