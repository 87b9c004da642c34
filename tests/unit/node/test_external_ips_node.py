"""Service externalIPs, pure: the model (`adm trace` to an externalIP DNATs like the ClusterIP), the
node's compile (one ServiceVIP per externalIP and port, one owner per address) and render (more keys of
the same maps; non-pod clients masqueraded)."""

from __future__ import annotations

from ipaddress import IPv4Address

from node_builders import base_intent, local_pod

from osdn.model.cluster import ClusterState
from osdn.node.compile import NodeFacts, compile_intent
from osdn.node.incremental import IncrementalCompiler, object_key
from osdn.node.render import render_node
from osdn.node.render.ruleset import Table
from osdn.node.render.services import EXTERNAL_MASQUERADE
from osdn.node.services import ServiceEndpoint, ServiceVIP, compute_services
from tests.unit.model.model_builders import cluster_network, hostsubnet, namespace, pod, service, verdict


def with_external(svc: dict, *ips: str) -> dict:
    svc["spec"]["externalIPs"] = list(ips)
    return svc


def cluster(*extra: dict) -> ClusterState:
    objs = [cluster_network("networkpolicy"), namespace("p"), namespace("q"),
            hostsubnet("n1", "192.168.0.1", "10.128.0.0/23"),
            pod("p", "w1", "10.128.0.10", {"app": "web"}, ports=(("http", 8080, "TCP"),)),
            pod("q", "client", "10.128.0.12"),
            with_external(service("p", "web", "172.30.0.20", {"app": "web"}, (("web", 80, "TCP", "http"),)),
                          "192.0.2.10", "192.0.2.10", "2001:db8::1")]
    return ClusterState.from_objects(objs + list(extra))


def test_compile_forwards_each_external_ip_like_the_cluster_ip() -> None:
    got = compute_services(cluster(), "10.128.0.1")
    ep = (ServiceEndpoint("10.128.0.10", 8080),)
    assert got == (ServiceVIP("172.30.0.20", "tcp", 80, "p/web:web", ep),
                   ServiceVIP("192.0.2.10", "tcp", 80, "p/web:web", ep, external=True))  # once; IPv6 skipped


def test_an_address_has_one_owner_and_a_cluster_ip_is_never_taken_over() -> None:
    thief = with_external(service("q", "thief", "172.30.0.30", {"app": "web"}, (("web", 80, "TCP", 8080),)),
                          "172.30.0.20", "192.0.2.10", "192.0.2.11")
    early = with_external(service("a", "early", "172.30.0.31", {"app": "x"}, (("web", 443, "TCP", 8443),)),
                          "192.0.2.11")
    got = {(v.vip, v.port): v.key for v in compute_services(cluster(thief, early, namespace("a")), "10.128.0.1")}
    assert got[("172.30.0.20", 80)] == "p/web:web"  # the thief's externalIP equal to web's ClusterIP: ignored
    assert got[("192.0.2.10", 80)] == "p/web:web"  # p/web < q/thief
    assert got[("192.0.2.11", 443)] == "a/early:web" and ("192.0.2.11", 80) not in got  # a/early < q/thief
    state = cluster(thief, early, namespace("a"))
    owners = [state.service_by_ip(IPv4Address(a)) for a in ("172.30.0.20", "192.0.2.10", "192.0.2.11")]
    assert [s.key if s else None for s in owners] == ["p/web", "p/web", "a/early"]  # the model: the same owners


def test_trace_to_an_external_ip_shows_the_dnat_to_the_endpoints() -> None:
    v = verdict(cluster(), "q/client", "192.0.2.10")
    assert v.allowed and [b.target for b in v.backends] == ["p/w1:8080"]
    assert [s.detail for s in v.steps if s.stage == "service"][0] == "externalIP 192.0.2.10:80/TCP -> p/w1:8080"
    assert [s.detail for s in verdict(cluster(), "q/client", "172.30.0.20").steps if s.stage == "service"][0] == \
        "172.30.0.20:80/TCP -> p/w1:8080"
    other_port = verdict(cluster(), "q/client", "192.0.2.10", port=22)  # not translated: routed as it is
    assert other_port.allowed and not other_port.backends and other_port.target == "192.0.2.10:22"
    assert not verdict(cluster(), "q/client", "172.30.0.20", port=22).allowed  # the ClusterIP drops it


def inet(services: tuple[ServiceVIP, ...]) -> Table:
    intent = base_intent("networkpolicy", local_pods=(local_pod("10.128.0.10", "vh-a"),), services=services)
    return next(t for t in render_node(intent).tables if t.family == "inet")


def test_render_keys_the_same_maps_by_external_ip_and_masquerades_non_pod_clients() -> None:
    table = inet(compute_services(cluster(), "10.128.0.1"))
    sets = {s.name: s.elements for s in table.sets}
    assert "192.0.2.10 . tcp . 80 : goto svc_n1" in sets["svc_dispatch"]
    assert "192.0.2.10 . tcp . 80 . 0 : 10.128.0.10 . 8080" in sets["svc_backends"]
    assert sets["svc_external"] == frozenset({"192.0.2.10"})
    postrouting = next(c for c in table.chains if c.name == "postrouting")
    assert EXTERNAL_MASQUERADE in postrouting.rules
    assert EXTERNAL_MASQUERADE == ("ct status dnat ip saddr != @cluster_cidrs ct original ip daddr @svc_external "
                                   "masquerade")
    empty = inet(compute_services(cluster(with_external(service("p", "none", "172.30.0.21", {"app": "no"},
                                                                (("web", 81, "TCP", 8080),)), "192.0.2.12")),
                                  "10.128.0.1"))
    assert "192.0.2.12 . tcp . 81 : goto svc_reject" in {s.name: s.elements for s in empty.sets}["svc_no_endpoints"]


def test_the_incremental_compiler_keeps_one_owner_per_address_across_services() -> None:
    """Each Service is compiled alone there; the owners are decided over all of them, as a full compile."""
    thief = with_external(service("q", "thief", "172.30.0.30", {"app": "web"}, (("web", 80, "TCP", 8080),)),
                          "192.0.2.10", "172.30.0.20")
    world = [cluster_network("networkpolicy"), namespace("p"), namespace("q"),
             hostsubnet("n1", "192.168.0.1", "10.128.0.0/23"), pod("p", "w1", "10.128.0.10", {"app": "web"}),
             with_external(service("p", "web", "172.30.0.20", {"app": "web"}, (("web", 80, "TCP", 8080),)),
                           "192.0.2.10"), thief]
    inc = IncrementalCompiler()
    for obj in world:
        key = object_key(obj["kind"], obj)
        inc.update(obj["kind"], key[1:], obj)
    facts = NodeFacts("n1", "192.168.0.1")
    got = inc.compile(facts).services
    assert got == compile_intent(world, facts).services
    assert {(v.vip, v.port): v.key for v in got} == {("172.30.0.20", 80): "p/web:web", ("172.30.0.30", 80): "q/thief:web",
                                                     ("192.0.2.10", 80): "p/web:web"}
