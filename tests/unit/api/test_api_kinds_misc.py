"""Deployment, ClusterRole and bindings, Route (HSTS), Template and Project."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from osdn.api.kinds.apps import Deployment
from osdn.api.kinds.project import Project
from osdn.api.kinds.rbac import ClusterRoleBinding
from osdn.api.kinds.route import Route
from osdn.api.kinds.template import Template

Problems = Callable[..., list[str]]
HSTS = "haproxy.router.openshift.io/hsts_header"


def deployment(selector: Any, labels: dict[str, str], **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"template": {"metadata": {"labels": labels},
                                         "spec": {"containers": [{"name": "c", "image": "i"}]}}, **spec}
    if selector is not None:
        body["selector"] = selector
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": body}


DEPLOYMENTS = [
    ("ok", deployment({"matchLabels": {"app": "egress-router-cni"}}, {"app": "egress-router-cni"}), []),
    ("expression", deployment({"matchExpressions": [{"key": "app", "operator": "In", "values": ["a", "b"]}]},
                              {"app": "b"}), []),
    ("no-selector", deployment(None, {"app": "a"}), ["spec.selector: Required value"]),
    ("empty-selector", deployment({}, {"app": "a"}),
     ["spec.selector: Invalid value: {}: empty selector is invalid for deployment"]),
    ("mismatch", deployment({"matchLabels": {"app": "a"}}, {"app": "b"}),
     ['spec.template.metadata.labels: Invalid value: {"app": "b"}: `selector` does not match template `labels`']),
    ("bad-operator", deployment({"matchExpressions": [{"key": "app", "operator": "Is"}]}, {"app": "b"}),
     ['spec.selector.matchExpressions[0].operator: Unsupported value: "Is": supported values: In, NotIn, Exists, '
      "DoesNotExist"]),
    ("bad-strategy", deployment({"matchLabels": {"app": "a"}}, {"app": "a"}, strategy={"type": "BlueGreen"}),
     ['spec.strategy.type: Unsupported value: "BlueGreen": supported values: "RollingUpdate", "Recreate"']),
    ("no-template", {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                     "spec": {"selector": {"matchLabels": {"app": "a"}}}}, ["spec.template: Required value"]),
]


@pytest.mark.parametrize("obj,expected", [d[1:] for d in DEPLOYMENTS], ids=[d[0] for d in DEPLOYMENTS])
def test_deployment(problems: Problems, obj: dict[str, Any], expected: list[str]) -> None:
    assert problems(obj) == expected


def test_deployment_defaults_and_selector_immutable(created: Callable[..., Any], problems: Problems) -> None:
    obj = deployment({"matchLabels": {"app": "a"}}, {"app": "a", "v": "1"})
    model = Deployment.model_validate(created(obj))
    assert model.spec is not None and model.spec.strategy is not None
    assert (model.spec.replicas, model.spec.strategy.type) == (1, "RollingUpdate")
    changed = deployment({"matchLabels": {"app": "a", "v": "1"}}, {"app": "a", "v": "1"})
    assert problems(changed, obj) == ['spec.selector: Invalid value: {"matchLabels": {"app": "a", "v": "1"}}: '
                                      "field is immutable"]


def role(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "route-editor"},
            "rules": list(rules)}


ROLES = [
    ("custom-host", {"verbs": ["update"], "apiGroups": ["route.openshift.io"], "resources": ["routes/custom-host"]},
     []),
    ("wildcards", {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*", "*/scale", "pods/log"]}, []),
    ("non-resource", {"verbs": ["get"], "nonResourceURLs": ["/healthz"]}, []),
    ("no-verbs", {"apiGroups": [""], "resources": ["pods"]},
     ["rules[0].verbs: Required value: verbs must contain at least one value"]),
    ("no-groups", {"verbs": ["get"], "resources": ["pods"]},
     ["rules[0].apiGroups: Required value: resource rules must supply at least one api group"]),
    ("no-resources", {"verbs": ["get"], "apiGroups": [""]},
     ["rules[0].resources: Required value: resource rules must supply at least one resource"]),
    ("bad-resource", {"verbs": ["get"], "apiGroups": [""], "resources": ["pods/log/x"]},
     ['rules[0].resources[0]: Invalid value: "pods/log/x": must be a resource name, optionally with a '
      'subresource ("routes/custom-host")']),
    ("both", {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"], "nonResourceURLs": ["/x"]},
     ['rules[0]: Invalid value: {"apiGroups": [""], "nonResourceURLs": ["/x"], "resources": ["pods"], "verbs": '
      '["get"]}: rules cannot apply to both regular resources and non-resource URLs']),
]


@pytest.mark.parametrize("rule,expected", [r[1:] for r in ROLES], ids=[r[0] for r in ROLES])
def test_cluster_role(problems: Problems, rule: dict[str, Any], expected: list[str]) -> None:
    assert problems(role(rule)) == expected


def binding(kind: str, role_ref: dict[str, Any], *subjects: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": {"name": "b"},
            "roleRef": role_ref, "subjects": list(subjects)}


CR = {"kind": "ClusterRole", "name": "route-editor"}
BINDINGS = [
    ("user", binding("ClusterRoleBinding", CR, {"kind": "User", "name": "user"}), []),
    ("sa-cluster", binding("ClusterRoleBinding", CR, {"kind": "ServiceAccount", "name": "sa", "namespace": "p1"}),
     []),
    ("sa-no-ns", binding("ClusterRoleBinding", CR, {"kind": "ServiceAccount", "name": "sa"}),
     ["subjects[0].namespace: Required value"]),
    ("rolebinding-role", binding("RoleBinding", {"kind": "Role", "name": "r"}, {"kind": "Group", "name": "g"}), []),
    ("crb-role", binding("ClusterRoleBinding", {"kind": "Role", "name": "r"}),
     ['roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"']),
    ("no-name", binding("RoleBinding", {"kind": "ClusterRole"}), ["roleRef.name: Required value"]),
    ("bad-subject-kind", binding("RoleBinding", CR, {"kind": "Robot", "name": "r2"}),
     ['subjects[0].kind: Unsupported value: "Robot": supported values: "User", "Group", "ServiceAccount"']),
    ("subject-no-name", binding("RoleBinding", CR, {"kind": "User"}), ["subjects[0].name: Required value"]),
    ("no-roleref", {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "b"}},
     ["roleRef: Required value"]),
]


@pytest.mark.parametrize("obj,expected", [b[1:] for b in BINDINGS], ids=[b[0] for b in BINDINGS])
def test_bindings(problems: Problems, obj: dict[str, Any], expected: list[str]) -> None:
    assert problems(obj) == expected


def test_binding_defaults_and_role_ref_immutable(created: Callable[..., Any], problems: Problems) -> None:
    obj = binding("ClusterRoleBinding", CR, {"kind": "User", "name": "user"})
    model = ClusterRoleBinding.model_validate(created(obj))
    assert model.role_ref is not None and model.role_ref.api_group == "rbac.authorization.k8s.io"
    assert model.subjects is not None and model.subjects[0].api_group == "rbac.authorization.k8s.io"
    other = binding("ClusterRoleBinding", {"kind": "ClusterRole", "name": "admin"}, {"kind": "User", "name": "u"})
    assert problems(other, obj)[0].startswith("roleRef: Invalid value:")
    assert problems(other, obj)[0].endswith("cannot change roleRef")


@pytest.mark.parametrize("value", [
    "max-age=31536000;includeSubDomains;preload", 'max-age="99999"', 'max-age  =  "99999"',
    "max-age=31536000; includeSubDomains", "includeSubDomains", "", "max-age=1;foo", "max-age=1;max-age=2",
], ids=["full", "quoted", "spaced-quoted", "space", "no-max-age", "empty", "unknown", "twice"])
def test_hsts_header_never_refused(problems: Problems, value: str) -> None:
    """OpenShift stores any value; the router ignores what it cannot use (admission warns)."""
    obj = {"apiVersion": "v1", "kind": "Route", "metadata": {"name": "r", "annotations": {HSTS: value}}}
    assert problems(obj) == []


def route(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "route.openshift.io/v1", "kind": "Route", "metadata": {"name": "r"},
            "spec": {"to": {"kind": "Service", "name": "web"}, **spec}}


ROUTES = [
    ("ok", {"host": "www.example.com"}, []),
    ("edge-hsts-host", {"host": "www.example.com", "tls": {"termination": "edge",
                                                          "insecureEdgeTerminationPolicy": "Redirect"}}, []),
    ("bad-host", {"host": "WWW.example.com"},
     ['spec.host: Invalid value: "WWW.example.com": a DNS-1123 subdomain must consist of lower case alphanumeric '
      "characters, '-' or '.', must start and end with an alphanumeric character, and be at most 253 characters"]),
    ("bad-termination", {"tls": {"termination": "mirror"}},
     ['spec.tls.termination: Unsupported value: "mirror": supported values: "edge", "passthrough", "reencrypt"']),
    ("bad-insecure", {"tls": {"termination": "edge", "insecureEdgeTerminationPolicy": "Maybe"}},
     ['spec.tls.insecureEdgeTerminationPolicy: Unsupported value: "Maybe": supported values: "None", "Allow", '
      '"Redirect"']),
    ("passthrough-allow", {"tls": {"termination": "passthrough", "insecureEdgeTerminationPolicy": "Allow"}},
     ['spec.tls.insecureEdgeTerminationPolicy: Invalid value: "Allow": InsecureEdgeTerminationPolicy Allow is not '
      "supported with passthrough"]),
    ("passthrough-path", {"path": "/x", "tls": {"termination": "passthrough"}},
     ['spec.path: Invalid value: "/x": passthrough termination does not support paths']),
    ("to-no-name", {"to": {"kind": "Service"}}, ["spec.to.name: Required value"]),
    ("to-bad-kind", {"to": {"kind": "Pod", "name": "p"}},
     ['spec.to.kind: Unsupported value: "Pod": supported values: "Service"']),
    ("port-no-target", {"port": {}}, ["spec.port.targetPort: Required value"]),
    ("path-relative", {"path": "x"}, ['spec.path: Invalid value: "x": path must begin with /']),
]


@pytest.mark.parametrize("spec,expected", [r[1:] for r in ROUTES], ids=[r[0] for r in ROUTES])
def test_route(problems: Problems, spec: dict[str, Any], expected: list[str]) -> None:
    assert problems(route(**spec)) == expected


def test_hsts_on_plain_route_is_accepted(problems: Problems) -> None:
    """OpenShift ignores HSTS on routes without edge/reencrypt TLS; the seed has such a route."""
    obj = route()
    obj["metadata"]["annotations"] = {HSTS: "max-age=31536000"}
    assert problems(obj) == []


def test_route_defaults(created: Callable[..., Any]) -> None:
    model = Route.model_validate(created(route(to={"name": "web"})))
    assert model.spec is not None and model.spec.to is not None
    assert (model.spec.to.kind, model.spec.to.weight, model.spec.wildcard_policy) == ("Service", 100, "None")


def template(**fields: Any) -> dict[str, Any]:
    return {"apiVersion": "template.openshift.io/v1", "kind": "Template", "metadata": {"name": "project-request"},
            **fields}


RAW = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "${NAME}"},
       "spec": {"podSelector": None, "ingress": [{"from": [{"podSelector": {}}]}]}}
TEMPLATES = [
    ("objects-verbatim", {"objects": [RAW], "parameters": [{"name": "NAME", "required": True}]}, []),
    ("generated", {"parameters": [{"name": "PASSWORD", "generate": "expression", "from": "[a-z]{8}"}]}, []),
    ("generate-no-from", {"parameters": [{"name": "P", "generate": "expression"}]},
     ['parameters[0].from: Required value: required when generate is "expression"']),
    ("param-no-name", {"parameters": [{"value": "x"}]}, ["parameters[0].name: Required value"]),
    ("param-bad-name", {"parameters": [{"name": "MY-NAME"}]},
     ['parameters[0].name: Invalid value: "MY-NAME": must match [a-zA-Z0-9_]+']),
    ("param-dup", {"parameters": [{"name": "A"}, {"name": "A"}]}, ['parameters[1].name: Duplicate value: "A"']),
    ("object-not-object", {"objects": ["x"]}, ["objects[0]: must be an object, got 'x'"]),
]


@pytest.mark.parametrize("fields,expected", [t[1:] for t in TEMPLATES], ids=[t[0] for t in TEMPLATES])
def test_template(problems: Problems, fields: dict[str, Any], expected: list[str]) -> None:
    assert problems(template(**fields)) == expected


def test_template_objects_kept_verbatim(created: Callable[..., Any]) -> None:
    stored = created(template(objects=[RAW]))
    assert stored["objects"] == [RAW]
    assert Template.model_validate(stored).objects == [RAW]


OVERRIDE = "openshift.io/active-deadline-seconds-override"


@pytest.mark.parametrize("value,expected", [
    ("1000", []), ("0", []),
    ("-5", [f'metadata.annotations[{OVERRIDE}]: Invalid value: "-5": must be a non-negative integer number of '
            "seconds, as a string"]),
    ("1h", [f'metadata.annotations[{OVERRIDE}]: Invalid value: "1h": must be a non-negative integer number of '
            "seconds, as a string"]),
    (1000, [f"metadata.annotations[{OVERRIDE}]: value 1000 must be a string (quote it in YAML)"]),
], ids=["seed-1000", "zero", "negative", "duration", "unquoted"])
def test_project_active_deadline_override(problems: Problems, value: Any, expected: list[str]) -> None:
    obj = {"apiVersion": "v1", "kind": "Project", "metadata": {"name": "p1", "annotations": {OVERRIDE: value}}}
    assert problems(obj) == expected
    if not expected:
        assert Project.model_validate(obj).active_deadline_override == int(value)
