"""One tenant cannot stop a node: an unenforceable NetworkPolicy fails closed for its own pods, every
other policy is compiled and rendered, and pods of a namespace the node does not know are isolated.

Pure (compile, render, the model); tests/e2e/test_lab_policy_limits.py sends the packets.
"""

from __future__ import annotations

from typing import Any

from node_builders import base_intent, local_pod

from osdn.api.kinds.networking import MAX_RULES
from osdn.model.cluster import ClusterState
from osdn.model.oracle import compute_verdict, resolve_endpoint
from osdn.model.verdict import Connection
from osdn.node.compile import LocalAttachment, NodeFacts, compile_intent
from osdn.node.intent import UNKNOWN_NETID_BASE, ClusterPod, NetID, Policy, PolicyFailure, PolicyRule
from osdn.node.render import render_node
from osdn.node.render.policy import RULE_CAPACITY, policy_ids
from osdn.node.render.ruleset import Chain, Table

Obj = dict[str, Any]
BIG = f"spec.ingress: Too many: 200: must have at most {MAX_RULES} items"


def cn(plugin: str) -> Obj:
    return {"kind": "ClusterNetwork", "metadata": {"name": "default"}, "pluginName": f"redhat/openshift-ovs-{plugin}",
            "clusterNetworks": [{"CIDR": "10.128.0.0/14", "hostSubnetLength": 9}], "serviceNetwork": "172.30.0.0/16"}


def hs(node: str, ip: str, subnet: str) -> Obj:
    return {"kind": "HostSubnet", "metadata": {"name": node}, "host": node, "hostIP": ip, "subnet": subnet}


def ns(name: str) -> Obj:
    return {"kind": "Namespace", "metadata": {"name": name}}


def netns(name: str, netid: int) -> Obj:
    return {"kind": "NetNamespace", "metadata": {"name": name}, "netname": name, "netid": netid}


def pod(namespace: str, name: str, ip: str, node: str, labels: dict[str, str] | None = None) -> Obj:
    return {"kind": "Pod", "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "x"}]}, "status": {"podIP": ip}}


def netpol(namespace: str, name: str, spec: Obj) -> Obj:
    return {"kind": "NetworkPolicy", "metadata": {"namespace": namespace, "name": name}, "spec": spec}


# t1/huge selects t1/victim with 200 ingress rules (over the API limit; stored before it existed);
# t2/allow-same-namespace is an ordinary policy on t2/web, which must keep working.
HUGE = netpol("t1", "huge", {"podSelector": {"matchLabels": {"app": "victim"}},
                             "ingress": [{"ports": [{"port": 1000 + i}]} for i in range(200)]})
SAME_NS = netpol("t2", "allow-same-namespace", {"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]})
WORLD = [cn("networkpolicy"), hs("n1", "198.18.0.11", "10.128.0.0/23"), hs("n2", "198.18.0.12", "10.128.2.0/23"),
         ns("t1"), ns("t2"),
         pod("t1", "victim", "10.128.0.2", "n1", {"app": "victim"}), pod("t1", "other", "10.128.0.3", "n1"),
         pod("t2", "web", "10.128.0.4", "n1"), pod("t2", "client", "10.128.2.5", "n2"), HUGE, SAME_NS]
FACTS = NodeFacts("n1", "198.18.0.11", tuple(
    LocalAttachment(n, p, ip, "0a:58:0a:80:00:0" + ip[-1], f"osdnp{ip[-1]}")
    for n, p, ip in (("t1", "victim", "10.128.0.2"), ("t1", "other", "10.128.0.3"), ("t2", "web", "10.128.0.4"))))


def chains(table: Table) -> dict[str, Chain]:
    return {c.name: c for c in table.chains}


def inet(intent: Any) -> Table:
    return next(t for t in render_node(intent).tables if t.family == "inet")


def test_pathological_policy_fails_closed_and_the_rest_renders() -> None:
    it = compile_intent(WORLD, FACTS)
    (failure,) = it.policy_failures
    assert (failure.namespace, failure.name) == ("t1", "huge") and failure.reason.startswith(BIG)
    pols = {(p.namespace, p.name): p for p in it.policies}
    huge, good = pols[("t1", "huge")], pols[("t2", "allow-same-namespace")]
    assert huge.targets == frozenset({"10.128.0.2"}) and huge.ingress and not huge.egress
    assert huge.ingress_rules == ()  # closed: nothing allowed by it
    assert good.ingress_rules[0].peer_ips == frozenset({"10.128.0.4", "10.128.2.5"})
    table = inet(it)  # renders: before, the node's whole sync raised here, forever
    sets, by_name = table.set_by_name(), chains(table)
    assert sets["np_ingress_dispatch"].elements == {
        "10.128.0.2 : jump np_in_t1", "10.128.0.4 : jump np_in_t2"}  # t1/other is not selected: open
    assert by_name["np_in_t1"].rules == ("counter name drop_np_ingress drop",)  # isolated, no allow
    assert any("@np_pip" in r for r in by_name["np_in_t2"].rules)


def test_the_model_agrees_and_says_why() -> None:
    """`adm verify` compares the kernel with the model: the model fails closed the same way."""
    state = ClusterState.from_objects(WORLD)

    def verdict(src: str, dst: str, port: int) -> Any:
        return compute_verdict(state, Connection(resolve_endpoint(state, src), resolve_endpoint(state, dst),
                                                 "TCP", port))

    denied = verdict("t2/web", "t1/victim", 1000)  # huge's rule 0 would allow it, were it enforced
    assert not denied.allowed and "NetworkPolicy t1/huge (not enforced, it allows nothing: " + BIG in denied.reason
    assert verdict("t2/client", "t2/web", 80).allowed
    assert verdict("t1/victim", "t1/other", 80).allowed  # egress is not in huge's policyTypes


def test_malformed_stored_policy_does_not_stop_the_others() -> None:
    broken = netpol("t1", "broken", {"podSelector": {}, "ingress": "everything"})
    it = compile_intent([*WORLD, broken], FACTS)
    assert [(f.name, f.reason.split(":")[0]) for f in it.policy_failures] == [("broken", "malformed"),
                                                                             ("huge", "spec.ingress")]
    assert {p.name for p in it.policies} == {"broken", "huge", "allow-same-namespace"}
    sets = inet(it).set_by_name()
    assert "10.128.0.3 : jump np_in_t1" in sets["np_ingress_dispatch"].elements  # broken selects all of t1


def test_render_closes_a_policy_with_more_rules_than_ids() -> None:
    """Defence in depth: an intent built without compile's checks still renders, the policy closed."""
    too_many = Policy("a", "p", frozenset({"10.128.0.2"}), ingress_rules=(PolicyRule(),) * (RULE_CAPACITY["ingress"] + 1))
    fine = Policy("b", "q", frozenset({"10.128.0.3"}), ingress_rules=(PolicyRule(all_peers=True),))
    pods = (ClusterPod("10.128.0.2", "a", NetID(10), "n1"), ClusterPod("10.128.0.3", "b", NetID(11), "n1"))
    intent = base_intent("networkpolicy", pods=pods, policies=(too_many, fine),
                         local_pods=(local_pod("10.128.0.2", "vh-a"), local_pod("10.128.0.3", "vh-b")))
    by_name = chains(inet(intent))
    assert by_name["np_in_a"].rules == ("counter name drop_np_ingress drop",)
    pid = policy_ids((too_many, fine))[("b", "q")]
    assert by_name["np_in_b"].rules[0] == f"meta mark set {pid} meta mark . ip daddr @np_tgt return"


def test_api_limit_fits_the_rule_ids() -> None:
    assert min(RULE_CAPACITY.values()) >= MAX_RULES


def test_failures_only_reported_in_networkpolicy_mode() -> None:
    objs = [cn("multitenant"), *WORLD[1:], netns("t1", 10), netns("t2", 11)]
    assert compile_intent(objs, FACTS).policy_failures == ()


# -- a pod whose namespace the node does not know yet ------------------------------------------------

def test_unknown_namespace_is_isolated_not_global_in_multitenant_mode() -> None:
    objs = [cn("multitenant"), hs("n1", "198.18.0.11", "10.128.0.0/23"), netns("default", 0), netns("t2", 11),
            pod("default", "router", "10.128.0.9", "n1"), pod("t2", "web", "10.128.0.4", "n1")]
    facts = NodeFacts("n1", "198.18.0.11", (LocalAttachment("fresh", "p", "10.128.0.5", "0a:58:0a:80:00:05", "osdnp5"),
                                            LocalAttachment("newer", "q", "10.128.0.6", "0a:58:0a:80:00:06", "osdnp6")))
    it = compile_intent(objs, facts)
    netids = {p.namespace: p.netid for p in it.pods}
    assert netids["default"] == 0 and netids["t2"] == 11  # known ones as before
    assert netids["fresh"] == UNKNOWN_NETID_BASE and netids["newer"] == UNKNOWN_NETID_BASE + 1  # was 0: global
    pod_netid = inet(it).set_by_name()["pod_netid"].elements
    assert f"10.128.0.5 : {UNKNOWN_NETID_BASE}" in pod_netid


def test_unknown_namespace_is_isolated_both_ways_in_networkpolicy_mode() -> None:
    facts = NodeFacts("n1", "198.18.0.11", (*FACTS.attachments,
                                            LocalAttachment("fresh", "p", "10.128.0.5", "0a:58:0a:80:00:05", "osdnp5")))
    early = netpol("fresh", "allow-all", {"podSelector": {}, "ingress": [{}]})  # its policies wait for it too
    it = compile_intent([*WORLD, early], facts)
    assert it.policy_failures == (PolicyFailure("t1", "huge", it.policy_failures[0].reason),)
    table = inet(it)
    sets, by_name = table.set_by_name(), chains(table)
    assert "10.128.0.5 : jump np_in_fresh" in sets["np_ingress_dispatch"].elements
    assert "10.128.0.5 : jump np_eg_fresh" in sets["np_egress_dispatch"].elements
    assert by_name["np_in_fresh"].rules == ("counter name drop_np_ingress drop",)
    assert by_name["np_eg_fresh"].rules == ("counter name drop_np_egress drop",)
    known = compile_intent([*WORLD, early, ns("fresh")], facts)  # once known: its own policies apply
    assert "10.128.0.5 : jump np_eg_fresh" not in inet(known).set_by_name()["np_egress_dispatch"].elements
    assert len(chains(inet(known))["np_in_fresh"].rules) == 2
