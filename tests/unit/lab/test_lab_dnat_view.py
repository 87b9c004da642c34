"""The DNAT step of online `osdn adm trace` without a kernel: conntrack output parsed, the probe's own
entry found among others, where it is read, and how it is shown next to the model's endpoints."""

from __future__ import annotations

from osdn.kernel.conntrack import Flow, parse_flows
from osdn.lab.dnat_view import (
    DnatLookup,
    DnatView,
    ModelEndpoint,
    dnat_to_dict,
    find_dnat,
    plan_dnat_lookup,
    render_dnat,
)
from osdn.lab.kernel_view import KernelView, ProbePlan, kernel_view_to_dict, render_kernel_view
from osdn.lab.observe import REFUSED, TIMEOUT, ProbeResult
from osdn.model.cluster import ClusterState
from osdn.model.oracle import resolve_endpoint
from osdn.model.verdict import Connection

LISTING = """\
tcp      6 117 TIME_WAIT src=10.128.0.2 dst=172.30.0.10 sport=40110 dport=80 src=10.128.2.7 dst=10.128.0.2 \
sport=8080 dport=40110 [ASSURED] mark=0 use=1
tcp      6 118 TIME_WAIT src=10.128.0.2 dst=172.30.0.10 sport=40112 dport=80 src=10.128.0.9 dst=10.128.0.2 \
sport=8080 dport=40112 [ASSURED] mark=0 use=1
tcp      6 10 CLOSE src=10.128.0.2 dst=172.30.0.10 sport=40113 dport=443 src=10.128.0.9 dst=10.128.0.2 \
sport=8443 dport=40113 mark=0 use=1
"""
OBJS = [
    {"kind": "HostSubnet", "metadata": {"name": "node1"}, "host": "node1", "hostIP": "198.18.0.11",
     "subnet": "10.128.0.0/23"},
    {"kind": "Pod", "metadata": {"namespace": "a", "name": "c"}, "spec": {"nodeName": "node1"},
     "status": {"podIP": "10.128.0.2"}},
    {"kind": "Service", "metadata": {"namespace": "a", "name": "web"},
     "spec": {"clusterIP": "172.30.0.10", "selector": {"x": "y"}, "ports": [{"port": 80}]}},
]
STATE = ClusterState.from_objects(OBJS)
MODEL = (ModelEndpoint("10.128.0.9", 8080, "pod a/w1 (10.128.0.9)"), ModelEndpoint("10.128.2.7", 8080, "pod a/w2"))


def conn(src: str, dst: str) -> Connection:
    return Connection(resolve_endpoint(STATE, src), resolve_endpoint(STATE, dst), "TCP", 80)


def test_conntrack_listing_is_parsed_and_the_probes_own_entry_found() -> None:
    flows = parse_flows(LISTING + "conntrack v1.4.7 (conntrack-tools): 3 flow entries have been shown.\n")
    assert flows[0] == Flow("tcp", ("10.128.0.2", "172.30.0.10", 40110, 80), ("10.128.2.7", "10.128.0.2", 8080, 40110))
    assert len(flows) == 3
    assert find_dnat(flows, "172.30.0.10", 80, 40112) == "10.128.0.9:8080"
    assert find_dnat(flows, "172.30.0.10", 80, 40110) == "10.128.2.7:8080"
    assert find_dnat(flows, "172.30.0.10", 80, 40113) == ""   # that source port went to port 443
    assert find_dnat(flows, "172.30.0.10", 80, 1) == ""


def test_the_dnat_is_read_on_the_sources_node_and_only_for_services() -> None:
    pods = [o for o in OBJS if o["kind"] == "Pod"]
    assert plan_dnat_lookup(conn("a/c", "a/web"), pods, {"node1": "ns-node1"}) == DnatLookup("node1", "ns-node1")
    assert plan_dnat_lookup(conn("node/node1", "a/web"), pods, {"node1": "ns-node1"}) == DnatLookup("node1", "ns-node1")
    assert plan_dnat_lookup(conn("a/c", "10.128.0.2"), pods, {"node1": "ns-node1"}) is None
    assert "not in a local lab" in str(plan_dnat_lookup(conn("a/c", "a/web"), pods, {}))


def test_the_kernels_choice_is_shown_against_the_models_endpoints() -> None:
    chosen = DnatView("node1", "172.30.0.10:80", "10.128.2.7:8080", MODEL)
    assert render_dnat(chosen) == ["  DNAT on node1 (conntrack): 172.30.0.10:80 -> 10.128.2.7:8080 "
                                   "(pod a/w2, one of the model's 2 endpoint(s))"]
    assert dnat_to_dict(chosen)["inModel"] is True and dnat_to_dict(chosen)["endpointName"] == "pod a/w2"
    stray = DnatView("node1", "172.30.0.10:80", "10.128.4.4:8080", MODEL)
    assert "NOT one of the model's 2 endpoint(s)" in render_dnat(stray)[0]
    assert dnat_to_dict(stray)["inModel"] is False
    none = DnatView("node1", "172.30.0.10:80", "", ())
    assert render_dnat(none)[0].startswith("  DNAT: none on node1")
    assert dnat_to_dict(none)["endpoint"] is None and dnat_to_dict(none)["inModel"] is None
    assert dnat_to_dict("conntrack on node1 could not be read: x") == {
        "read": False, "unavailable": "conntrack on node1 could not be read: x"}


def test_a_service_without_endpoints_agrees_when_refused_and_the_dnat_is_shown() -> None:
    plan = ProbePlan("ns-c", "pod a/c", "172.30.0.10", 80)
    none = DnatView("node1", "172.30.0.10:80", "", ())
    refused = KernelView(False, plan, ProbeResult(REFUSED), counters_read=True, dnat=none, refused_expected=True)
    assert refused.agrees is True
    text = render_kernel_view(refused)
    assert "DNAT: none on node1" in text and "AGREES with the model (DENIED: no endpoints, refused)" in text
    assert kernel_view_to_dict(refused)["dnat"]["endpoint"] is None
    assert KernelView(False, plan, ProbeResult(TIMEOUT), refused_expected=True).agrees is False
    assert KernelView(False, plan, ProbeResult(REFUSED)).agrees is False   # refused where a policy denies
