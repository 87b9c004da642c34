"""The kernel view of online `osdn adm trace` without a kernel: what is probed from where, when the
view is unavailable, and how the answer is shown next to the model's."""

from __future__ import annotations

import json
import os

import pytest

from osdn.lab.cluster import LabInfo, NodeInfo
from osdn.lab.kernel_view import (
    CounterDelta,
    KernelView,
    ProbePlan,
    find_local_lab,
    kernel_view_to_dict,
    plan_probe,
    render_kernel_view,
)
from osdn.lab.observe import CONNECTED, ERROR, TIMEOUT, ProbeResult
from osdn.model.cluster import ClusterState
from osdn.model.oracle import resolve_endpoint
from osdn.model.verdict import Connection

OBJS = [
    {"kind": "HostSubnet", "metadata": {"name": "node1"}, "host": "node1", "hostIP": "198.18.0.11",
     "subnet": "10.128.0.0/23"},
    {"kind": "Pod", "metadata": {"namespace": "a", "name": "lab", "annotations": {"lab.osdn.io/netns": "osdn-l-pod-1"}},
     "spec": {"nodeName": "node1"}, "status": {"podIP": "10.128.0.2"}},
    {"kind": "Pod", "metadata": {"namespace": "a", "name": "other"}, "spec": {"nodeName": "node1"},
     "status": {"podIP": "10.128.0.3"}},
    {"kind": "Service", "metadata": {"namespace": "a", "name": "web"},
     "spec": {"clusterIP": "172.30.0.10", "selector": {"x": "y"}, "ports": [{"port": 8080}]}},
]
STATE = ClusterState.from_objects(OBJS)
PODS = [o for o in OBJS if o["kind"] == "Pod"]
NODES = {"node1": "osdn-l-node1"}


def conn(src: str, dst: str, protocol: str = "TCP", port: int = 80) -> Connection:
    return Connection(resolve_endpoint(STATE, src), resolve_endpoint(STATE, dst), protocol, port)


@pytest.mark.parametrize(("src", "dst", "want"), [
    ("a/lab", "a/other", ProbePlan("osdn-l-pod-1", "pod a/lab", "10.128.0.3", 80)),
    ("a/lab", "a/web", ProbePlan("osdn-l-pod-1", "pod a/lab", "172.30.0.10", 80)),
    ("a/lab", "203.0.113.80", ProbePlan("osdn-l-pod-1", "pod a/lab", "203.0.113.80", 80)),
    ("node/node1", "a/lab", ProbePlan("osdn-l-node1", "node node1", "10.128.0.2", 80)),
], ids=["pod-pod", "pod-service", "pod-external", "node-pod"])
def test_probe_plans(src: str, dst: str, want: ProbePlan) -> None:
    assert plan_probe(conn(src, dst), PODS, NODES) == want


@pytest.mark.parametrize(("src", "dst", "protocol", "why"), [
    ("a/other", "a/lab", "TCP", "pod a/other has no lab.osdn.io/netns annotation (not run by a local osdn lab)"),
    ("a/lab", "a/other", "UDP", "probes are TCP only (UDP has no handshake to observe)"),
    ("8.8.8.8", "a/lab", "TCP", "the source (external 8.8.8.8) is outside the cluster: no lab namespace to probe from"),
], ids=["not-a-lab-pod", "udp", "external-source"])
def test_no_probe_says_why(src: str, dst: str, protocol: str, why: str) -> None:
    assert plan_probe(conn(src, dst, protocol), PODS, NODES) == why


def test_node_source_needs_the_labs_node_namespaces() -> None:
    assert plan_probe(conn("node/node1", "a/lab"), PODS, {}) == \
        "node node1 (198.18.0.11): no namespace of a local lab for it"


PLAN = ProbePlan("osdn-l-pod-1", "pod a/lab", "10.128.0.3", 80)


def test_blocked_and_counted_agrees_with_a_denial() -> None:
    view = KernelView(False, PLAN, ProbeResult(TIMEOUT), 1.0,
                      (CounterDelta("node2", "inet", "drop_np_ingress", 1),), counters_read=True)
    assert view.agrees is True
    assert render_kernel_view(view) == (
        "kernel: TCP 10.128.0.3:80 from inside pod a/lab (1s timeout): blocked (no answer)\n"
        "  counters moved: drop_np_ingress on node2 +1\n"
        "  AGREES with the model (DENIED)")
    doc = kernel_view_to_dict(view)
    assert doc["outcome"] == "timeout" and doc["agrees"] is True and doc["reached"] is False
    assert doc["counters"] == [{"node": "node2", "family": "inet", "name": "drop_np_ingress", "delta": 1}]
    json.dumps(doc)


def test_connected_against_a_denial_disagrees() -> None:
    view = KernelView(False, PLAN, ProbeResult(CONNECTED), 0.5, (), counters_read=True)
    assert view.agrees is False
    text = render_kernel_view(view)
    assert "connected\n  counters moved: none of osdn's drop counters\n  DISAGREES with the model (DENIED)" in text


def test_failed_probe_and_unavailable_view() -> None:
    failed = KernelView(True, PLAN, ProbeResult(ERROR, "netns gone"), 1.0)
    assert failed.agrees is None
    assert "probe failed: netns gone" in render_kernel_view(failed)
    assert "counters: unavailable" in render_kernel_view(failed)
    assert "cannot be compared with the model (ALLOWED)" in render_kernel_view(failed)
    gone = KernelView(True, unavailable="entering the lab's namespaces needs root")
    assert render_kernel_view(gone) == "kernel: not probed (entering the lab's namespaces needs root)"
    assert kernel_view_to_dict(gone) == {"probed": False, "unavailable": "entering the lab's namespaces needs root"}


def test_find_local_lab_next_to_the_config_and_only_for_its_server(tmp_path: str) -> None:
    lab_dir = os.path.join(tmp_path, "lab")
    os.makedirs(os.path.join(lab_dir, "server"))
    conf = os.path.join(lab_dir, "server", "admin.conf")
    open(conf, "w").close()
    info = LabInfo("t", lab_dir, "networkpolicy", "osdn-t-", server="http://127.0.0.1:1234",
                   nodes=[NodeInfo("node1", "osdn-t-node1", "198.18.0.11", "s", "c", "l")])
    info.save()
    found = find_local_lab(conf, "http://127.0.0.1:1234/")
    assert found is not None and found.nodes[0].netns == "osdn-t-node1"
    assert find_local_lab(conf, "http://127.0.0.1:9999") is None
