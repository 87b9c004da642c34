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
from osdn.node.render.services import endpoint_chain, service_chain, service_port_chains
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


def test_render_dispatch_map_numgen_dnat_and_no_endpoints_reject() -> None:
    t = inet((WEB, EMPTY))
    sets, chains = t.set_by_name(), {c.name: c for c in t.chains}
    assert sets["svc_dispatch"].elements == {f"172.30.0.20 . tcp . 80 : goto {service_chain(WEB)}"}
    assert sets["svc_no_endpoints"].elements == {"172.30.0.21 . tcp . 80"}
    a, b = (endpoint_chain(WEB, e) for e in WEB.endpoints)
    assert chains[service_chain(WEB)].rules == (f"numgen random mod 2 vmap {{ 0 : goto {a}, 1 : goto {b} }}",)
    assert chains[a].rules[-1] == "meta l4proto tcp dnat ip to 10.128.0.10:8080"
    assert chains[a].rules[0] == "ip saddr 10.128.0.10 ct mark set ct mark or 0x00000001"  # hairpin
    assert chains["svc_prerouting"].hook == "prerouting" and chains["svc_prerouting"].prio == -100
    assert chains["svc_output"].hook == "output"
    forward = chains["forward"].rules
    assert any("@svc_no_endpoints meta l4proto tcp reject with tcp reset" in r for r in forward)
    assert forward.index("ip daddr 172.30.0.0/16 counter name drop_service drop") < len(forward)
    assert len([c for c in t.chains if c.name.startswith(("svc_", "sep_")) and not c.hook]) == 3  # O(endpoints)


def test_affinity_rules_send_a_known_client_back_to_its_endpoint() -> None:
    sticky = replace(WEB, affinity=60)
    chains = {c.name: c for c in inet((sticky,)).chains}
    rules = chains[service_chain(sticky)].rules
    assert len(rules) == 3 and all("@svc_affinity goto sep_" in r for r in rules[:2])
    assert "update @svc_affinity { ip saddr . meta mark timeout 60s }" in chains[endpoint_chain(sticky, WEB.endpoints[0])].rules[1]


def test_service_churn_is_chains_and_elements_never_a_table_replace() -> None:
    one, two = Ruleset((inet((WEB,)),)), Ruleset((inet((WEB, EMPTY, replace(WEB, vip="172.30.0.30", key="p/b:w"))),))
    p = plan(two, one)
    assert not p.replace and p.chains_changed() == 3 and p.elements_added() == 2
    assert plan(one, two).chains_changed() == 3  # and back
    assert service_port_chains(WEB) is service_port_chains(replace(WEB))  # memoized: unchanged chains are skipped


def test_packet_path_affinity_entries_are_never_planned_away() -> None:
    want = Ruleset((inet((replace(WEB, affinity=60),)),))
    t = want.tables[0]
    seen = Table(t.family, t.name, t.counters, tuple(
        Set(s.name, s.type, frozenset({"10.128.0.5 . 12345"}), s.flags) if s.name == "svc_affinity" else s
        for s in t.sets), t.chains)
    assert plan(want, Ruleset((seen,))).is_empty()
