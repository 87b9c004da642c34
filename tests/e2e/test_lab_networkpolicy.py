"""A 3-node lab in networkpolicy mode: pod traffic on one node and across nodes, the seed policies
enforced, exec/logs, scheduling by nodeSelector, pod deletion, `lab status`."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import yaml
from labkit import Lab, make_lab, needs_agent

from osdn.kernel import netns
from osdn.lab.observe import CONNECTED, TIMEOUT, observe_connect
from osdn.lab.pods import ensure_project, wait_pod_ip
from osdn.lab.topology import plan_lab

pytestmark = [pytest.mark.e2e, needs_agent]
SEEDS = "tests/fixtures/seeds"


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    yield from make_lab("np", "networkpolicy", 3)


@pytest.fixture(scope="module")
def pods(lab: Lab) -> dict[str, tuple[str, str]]:
    """a1, a2 on node1 and a3 on node2 in project alpha; b1 on node3 and b2 on node1 in project beta."""
    spots = {"a1": ("alpha", "node1"), "a2": ("alpha", "node1"), "a3": ("alpha", "node2"),
             "b1": ("beta", "node3"), "b2": ("beta", "node1")}
    return {name: lab.pod(name, proj, node, {"app": name}) for name, (proj, node) in spots.items()}


def test_nodes_ready_with_subnets(lab: Lab) -> None:
    subnets = lab.client.list("HostSubnet")["items"]
    assert sorted(s["metadata"]["name"] for s in subnets) == ["node1", "node2", "node3"]
    assert sorted(s["hostIP"] for s in subnets) == ["198.18.0.11", "198.18.0.12", "198.18.0.13"]


def test_same_node_traffic(lab: Lab, pods: dict[str, tuple[str, str]]) -> None:
    (a1_ip, a1_ns), (a2_ip, a2_ns) = pods["a1"], pods["a2"]
    assert lab.get(a1_ns, a2_ip).startswith(f"alpha/a2 on port 80: you are {a1_ip}:")
    assert lab.get(a2_ns, a1_ip).startswith(f"alpha/a1 on port 80: you are {a2_ip}:")


def test_cross_node_traffic(lab: Lab, pods: dict[str, tuple[str, str]]) -> None:
    (a1_ip, a1_ns), (a3_ip, a3_ns) = pods["a1"], pods["a3"]
    assert lab.get(a1_ns, a3_ip).startswith(f"alpha/a3 on port 80: you are {a1_ip}:")
    assert lab.get(a3_ns, a1_ip).startswith(f"alpha/a1 on port 80: you are {a3_ip}:")


def test_exec_runs_in_the_pod_and_propagates_exit_code(lab: Lab, pods: dict[str, tuple[str, str]]) -> None:
    a3_ip = pods["a3"][0]
    done = lab.cli("exec", "-n", "alpha", "a1", "--", "wget", "-qO-", "-T", "3", f"http://{a3_ip}/")
    assert done.stdout.startswith(f"alpha/a3 on port 80: you are {pods['a1'][0]}:")
    assert lab.cli("exec", "-n", "alpha", "a1", "--", "sh", "-c", "exit 7", check=False).returncode == 7
    ip_out = lab.cli("exec", "-n", "alpha", "a1", "--", "ip", "-4", "-o", "addr", "show", "eth0").stdout
    assert pods["a1"][0] in ip_out


def test_logs_show_the_requests(lab: Lab, pods: dict[str, tuple[str, str]]) -> None:
    lab.get(pods["a1"][1], pods["a2"][0])
    out = lab.cli("logs", "-n", "alpha", "a2").stdout
    assert "serving HTTP on ports 80" in out and f"{pods['a1'][0]} \"GET / HTTP/1.0\" 200" in out


def test_seed_policies_isolate_a_namespace(lab: Lab, pods: dict[str, tuple[str, str]]) -> None:
    (a1_ip, a1_ns), (b1_ip, b1_ns), (b2_ip, b2_ns) = pods["a1"], pods["b1"], pods["b2"]
    assert lab.can_connect(a1_ns, b1_ip, want=True)
    for seed in ("002-networkpolicy-deny-by-default.yaml", "002-networkpolicy-allow-same-namespace.yaml"):
        with open(f"{SEEDS}/{seed}") as fh:
            lab.client.create(yaml.safe_load(fh), namespace="beta")
    assert not lab.can_connect(a1_ns, b1_ip, want=False), "alpha -> beta must be blocked"
    assert not lab.can_connect(a1_ns, b2_ip, want=False), "alpha -> beta (same node) must be blocked"
    assert lab.can_connect(b2_ns, b1_ip, want=True), "beta -> beta across nodes must stay open"
    assert lab.can_connect(b1_ns, a1_ip, want=True), "beta -> alpha (no policy) must stay open"
    lab.client.delete("NetworkPolicy", "deny-by-default", "beta")
    lab.client.delete("NetworkPolicy", "allow-same-namespace", "beta")
    assert lab.can_connect(a1_ns, b1_ip, want=True), "open again once the policies are gone"


def test_egress_ipblock_limits_traffic_to_the_outside(lab: Lab) -> None:
    """An egress policy with an ipBlock decides on the pod's own address, before masquerade."""
    web, web2 = plan_lab(lab.info.name, 3).web_ips
    _, ns = lab.pod("out", "delta", "node2", {"app": "out"})
    assert lab.get(ns, web).startswith("you are 198.18.0.12:")
    lab.client.create({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                       "metadata": {"name": "only-web2"},
                       "spec": {"podSelector": {"matchLabels": {"app": "out"}}, "policyTypes": ["Egress"],
                                "egress": [{"to": [{"ipBlock": {"cidr": "203.0.113.0/24",
                                                                "except": [f"{web}/32"]}}],
                                            "ports": [{"port": 80}]}]}}, namespace="delta")
    assert not lab.can_connect(ns, web, want=False), "the excepted address must be blocked"
    assert lab.can_connect(ns, web2, want=True)
    assert lab.get(ns, web2).startswith("you are 198.18.0.12:")
    lab.client.delete("NetworkPolicy", "only-web2", "delta")
    assert lab.can_connect(ns, web, want=True)


def test_pod_and_its_own_node_always_reach_each_other(lab: Lab) -> None:
    """Upstream: traffic to and from the node where a pod runs is always allowed, even under a full
    ingress+egress lockdown; another node is still held by the policy. Also: a node reaches pods on
    other nodes (the cluster network is on-link through its bridge)."""
    ip, ns = lab.pod("locked", "epsilon", "node1", {"app": "locked"})
    _, other_ns = lab.pod("free", "epsilon2", "node3")
    node1, node2 = f"{lab.info.prefix}node1", f"{lab.info.prefix}node2"
    assert observe_connect(node2, ip, 80, 2.0).outcome == CONNECTED, "node2 -> pod on node1"
    lab.client.create({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                       "metadata": {"name": "lockdown"},
                       "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}, namespace="epsilon")
    assert not lab.can_connect(other_ns, ip, want=False), "the lockdown holds for other pods"
    assert observe_connect(node1, ip, 80, 2.0).outcome == CONNECTED, "own node -> pod"
    assert observe_connect(ns, "198.18.0.11", 9, 2.0).reached, "pod -> own node (refused: nothing listens)"
    assert observe_connect(ns, "198.18.0.12", 9, 1.0).outcome == TIMEOUT, "pod -> another node is egress"
    assert observe_connect(node2, ip, 80, 1.0).outcome == TIMEOUT, "another node -> pod is ingress"


def test_scheduler_honours_node_selector(lab: Lab) -> None:
    lab.client.patch("Node", "node3", {"metadata": {"labels": {"disk": "ssd"}}})
    ensure_project(lab.client, "gamma")
    for i in range(4):
        spec = {"restartPolicy": "Never",
                "containers": [{"name": "c", "image": "python", "ports": [{"containerPort": 8080}]}]}
        if i >= 2:
            spec["nodeSelector"] = {"disk": "ssd"}
        lab.client.create({"apiVersion": "v1", "kind": "Pod",
                           "metadata": {"name": f"sel{i}", "namespace": "gamma"}, "spec": spec}, "gamma")
    for i in range(4):
        wait_pod_ip(lab.client, "gamma", f"sel{i}", timeout=60)
    nodes = [lab.client.get("Pod", f"sel{i}", "gamma")["spec"]["nodeName"] for i in range(4)]
    assert nodes[2] == nodes[3] == "node3"
    assert nodes[0] != nodes[1], "round-robin spreads pods without a selector"


def test_deleting_a_pod_removes_its_namespace(lab: Lab) -> None:
    lab.pod("gone", "gamma", "node2")
    ns = lab.client.get("Pod", "gone", "gamma")["metadata"]["annotations"]["lab.osdn.io/netns"]
    assert netns.netns_exists(ns)
    lab.client.delete("Pod", "gone", "gamma")
    deadline = time.monotonic() + 15
    while netns.netns_exists(ns) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not netns.netns_exists(ns)


def test_status_lists_processes_nodes_and_pods(lab: Lab, pods: dict[str, tuple[str, str]]) -> None:
    out = lab.cli("lab", "status", "--name", lab.info.name, "--dir", lab.info.dir).stdout
    assert "DEAD" not in out
    for word in ("server", "node:node1", "kubelet", "alpha/a1", pods["a1"][0], "198.18.0.13"):
        assert word in out
