"""`osdn describe KIND NAME` prints what `kubectl describe KIND NAME` prints against the same server:
the seed's ReplicationController, a ReplicaSet, a Deployment after a rollout, a Pod with env, ports,
volumes, resources, probes, container states and events, a Namespace with its quota, and a kind
kubectl describes generically (HostSubnet). Event ages are masked in both (they differ by the
second between the two commands); every other character must be equal.
"""

from __future__ import annotations

import datetime
import difflib
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ServerProc, start_server, wait_for

NS = "dp"
FIXTURES = Path(__file__).parent.parent / "fixtures"
SEED_RC = FIXTURES / "seeds" / "002-replicationcontroller-egress-demo-controller.yaml"
AGE = re.compile(r"^\d+[smhdy](\d+[smh])?( \(x\d+ over \d+[smhdy](\d+[smh])?\))?$")


def masked(text: str) -> list[str]:
    """The text with the Events table's cells split and its Age cells masked (the widths follow)."""
    lines = text.rstrip("\n").split("\n")
    start = next((i for i, line in enumerate(lines) if line == "Events:"), len(lines))
    rows = [re.split(r"\s{2,}", line.strip()) for line in lines[start + 3:]]
    return lines[:start + 3] + [" | ".join("AGE" if AGE.match(c) else c for c in row) for row in rows]


def same(srv: ServerProc, *args: str) -> tuple[bool, str]:
    want = srv.kubectl("describe", *args, check=True).stdout
    got = srv.cli("describe", *args, check=True).stdout
    diff = "\n".join(difflib.unified_diff(masked(want), masked(got), "kubectl", "osdn", lineterm=""))
    return not diff, diff


def assert_same(srv: ServerProc, *args: str) -> None:
    """Equal once the controllers settle (polled: the object may change between the two commands)."""
    result: list[str] = []

    def check() -> bool:
        ok, diff = same(srv, *args)
        result[:] = [diff]
        return ok
    try:
        wait_for(check, timeout=30, what=f"describe {' '.join(args)} as kubectl's")
    except AssertionError:
        raise AssertionError(f"osdn describe {' '.join(args)} differs from kubectl's:\n{result[0]}") from None


def patch_status(srv: ServerProc, path: str, status: dict[str, object]) -> None:
    with srv.http() as api:
        api.patch(path, headers={"Content-Type": "application/merge-patch+json"},
                  json={"status": status}).raise_for_status()


def stamp(days_ago: float) -> str:
    then = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=days_ago)
    return then.strftime("%Y-%m-%dT%H:%M:%SZ")


POD_STATUS = {
    "phase": "Running", "hostIP": "10.0.0.1", "podIP": "10.128.0.9", "podIPs": [{"ip": "10.128.0.9"}],
    "startTime": "2026-12-05T05:00:00Z",
    "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "False"}],
    "initContainerStatuses": [{"name": "init", "ready": False, "restartCount": 0, "image": "busybox",
                               "imageID": "docker://sha256:abc", "containerID": "cri-o://111",
                               "state": {"terminated": {"exitCode": 0, "reason": "Completed",
                                                        "startedAt": "2026-12-05T05:00:00Z",
                                                        "finishedAt": "2026-12-05T05:00:02Z"}}}],
    "containerStatuses": [
        {"name": "web", "ready": True, "restartCount": 2, "image": "nginx", "imageID": "docker://sha256:def",
         "containerID": "cri-o://222", "state": {"running": {"startedAt": "2026-12-05T05:01:00Z"}},
         "lastState": {"terminated": {"exitCode": 137, "signal": 9, "reason": "OOMKilled", "message": "out of memory",
                                      "startedAt": "2026-12-05T05:00:00Z", "finishedAt": "2026-12-05T05:00:59Z"}}},
        {"name": "side", "ready": False, "restartCount": 0, "image": "busybox", "imageID": "",
         "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}


def pod_events(uid: str) -> list[dict[str, object]]:
    """Two events on the pod, as the kubelet records them (with the pod's uid: kubectl selects by it),
    100.5 days old so that their ages stay the same during the test."""
    involved = {"apiVersion": "v1", "kind": "Pod", "name": "rich", "namespace": NS, "uid": uid}
    return [{"apiVersion": "v1", "kind": "Event", "metadata": {"name": f"rich.{i}"}, "involvedObject": involved,
             "type": kind, "reason": reason, "message": f"  {reason} happened ", "count": count,
             "firstTimestamp": stamp(100.5), "lastTimestamp": stamp(100.5), "source": {"component": "kubelet",
                                                                                      "host": "n1"}}
            for i, (kind, reason, count) in enumerate([("Normal", "Scheduled", 1), ("Warning", "BackOff", 3)])]


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    s = start_server(tmp_path_factory.mktemp("describe"))
    try:
        s.cli("new-project", NS, check=True)
        s.cli("create", "-n", NS, "-f", str(SEED_RC), check=True)
        s.cli("create", "-n", NS, "-f", str(FIXTURES / "describe" / "objects.yaml"), check=True)
        s.cli("create", "deployment", "web", "--image=nginx", "--replicas=2", "-n", NS, check=True)
        patch_status(s, f"/api/v1/namespaces/{NS}/pods/rich/status", POD_STATUS)
        uid = json.loads(s.cli("get", "pod", "rich", "-n", NS, "-o", "json", check=True).stdout)["metadata"]["uid"]
        events = {"apiVersion": "v1", "kind": "List", "items": pod_events(uid)}
        s.cli("create", "-n", NS, "-f", "-", input=json.dumps(events), check=True)
        yield s
    finally:
        s.stop()


def test_the_seeds_replication_controller(srv: ServerProc) -> None:
    pods = wait_for(lambda: json.loads(srv.cli("get", "pods", "-n", NS, "-l", "name=egress-demo", "-o", "json",
                                               check=True).stdout)["items"], what="the RC's pod")
    patch_status(srv, f"/api/v1/namespaces/{NS}/pods/{pods[0]['metadata']['name']}/status", {"phase": "Running"})
    assert_same(srv, "rc", "egress-demo-controller", "-n", NS)
    text = srv.cli("describe", "rc", "egress-demo-controller", "-n", NS, check=True).stdout
    assert "Pods Status:  1 Running / 0 Waiting / 0 Succeeded / 0 Failed" in text
    assert "      EGRESS_DESTINATION:  203.0.113.25" in text and "  Node-Selectors:  site=springfield-1" in text


def test_a_replica_set_with_an_expression_selector(srv: ServerProc) -> None:
    assert_same(srv, "rs", "front", "-n", NS)
    assert "Selector:     app=front,tier in (api,web)" in srv.cli("describe", "rs", "front", "-n", NS).stdout


def test_a_deployment_and_its_replica_sets_after_a_rollout(srv: ServerProc) -> None:
    srv.kubectl("set", "image", "deployment/web", "nginx=nginx:2", "-n", NS, check=True)  # osdn has no `set`
    wait_for(lambda: re.search(r"^OldReplicaSets: +web-", srv.cli("describe", "deploy", "web", "-n", NS).stdout,
                               re.MULTILINE), what="the rollout's old replica set")
    assert_same(srv, "deployment", "web", "-n", NS)
    sets = json.loads(srv.cli("get", "rs", "-n", NS, "-l", "app=web", "-o", "json", check=True).stdout)["items"]
    for rs in sets:
        assert_same(srv, "rs", rs["metadata"]["name"], "-n", NS)


def test_a_pod_with_every_section(srv: ServerProc) -> None:
    assert_same(srv, "pod", "rich", "-n", NS)
    text = srv.cli("describe", "pod", "rich", "-n", NS, check=True).stdout
    for want in ("Node:         n1/10.0.0.1", "    Last State:     Terminated", "      Reason:       OOMKilled",
                 "      MEM:     268435456 (limits.memory)", "      /etc/cfg from cfg (ro,path=\"app.conf\")",
                 "QoS Class:       Burstable", "  Warning  BackOff "):
        assert want in text, text


def test_a_namespace_with_its_quota(srv: ServerProc) -> None:
    assert_same(srv, "namespace", NS)
    assert "Resource Quotas\n  Name:" in srv.cli("describe", "ns", NS, check=True).stdout


def test_kinds_kubectl_describes_generically(srv: ServerProc) -> None:
    assert_same(srv, "hostsubnet", "node9")
    assert_same(srv, "netnamespace", NS)
    assert "Egress CID Rs:\n  192.168.1.0/24" in srv.cli("describe", "hostsubnet", "node9", check=True).stdout


def test_services_without_events(srv: ServerProc) -> None:
    """`Events:  <none>` sits in the block above it, aligned as kubectl's tabwriter aligns it."""
    srv.kubectl("create", "service", "clusterip", "plain", "--tcp=80:8080", "-n", NS, check=True)
    srv.kubectl("create", "service", "nodeport", "exposed", "--tcp=80:8080", "-n", NS, check=True)
    assert_same(srv, "svc", "plain", "-n", NS)
    assert_same(srv, "svc", "exposed", "-n", NS)
