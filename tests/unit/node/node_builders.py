"""Builders and Hypothesis strategies for node intents."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import strategies as st

from osdn.node.intent import (
    ClusterPod,
    DestPort,
    LocalPod,
    Mode,
    NetID,
    Node,
    NodeIntent,
    Policy,
    PolicyRule,
    PortRange,
    ipblock_cidrs,
)

NODES = (Node("n1", "192.168.0.1", "10.128.0.0/23", "10.128.0.1"),
         Node("n2", "192.168.0.2", "10.128.2.0/23", "10.128.2.1"))


def mac_for(ip: str) -> str:
    return "0a:58:" + ":".join(f"{int(b):02x}" for b in ip.split("."))


def local_pod(ip: str, veth: str) -> LocalPod:
    return LocalPod(ip, mac_for(ip), veth)


def base_intent(mode: Mode = "multitenant", **kw: object) -> NodeIntent:
    return NodeIntent(mode=mode, node_name="n1", cluster_cidrs=("10.128.0.0/14",),
                      service_cidr="172.30.0.0/16", local_subnet="10.128.0.0/23", gateway="10.128.0.1",
                      node_ip="192.168.0.1", nodes=NODES, **kw)  # type: ignore[arg-type]


def sample_intent(mode: Mode = "multitenant") -> NodeIntent:
    """Three local pods (netids 10, 10, 11), one remote global pod, one policy on pod .2."""
    pods = (ClusterPod("10.128.0.2", "a", NetID(10), "n1"), ClusterPod("10.128.0.3", "a", NetID(10), "n1"),
            ClusterPod("10.128.0.4", "b", NetID(11), "n1"), ClusterPod("10.128.2.2", "g", NetID(0), "n2"))
    local = (local_pod("10.128.0.2", "vh-a"), local_pod("10.128.0.3", "vh-b"), local_pod("10.128.0.4", "vh-c"))
    rule = PolicyRule(peer_ips=frozenset({"10.128.0.3"}),
                      peer_cidrs=ipblock_cidrs("192.168.0.0/16", ("192.168.1.0/24",)),
                      all_ports=False, ports=frozenset({PortRange("tcp", 80, 80), PortRange("tcp", 81, 90)}),
                      dest_ports=frozenset({DestPort("10.128.0.2", "tcp", 8080)}))
    pol = Policy("a", "allow-web", frozenset({"10.128.0.2"}), ingress=True, egress=True,
                 ingress_rules=(rule, PolicyRule(all_peers=True, all_ports=False,
                                                 ports=frozenset({PortRange("udp", 53, 53)}))),
                 egress_rules=(PolicyRule(peer_ips=frozenset({"10.128.2.2"})),))
    return base_intent(mode, pods=pods, local_pods=local, policies=(pol,),
                       multicast_netids=frozenset({NetID(10)}))


def with_pod(intent: NodeIntent, ip: str, namespace: str, netid: int, veth: str | None = None) -> NodeIntent:
    """`intent` plus one pod (local when `veth` is given)."""
    node = "n1" if veth else "n2"
    pods = intent.pods + (ClusterPod(ip, namespace, NetID(netid), node),)
    local = intent.local_pods + ((local_pod(ip, veth),) if veth else ())
    return replace(intent, pods=pods, local_pods=local)


# --- Hypothesis ---------------------------------------------------------------------------------

POD_IPS = [f"10.128.0.{i}" for i in range(2, 14)] + [f"10.128.2.{i}" for i in range(2, 8)]
NAMESPACES = ["a", "b", "c-d"]


@st.composite
def rules(draw: st.DrawFn) -> PolicyRule:
    all_peers = draw(st.booleans())
    all_ports = draw(st.booleans())
    ips = st.frozensets(st.sampled_from(POD_IPS), max_size=5)
    return PolicyRule(
        all_peers=all_peers,
        peer_ips=None if all_peers else draw(st.none() | ips),
        peer_cidrs=frozenset() if all_peers else draw(st.frozensets(
            st.sampled_from(["192.168.0.0/16", "10.0.0.0/8", "172.16.5.0/24", "192.168.3.4/32"]), max_size=2)),
        all_ports=all_ports,
        ports=frozenset() if all_ports else draw(st.frozensets(st.builds(
            lambda proto, a, n: PortRange(proto, a, min(65535, a + n)),
            st.sampled_from(["tcp", "udp", "sctp"]), st.integers(1, 65535), st.integers(0, 50)), max_size=4)),
        dest_ports=None if all_ports else draw(st.none() | st.frozensets(st.builds(
            DestPort, st.sampled_from(POD_IPS), st.sampled_from(["tcp", "udp"]), st.integers(1, 65535)),
            max_size=3)),
    )


@st.composite
def intents(draw: st.DrawFn) -> NodeIntent:
    mode = draw(st.sampled_from(["subnet", "multitenant", "networkpolicy"]))
    ips = draw(st.lists(st.sampled_from(POD_IPS), unique=True, max_size=len(POD_IPS)))
    ns_of = {ip: draw(st.sampled_from(NAMESPACES)) for ip in ips}
    pods = tuple(ClusterPod(ip, ns_of[ip], NetID(draw(st.sampled_from([0, 10, 11, 12]))),
                            "n1" if ip.startswith("10.128.0.") else "n2") for ip in ips)
    local = tuple(local_pod(ip, f"vh-{ip.split('.')[-1]}") for ip in ips if ip.startswith("10.128.0."))
    policies = []
    for k, ns in enumerate(draw(st.lists(st.sampled_from(NAMESPACES), max_size=4))):
        members = [ip for ip in ips if ns_of[ip] == ns]
        policies.append(Policy(ns, f"p{k}", frozenset(draw(st.lists(st.sampled_from(members), unique=True)))
                               if members else frozenset(),
                               ingress=draw(st.booleans()), egress=draw(st.booleans()),
                               ingress_rules=tuple(draw(st.lists(rules(), max_size=2))),
                               egress_rules=tuple(draw(st.lists(rules(), max_size=2)))))
    return base_intent(mode, pods=pods, local_pods=local, policies=tuple(policies),  # type: ignore[arg-type]
                       multicast_netids=frozenset(draw(st.frozensets(st.sampled_from([NetID(0), NetID(10)])))))
