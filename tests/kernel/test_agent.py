"""Kernel tests of the node agent and the CNI plugin with a real `osdn server` (master included):
pods wired by `osdn-cni`, judged by real packets.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from agent_lab import AgentLab, agent_lab, sh

pytestmark = pytest.mark.kernel


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[AgentLab]:
    with agent_lab(tmp_path, "multitenant") as lab:
        yield lab


def test_add_check_del_two_pods_talk(lab: AgentLab) -> None:
    node = lab.add_node("n1", 1)
    start = time.perf_counter()
    a = lab.add_pod("n1", "a")
    took = time.perf_counter() - start
    b = lab.add_pod("n1", "b")
    print(f"pod ADD via osdn-cni: {took * 1000:.0f} ms")
    assert a != b and a.startswith("10.128.") and not a.endswith(".1")
    assert lab.ping("a", b) and lab.ping("b", a)
    link = sh("ip", "-n", lab.pods["a"], "-j", "link", "show", "eth0").stdout
    assert json.loads(link)[0]["address"] == "0a:58:" + ":".join(f"{int(x):02x}" for x in a.split("."))
    assert json.loads(link)[0]["mtu"] == 1450
    routes = sh("ip", "-n", lab.pods["a"], "route").stdout
    for want in ("default via 10.128.0.1", "10.128.0.0/14 dev eth0", "172.30.0.0/16 via 10.128.0.1", "224.0.0.0/4 dev eth0"):
        assert want in routes
    pod = json.loads(lab.server.cli("get", "pod", "a", "-o", "json", check=True).stdout)
    assert pod["status"]["podIP"] == a and pod["spec"]["nodeName"] == "n1" and pod["status"]["phase"] == "Running"
    assert lab.cni("CHECK", "n1", "a")[0] == 0
    assert lab.cni("DEL", "n1", "a")[0] == 0
    assert lab.cni("DEL", "n1", "a")[0] == 0  # idempotent
    assert not lab.ping("b", a)
    assert lab.server.cli("get", "pod", "a").returncode != 0  # the agent created it, the agent deleted it
    code, err = lab.cni("CHECK", "n1", "a")
    assert code == 3 and err["msg"] == "unknown container"
    node_links = sh("ip", "-n", node.netns, "-o", "link").stdout
    assert node_links.count("osdnp") == 1  # only b's veth is left


def test_multitenant_isolation_across_nodes_and_join(lab: AgentLab) -> None:
    """Two projects, pods on two nodes (VXLAN): same project talks, other project does not, until joined."""
    lab.add_node("n1", 1)
    lab.add_node("n2", 2)
    for ns in ("p1", "p2"):
        lab.server.cli("create", "namespace", ns, check=True)
    lab.wait_for(lambda: lab.server.cli("get", "netnamespace", "p2").returncode == 0, what="NetNamespace p2")
    a1 = lab.add_pod("n1", "a1", "p1")
    a2 = lab.add_pod("n2", "a2", "p1")
    b1 = lab.add_pod("n2", "b1", "p2")
    assert lab.ping("a1", a2), "same project across nodes"
    assert not lab.ping("a1", b1) and not lab.ping("b1", a1), "different projects are isolated"
    assert lab.ping("a1", "10.128.2.1") or lab.ping("a1", "10.128.0.1")  # the node (netid 0) is reachable
    lab.server.cli("adm", "pod-network", "join-projects", "--to=p1", "p2", check=True)
    lab.wait_for(lambda: lab.ping("a1", b1), what="joined projects to talk")
    assert lab.ping("b1", a2)


def test_restart_adopts_state_and_removes_strays(lab: AgentLab) -> None:
    node = lab.add_node("n1", 1)
    a = lab.add_pod("n1", "a")
    b = lab.add_pod("n1", "b")
    lab.stop_agent(node)
    assert lab.ping("a", b), "the kernel state outlives the agent"
    sh("ip", "-n", node.netns, "link", "add", "osdnpstray0000", "type", "veth", "peer", "name", "strayp")
    log_size = node.log.stat().st_size
    lab.start_agent(node)
    assert lab.ping("a", b) and lab.ping("b", a)
    assert "osdnpstray0000" not in sh("ip", "-n", node.netns, "-o", "link").stdout
    first_sync = next(line for line in node.log.read_text()[log_size:].splitlines() if "nft sync" in line)
    assert "replaced=- +0 -0" in first_sync, first_sync  # adopted: no flush, no re-add
    assert lab.cni("CHECK", "n1", "a")[0] == 0
    c = lab.add_pod("n1", "c")
    assert c not in (a, b) and lab.ping("c", a)


@pytest.fixture
def np_lab(tmp_path: Path) -> Iterator[AgentLab]:
    with agent_lab(tmp_path, "networkpolicy") as lab:
        yield lab


POLICY = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
          "metadata": {"name": "web-from-clients", "namespace": "shop"},
          "spec": {"podSelector": {"matchLabels": {"app": "web"}},
                   "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "client"}}}],
                                "ports": [{"protocol": "TCP", "port": 8080}]}]}}


def test_networkpolicy_from_the_api_is_enforced_and_removed(np_lab: AgentLab) -> None:
    lab = np_lab
    lab.add_node("n1", 1)
    lab.server.cli("create", "namespace", "shop", check=True)
    web = lab.add_pod("n1", "web", "shop", labels={"app": "web"})
    lab.add_pod("n1", "good", "shop", labels={"role": "client"})
    lab.add_pod("n1", "evil", "shop", labels={"role": "other"})
    lab.serve("web", 8080)
    assert lab.connect("good", web, 8080) and lab.connect("evil", web, 8080)
    lab.server.cli("create", "-f", "-", input=json.dumps(POLICY), check=True)
    lab.wait_for(lambda: lab.connect("evil", web, 8080, 0.3) is None, what="policy to block evil")
    assert lab.connect("good", web, 8080)
    # a pod added while the policy exists is covered before its ADD returns
    lab.add_pod("n1", "late", "shop", labels={"role": "client"})
    assert lab.connect("late", web, 8080)
    lab.server.cli("delete", "networkpolicy", "web-from-clients", "-n", "shop", check=True)
    lab.wait_for(lambda: lab.connect("evil", web, 8080, 0.3) is not None, what="traffic to return")


def test_agent_applies_kube_proxy_config_live(lab: AgentLab) -> None:
    """Editing `Network cluster` reaches a running agent: it logs the new periods, records the applied
    generation on its Node, and ClusterOperator network settles with it (the min period stays pinned
    by the harness's --min-sync-period)."""
    node = lab.add_node("n1", 1)
    lab.server.cli("patch", "network.operator.openshift.io", "cluster", "--type=merge", "-p",
                   '{"spec": {"kubeProxyConfig": {"iptablesSyncPeriod": "7s"}}}', check=True)
    net = json.loads(lab.server.cli("get", "network.operator.openshift.io", "cluster", "-o", "json",
                                    check=True).stdout)

    def applied() -> bool:
        n = json.loads(lab.server.cli("get", "node", "n1", "-o", "json", check=True).stdout)
        return n["metadata"]["annotations"].get("network.osdn.io/applied-network-generation") == \
            str(net["metadata"]["generation"])

    lab.wait_for(applied, what="the agent to apply the edited Network")
    assert "syncPeriod 7s, minSyncPeriod 100ms" in node.log.read_text()

    def settled() -> bool:
        co = json.loads(lab.server.cli("get", "clusteroperator", "network", "-o", "json", check=True).stdout)
        return {c["type"]: c["status"] for c in co["status"]["conditions"]} == {
            "Available": "True", "Progressing": "False", "Degraded": "False"}

    lab.wait_for(settled, what="ClusterOperator network to settle")
