"""Pod (core/v1): spec rules, osdn annotations (bandwidth, macvlan), defaulting, model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from osdn.api.kinds.core import Pod
from osdn.api.kinds.pod import bandwidth_problem

Problems = Callable[..., list[str]]
MACVLAN = "pod.network.openshift.io/assign-macvlan"


def pod(spec: dict[str, Any] | None = None, annotations: dict[str, Any] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "web"}
    if annotations is not None:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": spec if spec is not None else {"containers": [{"name": "web", "image": "nginx"}]}}


def c(**fields: Any) -> dict[str, Any]:
    return {"name": "web", "image": "nginx", **fields}


SPECS = [
    ("ok", {"containers": [c()]}, []),
    ("no-containers", {"containers": []}, ["spec.containers: Required value"]),
    ("no-name", {"containers": [{"image": "nginx"}]}, ["spec.containers[0].name: Required value"]),
    ("no-image", {"containers": [{"name": "web"}]}, ["spec.containers[0].image: Required value"]),
    ("bad-name", {"containers": [c(name="Web")]},
     ['spec.containers[0].name: Invalid value: "Web": a lowercase RFC 1123 label must consist of lower case '
      "alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
      "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"]),
    ("duplicate-names", {"initContainers": [c()], "containers": [c()]},
     ['spec.initContainers[0].name: Duplicate value: "web"']),
    ("ports", {"containers": [c(ports=[{"containerPort": 80, "name": "http"}, {"containerPort": 53,
                                                                           "protocol": "UDP"}])]}, []),
    ("port-zero", {"containers": [c(ports=[{"containerPort": 0}])]},
     ["spec.containers[0].ports[0].containerPort: Required value"]),
    ("port-missing", {"containers": [c(ports=[{"name": "http"}])]},
     ["spec.containers[0].ports[0].containerPort: Required value"]),
    ("port-name-long", {"containers": [c(ports=[{"containerPort": 80, "name": "a-very-long-port-name"}])]},
     ['spec.containers[0].ports[0].name: Invalid value: "a-very-long-port-name": must be no more than 15 '
      "characters"]),
    ("port-name-dup", {"containers": [c(ports=[{"containerPort": 80, "name": "http"},
                                               {"containerPort": 81, "name": "http"}])]},
     ['spec.containers[0].ports[1].name: Duplicate value: "http"']),
    ("port-protocol", {"containers": [c(ports=[{"containerPort": 80, "protocol": "tcp"}])]},
     ['spec.containers[0].ports[0].protocol: Unsupported value: "tcp": supported values: "SCTP", "TCP", "UDP"']),
    ("port-string", {"containers": [c(ports=[{"containerPort": "80"}])]},
     ["spec.containers[0].ports[0].containerPort: must be an integer, got '80'"]),
    ("env-ok", {"containers": [c(env=[{"name": "A", "value": "1"}, {"name": "B"}])]}, []),
    ("env-no-name", {"containers": [c(env=[{"value": "1"}])]}, ["spec.containers[0].env[0].name: Required value"]),
    ("env-relaxed-name", {"containers": [c(env=[{"name": "1A b"}])]}, []),
    ("env-bad-name", {"containers": [c(env=[{"name": "A=B"}])]},
     ['spec.containers[0].env[0].name: Invalid value: "A=B": a valid environment variable name must consist only '
      "of printable ASCII characters other than '='"]),
    ("env-value-int", {"containers": [c(env=[{"name": "A", "value": 1}])]},
     ["spec.containers[0].env[0].value: must be a string, got 1 (quote it in YAML)"]),
    ("env-configmap", {"containers": [c(env=[{"name": "A", "valueFrom": {
        "configMapKeyRef": {"name": "egress-routes", "key": "destination"}}}])]}, []),
    ("env-secret", {"containers": [c(env=[{"name": "A", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}])]},
     []),
    ("env-fieldref", {"containers": [c(env=[{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}])]},
     []),
    ("env-fieldref-label", {"containers": [c(env=[{"name": "A", "valueFrom": {
        "fieldRef": {"fieldPath": "metadata.labels['app']"}}}])]}, []),
    ("env-fieldref-bad", {"containers": [c(env=[{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "spec.x"}}}])]},
     ['spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Invalid value: "spec.x": error converting '
      "fieldPath: field label not supported: spec.x"]),
    ("env-configmap-no-key", {"containers": [c(env=[{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "x"}}}])]},
     ["spec.containers[0].env[0].valueFrom.configMapKeyRef.key: Required value"]),
    ("env-value-and-from", {"containers": [c(env=[{"name": "A", "value": "x", "valueFrom": {
        "secretKeyRef": {"name": "s", "key": "k"}}}])]},
     ['spec.containers[0].env[0].valueFrom: Invalid value: "": may not be specified when `value` is not empty']),
    ("env-from-empty", {"containers": [c(env=[{"name": "A", "valueFrom": {}}])]},
     ['spec.containers[0].env[0].valueFrom: Invalid value: "": must specify one of: `fieldRef`, '
      "`resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"]),
    ("env-from-two", {"containers": [c(env=[{"name": "A", "valueFrom": {
        "secretKeyRef": {"name": "s", "key": "k"}, "configMapKeyRef": {"name": "s", "key": "k"}}}])]},
     ['spec.containers[0].env[0].valueFrom: Invalid value: "": may not have more than one field specified at a '
      "time"]),
    ("init-checked", {"initContainers": [{"name": "init"}], "containers": [c()]},
     ["spec.initContainers[0].image: Required value"]),
    ("restart-never", {"containers": [c()], "restartPolicy": "Never"}, []),
    ("restart-bad", {"containers": [c()], "restartPolicy": "Sometimes"},
     ['spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"']),
    ("deadline-zero", {"containers": [c()], "activeDeadlineSeconds": 0},
     ["spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive"]),
    ("deadline-ok", {"containers": [c()], "activeDeadlineSeconds": 3600}, []),
    ("node-name-bad", {"containers": [c()], "nodeName": "Node_1"},
     ['spec.nodeName: Invalid value: "Node_1": a lowercase RFC 1123 subdomain must consist of lower case '
      "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. "
      "'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"]),
    ("node-selector", {"containers": [c()], "nodeSelector": {"site": "springfield-1"}}, []),
    ("node-selector-bad", {"containers": [c()], "nodeSelector": {"site": "-x"}},
     ['spec.nodeSelector: Invalid value: "-x": a valid label must be an empty string or consist of alphanumeric '
      "characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
      "'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"]),
    ("privileged-not-bool", {"containers": [c(securityContext={"privileged": "yes"})]},
     ["spec.containers[0].securityContext.privileged: must be a boolean, got 'yes'"]),
]


@pytest.mark.parametrize("spec,expected", [s[1:] for s in SPECS], ids=[s[0] for s in SPECS])
def test_pod_spec(problems: Problems, spec: dict[str, Any], expected: list[str]) -> None:
    assert problems(pod(spec)) == expected


BANDWIDTH = [("10M", None), ("4M", None), ("20M", None), ("1.2k", None), ("1k", None), ("1P", None),
             ("1Mi", None), ("0.5k", "resource is unreasonably small (< 1kbit)"),
             ("2P", "resource is unreasonably large (> 1Pbit)"), ("foo", "failed to parse pod bandwidth: ")]


@pytest.mark.parametrize("value,problem", BANDWIDTH, ids=[b[0] for b in BANDWIDTH])
def test_bandwidth_vectors(problems: Problems, value: str, problem: str | None) -> None:
    found = bandwidth_problem(value)
    assert (found is None) if problem is None else (found or "").startswith(problem)
    for key in ("kubernetes.io/ingress-bandwidth", "kubernetes.io/egress-bandwidth"):
        errs = problems(pod(annotations={key: value}))
        assert errs == ([] if problem is None else [f'metadata.annotations[{key}]: Invalid value: "{value}": {found}'])


def test_bandwidth_seed_example(created: Callable[..., Any]) -> None:
    """Seed 001's "Limited Pod Object Definition", with the braces its extraction lost put back."""
    obj = {"kind": "Pod", "spec": {"containers": [{"image": "nginx", "name": "nginx"}]}, "apiVersion": "v1",
           "metadata": {"name": "iperf-slow", "annotations": {"kubernetes.io/ingress-bandwidth": "10M",
                                                             "kubernetes.io/egress-bandwidth": "10M"}}}
    stored = created(obj)
    assert stored["metadata"]["annotations"] == obj["metadata"]["annotations"]


PRIV = {"securityContext": {"privileged": True}}
MACVLAN_CASES = [
    ("privileged", {"containers": [c(**PRIV)]}, "true", []),
    ("privileged-init", {"initContainers": [c(name="init", **PRIV)], "containers": [c()]}, "true", []),
    ("interface-name", {"containers": [c(**PRIV)]}, "eth1", []),
    ("not-privileged", {"containers": [c()]}, "true",
     [f'metadata.annotations[{MACVLAN}]: pod has "{MACVLAN}" annotation but is not privileged']),
    ("privileged-false", {"containers": [c(securityContext={"privileged": False})]}, "true",
     [f'metadata.annotations[{MACVLAN}]: pod has "{MACVLAN}" annotation but is not privileged']),
    ("bad-interface", {"containers": [c(**PRIV)]}, "eth 1/2",
     [f'metadata.annotations[{MACVLAN}]: Invalid value: "eth 1/2": must be "true" or the name of a network '
      "interface"]),
]


@pytest.mark.parametrize("spec,value,expected", [m[1:] for m in MACVLAN_CASES], ids=[m[0] for m in MACVLAN_CASES])
def test_macvlan_annotation(problems: Problems, spec: dict[str, Any], value: str, expected: list[str]) -> None:
    assert problems(pod(spec, {MACVLAN: value})) == expected


def test_unquoted_true_annotation_says_quote_it(problems: Problems) -> None:
    """YAML `assign-macvlan: true` (unquoted) arrives as a bool; the message must say what to do."""
    errs = problems(pod({"containers": [c(**PRIV)]}, {MACVLAN: True}))
    assert errs == [f"metadata.annotations[{MACVLAN}]: value true must be a string (quote it in YAML)"]


def test_pod_defaults(created: Callable[..., Any]) -> None:
    stored = created(pod({"containers": [c(ports=[{"containerPort": 80}])]}))
    model = Pod.model_validate(stored)
    assert model.spec is not None and model.spec.containers is not None
    assert model.spec.restart_policy == "Always"
    assert model.spec.containers[0].ports is not None and model.spec.containers[0].ports[0].protocol == "TCP"
    assert not model.privileged


def test_pod_defaults_keep_user_values(created: Callable[..., Any]) -> None:
    stored = created(pod({"containers": [c(ports=[{"containerPort": 53, "protocol": "UDP"}])],
                          "restartPolicy": "Never"}))
    assert stored["spec"]["restartPolicy"] == "Never"
    assert stored["spec"]["containers"][0]["ports"][0]["protocol"] == "UDP"


def test_pod_model_keeps_unknown_fields() -> None:
    obj = pod({"containers": [c(resources={"limits": {"cpu": "1"}})], "priorityClassName": "high"})
    model = Pod.model_validate(obj)
    assert model.to_obj() == obj
    assert model.spec is not None and model.spec.model_extra == {"priorityClassName": "high"}


def test_pod_wrong_shape_does_not_crash(problems: Problems) -> None:
    assert problems(pod({"containers": "nginx"})) == ["spec.containers: must be a list, got 'nginx'"]
    assert problems({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, "spec": []}) == \
        ["spec: must be an object, got list"]
