"""Egress IPs end to end in a 4-node lab: the outside web server (203.0.113.80) reports the source.

node4 runs the client pods and never fails; node1..node3 host egress IPs from the lab's free underlay
range 198.18.0.100-199. Real connections, real failures (`osdn lab stop-node`: the node's underlay
link goes down and its agent is killed), and a tcpdump capture on the outside server proving that
no connection attempt of an egress project ever arrives from a node address.
The egress firewall (EgressNetworkPolicy) of a project with an egress IP still applies: it is checked
on the pod's own node, before the connection is steered to the holder.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from labcheck import wait_for
from labkit import Lab, make_lab, needs_agent

from osdn.kernel import netns
from osdn.lab import nodefail
from osdn.lab.egresswatch import Capture, measure_failover, source_seen

pytestmark = [pytest.mark.e2e, needs_agent]
NODE_IPS = {"node1": "198.18.0.11", "node2": "198.18.0.12", "node3": "198.18.0.13", "node4": "198.18.0.14"}
E1, E2 = "198.18.0.100", "198.18.0.101"


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    yield from make_lab("eg", "multitenant", 4)


@pytest.fixture(scope="module")
def pods(lab: Lab) -> dict[str, str]:
    """Pod name -> its network namespace."""
    spots = {"mm/on1": "node1", "mm/on4": "node4", "plain/p4": "node4", "aa/a4": "node4", "bb/b4": "node4",
             "dd/d4": "node4"}
    return {key.split("/")[1]: lab.pod(key.split("/")[1], key.split("/")[0], node)[1] for key, node in spots.items()}


def patch(lab: Lab, kind: str, name: str, body: dict[str, Any]) -> None:
    """A merge patch through the API (the seed's `oc patch ... --type=merge`, without a process start:
    the seed's four automatic-mode patches then land within the master's 1 s assignment batch)."""
    lab.client.patch({"netnamespace": "NetNamespace", "hostsubnet": "HostSubnet"}[kind], name, body)


def decision(lab: Lab, project: str) -> dict[str, Any]:
    text = lab.client.get("NetNamespace", project).get("metadata", {}).get("annotations", {}).get(
        "network.osdn.io/egress")
    return json.loads(text) if text else {}


def addresses(lab: Lab, node: str) -> set[str]:
    out = netns.run_cmd(lab.node(node).netns, ["ip", "-4", "-o", "addr", "show", "dev", "eth0"]).stdout
    return {line.split()[3].split("/")[0] for line in out.splitlines() if "eth0:eip" in line}


def classified(lab: Lab, node: str, pod_ns: str) -> bool:
    """The node's rules know the pod as one of an egress project (map `egress_code`)."""
    ip = netns.run_cmd(pod_ns, ["ip", "-4", "-o", "addr", "show", "dev", "eth0"]).stdout.split()[3].split("/")[0]
    done = netns.run_cmd(lab.node(node).netns, ["nft", "list", "map", "inet", "osdn", "egress_code"], check=False)
    return f"{ip} :" in done.stdout


def seen_from(pod_ns: str, want: str | None, within: float = 5.0) -> str | None:
    deadline = time.monotonic() + within
    while True:
        got = source_seen(pod_ns)
        if got == want or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def test_manual_single_ip_from_the_holder_and_from_another_node(lab: Lab, pods: dict[str, str]) -> None:
    assert source_seen(pods["on4"]) == NODE_IPS["node4"]  # before: masqueraded to its node
    patch(lab, "hostsubnet", "node1", {"egressIPs": [E1]})
    patch(lab, "netnamespace", "mm", {"egressIPs": [E1]})
    assert seen_from(pods["on1"], E1) == E1          # SNAT on the holder
    assert seen_from(pods["on4"], E1) == E1          # steered over VXLAN to node1, SNAT there
    assert addresses(lab, "node1") == {E1} and addresses(lab, "node4") == set()
    assert source_seen(pods["p4"]) == NODE_IPS["node4"]  # another project is unaffected
    # the holder answers ARP for the egress IP: the router reached it
    neigh = netns.run_cmd(f"{lab.info.prefix}router", ["ip", "neigh", "show", E1]).stdout
    link = netns.run_cmd(lab.node("node1").netns, ["ip", "-o", "link", "show", "eth0"]).stdout.split()
    assert neigh.split()[4] == link[link.index("link/ether") + 1]


def test_manual_multi_ip_fails_over_to_the_second_and_back(lab: Lab, pods: dict[str, str]) -> None:
    patch(lab, "hostsubnet", "node2", {"egressIPs": [E2]})
    patch(lab, "netnamespace", "mm", {"egressIPs": [E1, E2]})
    wait_for("standby E2 on node2", lambda: decision(lab, "mm").get("standby") == [E2])
    assert seen_from(pods["on4"], E1) == E1
    with Capture(f"{lab.info.prefix}web") as cap:
        result = measure_failover(pods["on4"], lambda: nodefail.stop_node(lab.info, "node1"), {E2}, timeout=30)
    assert result.seconds is not None, result  # how fast: bench/egress.py (tests do not judge timing)
    print(f"\nfailover seen outside after {result.seconds:.2f}s")
    assert result.sources <= {E1, E2, None}, result  # the pod never saw a node address
    assert cap.seen() <= {E1, E2}, cap.sources           # nor did the outside: no node IP, ever
    nodefail.start_node(lab.info, "node1")
    assert seen_from(pods["on4"], E1, within=30) == E1   # back to the first once node1 is reachable


def test_egress_firewall_still_applies_to_a_project_with_an_egress_ip(lab: Lab, pods: dict[str, str]) -> None:
    web2 = "203.0.113.81"  # the outside web server's second address
    rules = [{"type": "Allow", "to": {"cidrSelector": f"{web2}/32"}}, {"type": "Deny", "to": {"cidrSelector": "0.0.0.0/0"}}]
    lab.client.create({"kind": "EgressNetworkPolicy", "apiVersion": "network.openshift.io/v1",
                       "metadata": {"name": "default", "namespace": "mm"}, "spec": {"egress": rules}}, "mm")
    try:
        wait_for("the firewall denies .80", lambda: source_seen(pods["on4"]) is None, timeout=30)
        with Capture(f"{lab.info.prefix}web") as cap:
            assert source_seen(pods["on4"]) is None and source_seen(pods["on1"]) is None
            assert source_seen(pods["on4"], server=web2) == E1  # allowed: leaves with the egress IP
        assert {src for _, src in cap.sources} == {E1}, cap.sources  # the denied ones never left the cluster
    finally:
        lab.client.delete("EgressNetworkPolicy", "default", "mm")
    assert seen_from(pods["on4"], E1) == E1


def test_drop_when_no_egress_ip_is_usable(lab: Lab, pods: dict[str, str]) -> None:
    patch(lab, "netnamespace", "dd", {"egressIPs": ["198.18.0.130"]})  # hosted by no node
    wait_for("dd dropped", lambda: decision(lab, "dd").get("action") == "drop")
    wait_for("node4 applied it", lambda: classified(lab, "node4", pods["d4"]), timeout=30)
    with Capture(f"{lab.info.prefix}web") as cap:
        assert all(source_seen(pods["d4"]) is None for _ in range(3))
    assert cap.sources == [], cap.sources  # nothing arrived, least of all from node4's address
    assert source_seen(pods["p4"]) == NODE_IPS["node4"]


def test_automatic_assignment_across_two_nodes_and_failover(lab: Lab, pods: dict[str, str]) -> None:
    patch(lab, "netnamespace", "mm", {"egressIPs": None})
    for node in ("node1", "node2"):
        patch(lab, "hostsubnet", node, {"egressIPs": None})
    patch(lab, "netnamespace", "aa", {"egressIPs": ["198.18.0.120"]})
    patch(lab, "netnamespace", "bb", {"egressIPs": ["198.18.0.121"]})
    for node in ("node2", "node3"):
        patch(lab, "hostsubnet", node, {"egressCIDRs": ["198.18.0.120/29"]})
    wait_for("balanced", lambda: {decision(lab, "aa").get("node"), decision(lab, "bb").get("node")} == {"node2", "node3"})
    holder = decision(lab, "aa")["node"]
    other = "node3" if holder == "node2" else "node2"
    assert seen_from(pods["a4"], "198.18.0.120") == "198.18.0.120"
    assert seen_from(pods["b4"], "198.18.0.121") == "198.18.0.121"
    with Capture(f"{lab.info.prefix}web") as cap:
        result = measure_failover(pods["a4"], lambda: nodefail.stop_node(lab.info, holder), {"198.18.0.120"},
                                  timeout=30)
    assert result.seconds is not None, result
    print(f"\nfailover seen outside after {result.seconds:.2f}s")
    assert decision(lab, "aa")["node"] == other and "198.18.0.120" in addresses(lab, other)
    assert cap.seen() <= {"198.18.0.120", "198.18.0.121"}, cap.sources
    nodefail.start_node(lab.info, holder)
    wait_for("old holder keeps no stale address", lambda: "198.18.0.120" not in addresses(lab, holder), timeout=30)


def test_cleanup_after_removal_and_agent_restart(lab: Lab, pods: dict[str, str]) -> None:
    for project in ("aa", "bb", "dd"):
        patch(lab, "netnamespace", project, {"egressIPs": None})
    for node in ("node2", "node3"):
        patch(lab, "hostsubnet", node, {"egressCIDRs": None, "egressIPs": None})
    wait_for("addresses removed", lambda: all(not addresses(lab, n) for n in NODE_IPS), timeout=30)
    assert seen_from(pods["a4"], NODE_IPS["node4"]) == NODE_IPS["node4"]  # masqueraded again
    # an address left behind while the agent was down is removed by the restarted agent
    patch(lab, "hostsubnet", "node3", {"egressIPs": ["198.18.0.140"]})
    patch(lab, "netnamespace", "bb", {"egressIPs": ["198.18.0.140"]})
    wait_for("node3 holds .140", lambda: addresses(lab, "node3") == {"198.18.0.140"}, timeout=30)
    lab.stop_agent("node3", sig=9)
    patch(lab, "netnamespace", "bb", {"egressIPs": None})
    patch(lab, "hostsubnet", "node3", {"egressIPs": None})
    assert addresses(lab, "node3") == {"198.18.0.140"}  # nobody removed it yet
    lab.start_agent("node3")
    assert addresses(lab, "node3") == set()
    # node4's agent was not restarted: it drops its steering rule on its own next sync
    wait_for("node4's steering rules gone with the last egress IP",
             lambda: "fwmark" not in netns.run_cmd(lab.node("node4").netns, ["ip", "rule"]).stdout, timeout=30)
