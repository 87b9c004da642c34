"""NodePort Services on the node, pure: compile (a ServiceVIP per node port: Cluster policy with every
endpoint and masquerading, Local with this node's endpoints only), render (kube-proxy's
`nodeport-ips` / `service-nodeports` shape: O(1) chains, map elements per node port) and the
incremental render agreeing with the full one as node ports come and go."""

from __future__ import annotations

from dataclasses import replace

from node_builders import base_intent, local_pod

from osdn.model.cluster import ClusterState
from osdn.node.render import render_node
from osdn.node.render.incremental import IncrementalRender
from osdn.node.render.ruleset import Table
from osdn.node.render.services import service_chain
from osdn.node.services import ServiceEndpoint, ServiceVIP, compute_services
from tests.unit.model.model_builders import cluster_network, hostsubnet, namespace, pod, service

SUBNET = "10.128.0.0/23"   # node n1's pods; 10.128.2.11 is on n2
W1, W2 = ServiceEndpoint("10.128.0.10", 8080), ServiceEndpoint("10.128.2.11", 8080)


def node_port_service(name: str, node_port: int, policy: str = "Cluster", selector: str = "web",
                      **spec: object) -> dict:
    svc = service("p", name, f"172.30.0.{20 + node_port % 50}", {"app": selector}, (("web", 80, "TCP", 8080),))
    svc["spec"].update(type="NodePort", externalTrafficPolicy=policy, **spec)
    svc["spec"]["ports"][0]["nodePort"] = node_port
    return svc


def cluster(*services: dict) -> ClusterState:
    objs = [cluster_network("networkpolicy"), namespace("p"), hostsubnet("n1", "192.168.0.1", SUBNET),
            pod("p", "w1", "10.128.0.10", {"app": "web"}), pod("p", "w2", "10.128.2.11", {"app": "web"}, node="n2"),
            pod("p", "r1", "10.128.2.12", {"app": "remote"}, node="n2")]
    return ClusterState.from_objects(objs + list(services))


def node_ports(state: ClusterState) -> dict[tuple[str, int], ServiceVIP]:
    return {(v.proto, v.port): v for v in compute_services(state, "10.128.0.1", SUBNET) if v.node_port and not v.internal}


def internal(state: ClusterState) -> dict[tuple[str, int], ServiceVIP]:
    return {(v.proto, v.port): v for v in compute_services(state, "10.128.0.1", SUBNET) if v.internal}


def test_cluster_policy_forwards_to_every_endpoint_and_local_to_this_nodes_only() -> None:
    state = cluster(node_port_service("a", 30080), node_port_service("b", 30081, "Local"),
                    node_port_service("c", 30082, "Local", "remote"), node_port_service("d", 30083, selector="nobody"))
    got = node_ports(state)
    assert got[("tcp", 30080)] == ServiceVIP("", "tcp", 30080, "p/a:web", (W1, W2), external=True, node_port=True)
    assert got[("tcp", 30081)] == ServiceVIP("", "tcp", 30081, "p/b:web", (W1,), node_port=True, local=True)
    assert got[("tcp", 30082)].endpoints == () and got[("tcp", 30082)].local   # endpoints elsewhere: dropped
    assert got[("tcp", 30083)].endpoints == () and not got[("tcp", 30083)].local   # none at all: rejected
    own = internal(state)   # Local: this node's pods and the node itself reach every endpoint
    assert own == {("tcp", 30081): ServiceVIP("", "tcp", 30081, "p/b:web", (W1, W2), node_port=True, internal=True),
                   ("tcp", 30082): ServiceVIP("", "tcp", 30082, "p/c:web", (ServiceEndpoint("10.128.2.12", 8080),),
                                              node_port=True, internal=True)}
    clusterip = next(v for v in compute_services(cluster(node_port_service("a", 30080)), "10.128.0.1", SUBNET)
                     if not v.node_port)
    assert clusterip.vip == "172.30.0.50" and clusterip.endpoints == (W1, W2)   # the ClusterIP as before


def test_a_clusterip_service_with_a_stale_node_port_and_a_duplicate_get_nothing() -> None:
    stale = node_port_service("a", 30080)
    stale["spec"]["type"] = "ClusterIP"
    assert node_ports(cluster(stale)) == {}
    got = node_ports(cluster(node_port_service("b", 30090), node_port_service("a", 30090, selector="remote")))
    assert got[("tcp", 30090)].key == "p/a:web"   # one owner per node port: the first by namespace/name


def inet(*services: ServiceVIP) -> Table:
    intent = base_intent("networkpolicy", local_pods=(local_pod("10.128.0.10", "vh-a"),), services=services)
    return next(t for t in render_node(intent).tables if t.family == "inet")


CLUSTER = ServiceVIP("", "tcp", 30080, "p/a:web", (W1, W2), external=True, node_port=True)
LOCAL = ServiceVIP("", "udp", 30081, "p/b:web", (W1,), node_port=True, local=True)
LOCAL_NONE = ServiceVIP("", "tcp", 30082, "p/c:web", (), node_port=True, local=True)
LOCAL_NONE_OWN = ServiceVIP("", "tcp", 30082, "p/c:web", (W2,), node_port=True, internal=True)
NONE = ServiceVIP("", "tcp", 30083, "p/d:web", (), external=True, node_port=True)


def test_render_node_ports_as_map_elements_with_one_pick_chain_per_count() -> None:
    t = inet(CLUSTER, LOCAL, LOCAL_NONE, LOCAL_NONE_OWN, NONE, replace(CLUSTER, port=30084, key="p/e:web"))
    sets, chains = t.set_by_name(), {c.name: c for c in t.chains}
    assert sets["svc_nodeport_ips"].elements == {"192.168.0.1"}   # the node's own address
    assert sets["svc_nodeports"].elements == {"tcp . 30080 : goto svc_np2", "tcp . 30084 : goto svc_np2",
                                              "udp . 30081 : goto svc_np1", "tcp . 30082 : drop"}
    assert sets["svc_np_internal"].elements == {"tcp . 30082 : goto svc_npi1"}   # Local: the node's own clients
    assert sets["svc_npi_backends"].elements == {"tcp . 30082 . 0 : 10.128.2.11 . 8080"}
    assert sets["svc_np_backends"].elements == {
        "tcp . 30080 . 0 : 10.128.0.10 . 8080", "tcp . 30080 . 1 : 10.128.2.11 . 8080",
        "tcp . 30084 . 0 : 10.128.0.10 . 8080", "tcp . 30084 . 1 : 10.128.2.11 . 8080",
        "udp . 30081 . 0 : 10.128.0.10 . 8080"}
    assert sets["svc_np_no_endpoints"].elements == {"tcp . 30083 : goto svc_reject"}
    assert sets["svc_np_masq"].elements == {"tcp . 30080", "tcp . 30084"}   # Cluster policy only
    assert sets["svc_dispatch"].elements == set()   # node ports never touch the ClusterIP maps
    assert chains["svc_np2"].rules == ("meta mark set numgen random mod 2 meta l4proto { tcp, udp, sctp } "
                                       "dnat ip to meta l4proto . th dport . meta mark map @svc_np_backends",)
    own = {"svc_prerouting": "ip daddr @svc_nodeport_ips ip saddr @cluster_cidrs meta l4proto . th dport vmap "
           "@svc_np_internal", "svc_output": "ip daddr @svc_nodeport_ips meta l4proto . th dport vmap @svc_np_internal"}
    for name in ("svc_prerouting", "svc_output"):
        assert chains[name].rules[1:] == (
            own[name],   # this node's pods (prerouting) and the node itself (output) first
            "ip daddr @svc_nodeport_ips meta l4proto . th dport @svc_np_masq ct mark set ct mark or 0x00000001",
            "ip daddr @svc_nodeport_ips meta l4proto . th dport vmap @svc_nodeports")
    assert chains["svc_npi1"].rules == ("meta mark set numgen random mod 1 meta l4proto { tcp, udp, sctp } "
                                        "dnat ip to meta l4proto . th dport . meta mark map @svc_npi_backends",)
    assert "ct mark and 0x00000001 == 0x00000001 ip saddr != @cluster_cidrs masquerade" in chains["postrouting"].rules
    assert sorted(c.name for c in t.chains if c.name.startswith(("svc_", "sep_")) and not c.hook) == \
        ["svc_np1", "svc_np2", "svc_npi1", "svc_reject"]   # per endpoint count, not per service


def test_a_node_port_with_affinity_has_its_own_chains() -> None:
    sticky, own = replace(CLUSTER, affinity=60), replace(LOCAL_NONE_OWN, port=30080, endpoints=(W1, W2), affinity=60)
    t = inet(sticky, own)
    assert t.set_by_name()["svc_nodeports"].elements == {f"tcp . 30080 : goto {service_chain(sticky)}"}
    assert service_chain(own) != service_chain(replace(own, internal=False))   # its own chains too
    chains = {c.name: c for c in t.chains}
    assert chains[service_chain(sticky)].rules[-1].startswith("numgen random mod 2 vmap { 0 : goto sep_")


def test_the_incremental_render_agrees_as_node_ports_come_and_go() -> None:
    inc = IncrementalRender()
    steps = [(CLUSTER,), (CLUSTER, LOCAL), (replace(CLUSTER, endpoints=(W2,)), LOCAL, NONE),
             (LOCAL_NONE, LOCAL_NONE_OWN), (LOCAL_NONE, replace(LOCAL_NONE_OWN, affinity=30)), ()]
    for services in steps:
        intent = base_intent("networkpolicy", local_pods=(local_pod("10.128.0.10", "vh-a"),), services=services)
        assert inc.render(intent) == render_node(intent), services
