"""compile_intent: API objects + node facts -> NodeIntent (pure), judged by the sets it produces."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from osdn.node.compile import LocalAttachment, NodeFacts, NoHostSubnetError, compile_intent, relevant_change
from osdn.node.intent import DestPort, NetID, PortRange
from osdn.node.render import render_node

Obj = dict[str, Any]


def cn(plugin: str = "multitenant") -> Obj:
    return {"kind": "ClusterNetwork", "metadata": {"name": "default"}, "pluginName": f"redhat/openshift-ovs-{plugin}",
            "clusterNetworks": [{"CIDR": "10.128.0.0/14", "hostSubnetLength": 9}], "serviceNetwork": "172.30.0.0/16"}


def hs(node: str, ip: str, subnet: str) -> Obj:
    return {"kind": "HostSubnet", "metadata": {"name": node}, "host": node, "hostIP": ip, "subnet": subnet}


def netns(name: str, netid: int, multicast: bool = False) -> Obj:
    ann = {"netnamespace.network.openshift.io/multicast-enabled": "true"} if multicast else {}
    return {"kind": "NetNamespace", "metadata": {"name": name, "annotations": ann}, "netname": name, "netid": netid}


def pod(ns: str, name: str, ip: str | None, node: str, labels: dict[str, str] | None = None,
        ports: list[Obj] | None = None, host_network: bool = False) -> Obj:
    return {"kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
            "spec": {"nodeName": node, "hostNetwork": host_network,
                     "containers": [{"name": "c", "image": "x", "ports": ports or []}]},
            "status": {"podIP": ip} if ip else {}}


BASE = [cn(), hs("n1", "198.18.0.11", "10.128.0.0/23"), hs("n2", "198.18.0.12", "10.128.2.0/23"),
        {"kind": "Namespace", "metadata": {"name": "a"}}, {"kind": "Namespace", "metadata": {"name": "b"}},
        netns("a", 10, multicast=True), netns("b", 11), netns("default", 0)]
FACTS = NodeFacts("n1", "198.18.0.11", (LocalAttachment("a", "p1", "10.128.0.2", "0a:58:0a:80:00:02", "osdnp1"),),
                  uplinks=("osdnvx0",))


def test_node_fields_nodes_and_gateways() -> None:
    it = compile_intent(BASE, FACTS)
    assert (it.mode, it.local_subnet, it.gateway, it.node_ip) == ("multitenant", "10.128.0.0/23", "10.128.0.1",
                                                                  "198.18.0.11")
    assert [(n.name, n.gateway) for n in it.nodes] == [("n1", "10.128.0.1"), ("n2", "10.128.2.1")]
    assert it.uplinks == ("osdnvx0",) and it.service_cidr == "172.30.0.0/16"


def test_pods_carry_netids_and_local_attachment_counts_before_the_api_shows_it() -> None:
    objs = BASE + [pod("a", "p1", None, "n1"), pod("b", "q", "10.128.2.5", "n2"),
                   pod("b", "h", "198.18.0.12", "n2", host_network=True)]
    it = compile_intent(objs, FACTS)
    assert {(p.ip, p.namespace, p.netid, p.node) for p in it.pods} == {
        ("10.128.0.2", "a", NetID(10), "n1"), ("10.128.2.5", "b", NetID(11), "n2")}
    assert [(lp.ip, lp.veth) for lp in it.local_pods] == [("10.128.0.2", "osdnp1")]


def test_multicast_needs_every_namespace_of_the_netid() -> None:
    assert compile_intent(BASE, FACTS).multicast_netids == frozenset({NetID(10)})
    joined = BASE + [netns("c", 10)]
    assert compile_intent(joined, FACTS).multicast_netids == frozenset()


def test_missing_hostsubnet_is_reported() -> None:
    with pytest.raises(NoHostSubnetError, match="n9"):
        compile_intent(BASE, NodeFacts("n9", "198.18.0.19"))


def policy(spec: Obj) -> Obj:
    return {"kind": "NetworkPolicy", "metadata": {"name": "np", "namespace": "a"}, "spec": spec}


def np_world(spec: Obj) -> list[Obj]:
    return [cn("networkpolicy"), *BASE[1:],
            pod("a", "web", "10.128.0.2", "n1", {"app": "web"}, [{"name": "http", "containerPort": 8080}]),
            pod("a", "cli", "10.128.2.3", "n2", {"role": "client"}),
            pod("b", "other", "10.128.2.4", "n2", {"role": "client"}),
            policy(spec)]


def test_policy_targets_peers_ports_and_named_ports() -> None:
    spec = {"podSelector": {"matchLabels": {"app": "web"}},
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "client"}}},
                                  {"ipBlock": {"cidr": "192.168.0.0/16", "except": ["192.168.1.0/24"]}}],
                         "ports": [{"port": 80}, {"port": 9000, "endPort": 9010, "protocol": "UDP"},
                                   {"port": "http"}, {"protocol": "SCTP"}]}]}
    it = compile_intent(np_world(spec), FACTS)
    (pol,) = it.policies
    assert pol.targets == frozenset({"10.128.0.2"}) and pol.ingress and not pol.egress
    (rule,) = pol.ingress_rules
    assert rule.peer_ips == frozenset({"10.128.2.3"})  # pod selector peers stay in the policy's namespace
    assert "192.168.0.0/24" in rule.peer_cidrs and not any(c.startswith("192.168.1.") for c in rule.peer_cidrs)
    assert rule.ports == frozenset({PortRange("tcp", 80, 80), PortRange("udp", 9000, 9010), PortRange("sctp", 0, 65535)})
    assert rule.dest_ports == frozenset({DestPort("10.128.0.2", "tcp", 8080)})
    render_node(it)  # the compiled intent is renderable


def test_rule_shape_does_not_depend_on_matches() -> None:
    """A selector peer that matches nobody is an empty set, not 'no peers': pod churn stays element-only."""
    spec = {"podSelector": {}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "nobody"}}}],
                                            "ports": [{"port": "nosuchport"}]}],
            "egress": [{}], "policyTypes": ["Ingress", "Egress"]}
    (pol,) = compile_intent(np_world(spec), FACTS).policies
    (rule,) = pol.ingress_rules
    assert rule.peer_ips == frozenset() and rule.dest_ports == frozenset() and not rule.all_ports
    assert pol.egress and pol.egress_rules[0].all_peers and pol.egress_rules[0].all_ports


def test_namespace_selector_peers_cross_namespaces() -> None:
    spec = {"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"role": "client"}}}]}]}
    (pol,) = compile_intent(np_world(spec), FACTS).policies
    assert pol.ingress_rules[0].peer_ips == frozenset({"10.128.2.3", "10.128.2.4"})


# -- the agent's event filter -----------------------------------------------------------------------

def edited(obj: Obj, edit: Callable[[Obj], None]) -> Obj:
    new = copy.deepcopy(obj)
    edit(new)
    return new


WEB = pod("a", "web", "10.128.0.2", "n1", {"app": "web"}, [{"name": "http", "containerPort": 8080}])
NP = policy({"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [{"ports": [{"port": "http"}]}]})
NOISE = [  # (kind, old, new): events that cannot change any intent
    ("Pod", WEB, edited(WEB, lambda p: p["status"].update(phase="Running", conditions=[{"type": "Ready"}]))),
    ("Pod", WEB, edited(WEB, lambda p: p["metadata"].update(annotations={"lab.osdn.io/netns": "x"},
                                                             resourceVersion="9"))),
    ("NetworkPolicy", NP, edited(NP, lambda p: p["metadata"].update(resourceVersion="7", generation=2))),
]
NOISE_IDS = ["pod-phase", "pod-annotations", "policy-resourceVersion"]
CHANGES = [
    ("Pod", WEB, edited(WEB, lambda p: p["metadata"]["labels"].update(app="db"))),
    ("Pod", WEB, edited(WEB, lambda p: p["status"].update(podIP="10.128.0.9"))),
    ("Pod", WEB, edited(WEB, lambda p: p["spec"]["containers"][0]["ports"][0].update(containerPort=9090))),
    ("Pod", WEB, None),
    ("NetworkPolicy", NP, edited(NP, lambda p: p["spec"]["ingress"][0].update(ports=[{"port": 80}]))),
    ("NetNamespace", netns("a", 10), netns("a", 12)),
]
CHANGE_IDS = ["pod-labels", "pod-ip", "pod-named-port", "pod-deleted", "policy-spec", "netid"]


@pytest.mark.parametrize(("kind", "old", "new"), NOISE, ids=NOISE_IDS)
def test_noise_is_not_relevant_and_indeed_changes_no_intent(kind: str, old: Obj, new: Obj) -> None:
    assert not relevant_change(kind, new, old)
    world = [cn("networkpolicy"), *BASE[1:]]
    assert compile_intent([*world, old], FACTS) == compile_intent([*world, new], FACTS)


@pytest.mark.parametrize(("kind", "old", "new"), CHANGES, ids=CHANGE_IDS)
def test_changes_that_matter_are_relevant(kind: str, old: Obj, new: Obj | None) -> None:
    assert relevant_change(kind, new, old) and relevant_change(kind, old, new)
    world = [cn("networkpolicy"), *BASE[1:], WEB, NP]
    keyed = {(o["kind"], o["metadata"]["name"]): o for o in world}
    after = dict(keyed)
    if new is None:
        del after[(kind, old["metadata"]["name"])]
    else:
        after[(kind, new["metadata"]["name"])] = new
    assert compile_intent(keyed.values(), FACTS) != compile_intent(after.values(), FACTS)


def test_a_pod_without_an_ip_is_irrelevant_until_it_gets_one() -> None:
    bare = pod("a", "new", None, "n2", {"app": "web"})
    assert not relevant_change("Pod", bare, None)
    assert not relevant_change("Pod", None, bare)
    assert relevant_change("Pod", edited(bare, lambda p: p["status"].update(podIP="10.128.2.9")), bare)


def test_departed_addresses_are_ips_that_left_their_pod() -> None:
    from osdn.node.agent import departed_addresses
    before = {"10.128.0.2": "a/x", "10.128.0.3": "a/y", "10.128.0.4": "b/z"}
    now = {"10.128.0.2": "a/x", "10.128.0.3": "b/w", "10.128.0.5": "a/v"}
    assert departed_addresses(before, now) == {"10.128.0.3", "10.128.0.4"}
    assert departed_addresses(None, now) == set()
