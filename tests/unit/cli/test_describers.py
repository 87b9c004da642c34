"""kubectl's describe layout, pure: Go's tabwriter alignment rules, kubectl's PrefixWriter, and the
pieces ported from kubectl's describe.go (labels, annotations, tolerations, probes, env values, QoS,
pods a controller owns, a deployment's old and new replica sets, generic field labels, events)."""

from __future__ import annotations

from typing import Any

import pytest

from osdn.api import timestamps
from osdn.cli.describe_generic import camel_split, describe_generic, go_value, smart_label
from osdn.cli.describe_pod import (
    annotations_multiline,
    describe_events,
    describe_probe,
    labels_multiline,
    rfc1123z,
    tolerations_multiline,
)
from osdn.cli.describers import (
    describe_namespace,
    describe_pod,
    describe_replication_controller,
    format_selector,
    pod_counts,
    qos_class,
    split_replica_sets,
)
from osdn.cli.tabwriter import PrefixWriter, tabulate

Obj = dict[str, Any]
NOW = timestamps.parse("2026-12-05T06:00:00Z") or 0.0


# ------------------------------------------------------------------------------------------- tabwriter
@pytest.mark.parametrize(("text", "want"), [
    # a line with fewer cells ends the column-1 block, not the column-0 block
    ("a\tb\tc\naaaa\tb\nx\n  y\tzz\tw\n", "a     b  c\naaaa  b\nx\n  y  zz  w\n"),
    # the column-1 block resumes after the short line with its own width
    ("a\tbbbb\tc\nd\te\nfff\tg\th\n", "a    bbbb  c\nd    e\nfff  g  h\n"),
    # an empty cell is padded; the last cell of a line never is
    ("\tx\nab\ty   \n", "    x\nab  y   \n"),
    # a line without a tab ends every block
    ("Name:\tx\nPod Template:\n  Labels:\ta\n", "Name:  x\nPod Template:\n  Labels:  a\n"),
    # a flush ends the blocks, as kubectl's before the Events table
    ("a\tb\n\flonger\tc\n", "a  b\nlonger  c\n"),
    # widths count characters, not bytes
    ("é\tx\nab\ty\n", "é   x\nab  y\n"),
    # text after the last newline is a line too
    ("a\tb\nabc\tc", "a    b\nabc  c"),
])
def test_tabwriter_aligns_as_go(text: str, want: str) -> None:
    assert tabulate(text) == want


def test_prefix_writer_indents_two_spaces_a_level_and_flushes() -> None:
    w = PrefixWriter()
    w.write(0, "Name:\tweb\n")
    w.write(2, "Image:\tx\n")
    w.flush()
    w.write(1, "Type:\tReason\n")
    assert w.text() == "Name:       web\n    Image:  x\n  Type:  Reason\n"


# ------------------------------------------------------------------------------------------ multiline
def text_of(fn: Any, *args: Any) -> str:
    w = PrefixWriter()
    fn(w, *args)
    return w.text()


def test_labels_annotations_and_tolerations_continue_under_their_value() -> None:
    assert text_of(labels_multiline, "Labels", {"b": "2", "a": "1"}) == "Labels:  a=1\n         b=2\n"
    assert text_of(labels_multiline, "Labels", {}) == "Labels:  <none>\n"
    notes = {"kubectl.kubernetes.io/last-applied-configuration": "{}", "m": "one\ntwo\n", "z": "x" * 150, "k": "v"}
    assert text_of(annotations_multiline, "Annotations", notes).splitlines() == [
        "Annotations:  k: v", "              m:", "                one", "                two",
        "              z:", "                " + "x" * 138 + "..."]
    tolerations = [{"key": "k2", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                   {"operator": "Exists"}, {"key": "k1", "operator": "Equal", "value": "v1", "effect": "NoSchedule"}]
    assert text_of(tolerations_multiline, "Tolerations", tolerations).splitlines() == [
        "Tolerations:  op=Exists", "              k1=v1:NoSchedule", "              k2:NoExecute op=Exists for 300s"]


# ------------------------------------------------------------------------------------------ containers
def test_probes_as_kubectl_132() -> None:
    assert describe_probe({"httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"}, "timeoutSeconds": 1,
                           "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}) == \
        "http-get http://:8080/healthz delay=0s timeout=1s period=10s #success=1 #failure=3"
    assert describe_probe({"tcpSocket": {"port": "http"}}).startswith("tcp-socket :http delay=0s")
    assert describe_probe({"exec": {"command": ["cat", "/tmp/x"]}}).startswith("exec [cat /tmp/x] ")
    assert describe_probe({}).startswith("unknown delay=0s")


def test_resource_env_values_and_field_refs() -> None:
    pod = {"metadata": {"name": "p", "namespace": "n", "labels": {"a": "b"}},
           "spec": {"containers": [{"name": "c", "image": "i", "resources": {"limits": {"memory": "256Mi"},
                                                                             "requests": {"cpu": "250m"}},
                                    "env": [{"name": n, "valueFrom": v} for n, v in [
                                        ("MEM", {"resourceFieldRef": {"resource": "limits.memory"}}),
                                        ("MEM_MI", {"resourceFieldRef": {"resource": "limits.memory",
                                                                         "divisor": "1Mi"}}),
                                        ("CPU", {"resourceFieldRef": {"resource": "requests.cpu"}}),
                                        ("CPU_LIMIT", {"resourceFieldRef": {"resource": "limits.cpu"}}),
                                        ("NAME", {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}),
                                        ("LABEL", {"fieldRef": {"fieldPath": "metadata.labels['a']"}})]]}]}}
    env = describe_pod(pod, [], NOW).split("    Environment:\n")[1].split("    Mounts:")[0].splitlines()
    assert env == ["      MEM:        268435456 (limits.memory)", "      MEM_MI:     256 (limits.memory)",
                   "      CPU:        1 (requests.cpu)", "      CPU_LIMIT:  node allocatable (limits.cpu)",
                   "      NAME:       p (v1:metadata.name)", "      LABEL:       (:metadata.labels['a'])"]


@pytest.mark.parametrize(("resources", "want"), [
    ([{}], "BestEffort"),
    ([{"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}], "Guaranteed"),
    ([{"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}, {}], "Burstable"),
    ([{"requests": {"cpu": "100m"}}], "Burstable"),
])
def test_qos_class(resources: list[Obj], want: str) -> None:
    pod = {"spec": {"containers": [{"name": f"c{i}", "resources": r} for i, r in enumerate(resources)]}}
    assert qos_class(pod) == want
    assert qos_class({**pod, "status": {"qosClass": "Guaranteed"}}) == "Guaranteed"


# ------------------------------------------------------------------------------------------ workloads
def owned(name: str, uid: str, phase: str = "Pending", **extra: Any) -> Obj:
    return {"metadata": {"name": name, "ownerReferences": [{"controller": True, "uid": uid, "kind": "X", "name": "x"}]},
            "status": {"phase": phase}, **extra}


def test_pods_status_counts_only_the_pods_the_controller_owns() -> None:
    rc = {"metadata": {"uid": "u1"}}
    pods = [owned("a", "u1", "Running"), owned("b", "u1"), owned("c", "other", "Running"),
            {"metadata": {"name": "orphan"}, "status": {"phase": "Running"}}, owned("d", "u1", "Failed")]
    assert pod_counts(rc, pods) == (1, 1, 0, 1)


def test_the_new_replica_set_has_the_deployments_template() -> None:
    template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "v2"}]}}
    old_template = {"metadata": {"labels": {"app": "web", "pod-template-hash": "1"}},
                    "spec": {"containers": [{"name": "c", "image": "v1"}]}}
    deploy = {"metadata": {"uid": "d1"}, "spec": {"template": template}}
    new = owned("web-2", "d1", spec={"template": {**template, "metadata": {"labels": {"app": "web",
                                                                                       "pod-template-hash": "2"}}}})
    old, other = owned("web-1", "d1", spec={"template": old_template}), owned("x-1", "d9", spec={"template": template})
    assert split_replica_sets(deploy, [old, new, other]) == ([old], [new])


def test_label_selector_as_kubectl_prints_it() -> None:
    assert format_selector({"matchLabels": {"b": "1"}, "matchExpressions": [
        {"key": "a", "operator": "In", "values": ["y", "x"]}, {"key": "c", "operator": "DoesNotExist"},
        {"key": "d", "operator": "Exists"}, {"key": "e", "operator": "NotIn", "values": ["z"]}]}) == \
        "a in (x,y),b=1,!c,d,e notin (z)"
    assert format_selector({}) == ""


def test_replication_controller_conditions_and_pod_template() -> None:
    rc = {"metadata": {"name": "rc", "namespace": "p", "uid": "u"},
          "spec": {"replicas": 2, "selector": {"a": "b"}, "template": {"spec": {"containers": []}}},
          "status": {"replicas": 1, "conditions": [{"type": "ReplicaFailure", "status": "True", "reason": "Failed"}]}}
    assert describe_replication_controller(rc, [owned("x", "u", "Running")], [], NOW).splitlines() == [
        "Name:         rc", "Namespace:    p", "Selector:     a=b", "Labels:       <none>", "Annotations:  <none>",
        "Replicas:     1 current / 2 desired", "Pods Status:  1 Running / 0 Waiting / 0 Succeeded / 0 Failed",
        "Pod Template:", "  Labels:  <none>", "  Containers: <none>", "  Volumes:         <none>",
        "  Node-Selectors:  <none>", "  Tolerations:     <none>", "Conditions:", "  Type             Status  Reason",
        "  ----             ------  ------", "  ReplicaFailure   True    Failed", "Events:            <none>"]


def test_events_table_sorted_oldest_first_with_repeats() -> None:
    events: list[Obj] = [{"type": "Warning", "reason": "FailedCreate", "message": " no ", "count": 2,
               "firstTimestamp": "2026-12-05T05:00:00Z", "lastTimestamp": "2026-12-05T05:59:50Z",
               "source": {"component": "rc-manager", "host": "h"}},
              {"type": "Normal", "reason": "Made", "message": "ok", "firstTimestamp": "2026-12-05T04:00:00Z",
               "lastTimestamp": "2026-12-05T04:00:00Z", "reportingComponent": "x"}]
    w = PrefixWriter()
    w.write(0, "A much longer label:\tv\n")
    describe_events(w, events, NOW)
    assert w.text().splitlines() == [
        "A much longer label:  v", "Events:",
        "  Type     Reason        Age                From        Message",
        "  ----     ------        ----               ----        -------",
        "  Normal   Made          120m               x           ok",
        "  Warning  FailedCreate  10s (x2 over 60m)  rc-manager  no"]
    assert text_of(describe_events, [], NOW) == "Events:  <none>\n"


def test_namespace_without_quota_and_with_one() -> None:
    ns = {"metadata": {"name": "p", "labels": {"kubernetes.io/metadata.name": "p"}}, "status": {"phase": "Active"}}
    assert describe_namespace(ns, []).splitlines() == [
        "Name:         p", "Labels:       kubernetes.io/metadata.name=p", "Annotations:  <none>", "Status:       Active",
        "", "No resource quota."]
    quota = {"metadata": {"name": "q"}, "spec": {"scopes": ["BestEffort"]},
             "status": {"hard": {"pods": "10", "configmaps": "1k"}, "used": {"pods": "3"}}}
    assert describe_namespace(ns, [quota]).splitlines()[5:] == [
        "Resource Quotas", "  Name:    q", "  Scopes:  BestEffort",
        "  * Matches all pods that do not have resource requirements set. These pods have a best effort quality "
        "of service.", "  Resource    Used  Hard", "  --------    ---   ---", "  configmaps  0     1k",
        "  pods        3     10"]


# -------------------------------------------------------------------------------------------- generic
@pytest.mark.parametrize(("field", "want"), [
    ("apiVersion", "API Version"), ("netid", "Netid"), ("egressCIDRs", "Egress CID Rs"), ("hostIP", "Host IP"),
    ("uid", "UID"), ("ipv4", "ipv4"), ("PDFLoader", "PDF Loader"),
])
def test_smart_labels_as_kubectl_132(field: str, want: str) -> None:
    assert smart_label(field) == want


def test_camel_split_and_go_values() -> None:
    assert camel_split("egressIPs") == ["egress", "I", "Ps"]
    assert [go_value(v) for v in (None, True, 3, 2.0, 1.5, ["a", 1], {"b": 1, "a": "x"})] == \
        ["<nil>", "true", "3", "2", "1.5", "[a 1]", "map[a:x b:1]"]


def test_generic_describer_nests_fields_sorted() -> None:
    obj = {"apiVersion": "network.openshift.io/v1", "kind": "NetNamespace", "netid": 12, "egressIPs": [],
           "metadata": {"name": "p1", "uid": "u", "labels": {"a": "b"}, "managedFields": [{"x": 1}],
                        "ownerReferences": [{"kind": "Namespace", "name": "p1"}]}}
    assert describe_generic(obj, [], NOW).splitlines() == [
        "Name:         p1", "Namespace:    ", "Labels:       a=b", "Annotations:  <none>",
        "API Version:  network.openshift.io/v1", "Egress I Ps:", "Kind:  NetNamespace", "Metadata:",
        "  Owner References:", "    Kind:  Namespace", "    Name:  p1", "  UID:     u", "Netid:     12",
        "Events:    <none>"]


def test_rfc1123z() -> None:
    assert rfc1123z("2026-12-05T05:00:00Z") == "Sat, 05 Dec 2026 05:00:00 +0000"


def test_a_deleted_pod_is_terminating_for_as_long_as_it_lasts() -> None:
    pod = {"metadata": {"name": "p", "namespace": "n", "deletionTimestamp": "2026-12-05T05:59:30Z",
                        "deletionGracePeriodSeconds": 30}, "spec": {"containers": []}, "status": {"phase": "Running"}}
    lines = describe_pod(pod, [], NOW).splitlines()
    assert "Status:                    Terminating (lasts 30s)" in lines
    assert "Termination Grace Period:  30s" in lines
