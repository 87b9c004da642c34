"""Services on the node, pure: compile (API objects -> ServiceVIP), render (kube-proxy nftables shape)
and plan (service churn is chains and elements only; the affinity set is never diffed)."""

from __future__ import annotations

from dataclasses import replace

from node_builders import base_intent, local_pod

from osdn.model.cluster import ClusterState
from osdn.model.servicenet import dns_service
from osdn.node.plan import plan
from osdn.node.render import render_node
from osdn.node.render.ruleset import Ruleset, Set, Table
from osdn.node.render.services import affinity_chains, endpoint_chain, service_chain
from osdn.node.services import ServiceEndpoint, ServiceVIP, compute_services
from tests.unit.model.model_builders import cluster_network, hostsubnet, namespace, pod, service


def cluster(*extra: dict) -> ClusterState:
    objs = [cluster_network("networkpolicy"), namespace("p"), hostsubnet("n1", "192.168.0.1", "10.128.0.0/23"),
            pod("p", "w1", "10.128.0.10", {"app": "web"}, ports=(("http", 8080, "TCP"),)),
            pod("p", "w2", "10.128.2.11", {"app": "web"}, node="n2", ports=(("http", 8081, "TCP"),)),
            service("p", "web", "172.30.0.20", {"app": "web"}, (("web", 80, "TCP", "http"), ("dns", 53, "UDP", 53))),
            service("p", "none", "172.30.0.21", {"app": "nobody"}, (("web", 80, "TCP", 8080),)),
            service("p", "headless", "None", {"app": "web"}, (("web", 80, "TCP", 8080),))]
    return ClusterState.from_objects(objs + list(extra))


def by_vip(vips: tuple[ServiceVIP, ...]) -> dict[tuple[str, str, int], ServiceVIP]:
    return {(v.vip, v.proto, v.port): v for v in vips}


def test_compile_resolves_named_target_ports_per_pod_and_skips_headless() -> None:
    got = by_vip(compute_services(cluster(), "10.128.0.1"))
    assert got[("172.30.0.20", "tcp", 80)].endpoints == (ServiceEndpoint("10.128.0.10", 8080),
                                                         ServiceEndpoint("10.128.2.11", 8081))
    assert [e.port for e in got[("172.30.0.20", "udp", 53)].endpoints] == [53, 53]
    assert got[("172.30.0.21", "tcp", 80)].endpoints == ()
    assert all(v.key != "p/headless:web" for v in got.values())


def test_compile_dns_service_is_the_nodes_own_gateway_and_affinity_is_carried() -> None:
    sticky = service("p", "sticky", "172.30.0.22", {"app": "web"}, (("web", 80, "TCP", 8080),))
    sticky["spec"].update(sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": {"timeoutSeconds": 30}})
    dns = {**dns_service("172.30.0.0/16"), "kind": "Service"}
    got = by_vip(compute_services(cluster(sticky, namespace("openshift-dns"), dns), "10.128.0.1"))
    assert got[("172.30.0.10", "udp", 53)].endpoints == (ServiceEndpoint("10.128.0.1", 53),)
    assert got[("172.30.0.10", "tcp", 53)].endpoints == (ServiceEndpoint("10.128.0.1", 53),)
    assert got[("172.30.0.22", "tcp", 80)].affinity == 30 and got[("172.30.0.20", "tcp", 80)].affinity is None


WEB = ServiceVIP("172.30.0.20", "tcp", 80, "p/web:web", (ServiceEndpoint("10.128.0.10", 8080),
                                                          ServiceEndpoint("10.128.2.11", 8081)))
EMPTY = ServiceVIP("172.30.0.21", "tcp", 80, "p/none:web")


def inet(services: tuple[ServiceVIP, ...]) -> Table:
    intent = base_intent("networkpolicy", local_pods=(local_pod("10.128.0.10", "vh-a"),), services=services)
    return next(t for t in render_node(intent).tables if t.family == "inet")


def test_render_dispatch_and_backends_maps_and_no_endpoints_reject() -> None:
    t = inet((WEB, EMPTY, replace(WEB, vip="172.30.0.30", key="p/b:web", endpoints=WEB.endpoints[1:])))
    sets, chains = t.set_by_name(), {c.name: c for c in t.chains}
    assert sets["svc_dispatch"].elements == {"172.30.0.20 . tcp . 80 : goto svc_n2", "172.30.0.30 . tcp . 80 : goto svc_n1"}
    assert sets["svc_backends"].elements == {"172.30.0.20 . tcp . 80 . 0 : 10.128.0.10 . 8080",
                                             "172.30.0.20 . tcp . 80 . 1 : 10.128.2.11 . 8081",
                                             "172.30.0.30 . tcp . 80 . 0 : 10.128.2.11 . 8081"}
    assert sets["svc_no_endpoints"].elements == {"172.30.0.21 . tcp . 80 : goto svc_reject"}
    assert sets["svc_no_endpoints"].map_to == "verdict"
    assert sets["svc_hairpin"].elements == {"10.128.0.10 . 10.128.0.10"}  # the local pods
    assert chains["svc_n2"].rules == ("meta mark set numgen random mod 2 meta l4proto { tcp, udp, sctp } "
                                      "dnat ip to ip daddr . meta l4proto . th dport . meta mark map @svc_backends",)
    assert chains["svc_prerouting"].hook == "prerouting" and chains["svc_prerouting"].prio == -100
    assert chains["svc_output"].hook == "output"
    forward = chains["forward"].rules
    assert "ip saddr . ip daddr @svc_hairpin accept" in forward
    assert not any("svc_no_endpoints" in r for r in forward)  # rejected before DNAT, in prerouting and output
    for name, hook in (("svc_filter_prerouting", "prerouting"), ("svc_filter_output", "output")):
        assert chains[name].hook == hook and chains[name].prio == -110 and chains[name].rules == (
            "ct state new ip daddr . meta l4proto . th dport vmap @svc_no_endpoints",
            "ct state new ip daddr @svc_nodeport_ips meta l4proto . th dport vmap @svc_np_no_endpoints")
    assert chains["svc_reject"].rules == ("meta l4proto tcp reject with tcp reset", "reject")
    assert "ip daddr 172.30.0.0/16 counter name drop_service drop" in forward
    assert chains["postrouting"].rules[0] == "ct status dnat ip saddr . ip daddr @svc_hairpin masquerade"
    assert sorted(c.name for c in t.chains if c.name.startswith(("svc_", "sep_")) and not c.hook) == \
        ["svc_n1", "svc_n2", "svc_reject"]  # one per endpoint count, not per service


def test_affinity_rules_send_a_known_client_back_to_its_endpoint() -> None:
    sticky = replace(WEB, affinity=60)
    t = inet((sticky,))
    chains = {c.name: c for c in t.chains}
    assert t.set_by_name()["svc_dispatch"].elements == {f"172.30.0.20 . tcp . 80 : goto {service_chain(sticky)}"}
    rules = chains[service_chain(sticky)].rules
    assert len(rules) == 3 and all("@svc_affinity goto sep_" in r for r in rules[:2])
    assert rules[2].startswith("numgen random mod 2 vmap { 0 : goto sep_")
    first = chains[endpoint_chain(sticky, WEB.endpoints[0])].rules
    assert "update @svc_affinity { ip saddr . meta mark timeout 60s }" in first[0]
    assert first[1] == "meta l4proto tcp dnat ip to 10.128.0.10:8080"
    assert affinity_chains(sticky) is affinity_chains(replace(sticky))  # memoized: unchanged chains are skipped


def test_service_churn_is_elements_only() -> None:
    one, two = Ruleset((inet((WEB,)),)), Ruleset((inet((WEB, EMPTY, replace(WEB, vip="172.30.0.30", key="p/b:w"))),))
    p = plan(two, one)
    assert not p.replace and p.chains_changed() == 0 and p.elements_added() == 4  # dispatch, 2 backends, no-endpoints
    assert plan(one, two).chains_changed() == 0 and plan(one, two).elements_removed() == 4  # and back
    moved = plan(Ruleset((inet((replace(WEB, endpoints=WEB.endpoints[:1]),)),)), one)
    assert not moved.replace and moved.chains_changed() == 2  # svc_n1 appears; svc_n2 goes
    assert moved.elements_added() == 1 and moved.elements_removed() == 2


def test_packet_path_affinity_entries_are_never_planned_away() -> None:
    want = Ruleset((inet((replace(WEB, affinity=60),)),))
    t = want.tables[0]
    seen = Table(t.family, t.name, t.counters, tuple(
        Set(s.name, s.type, frozenset({"10.128.0.5 . 12345"}), s.flags) if s.name == "svc_affinity" else s
        for s in t.sets), t.chains)
    assert plan(want, Ruleset((seen,))).is_empty()
