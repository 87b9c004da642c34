"""ResourceQuota arithmetic and validation (osdn.api.quota, osdn.api.kinds.resourcequota): what objects
use, what a quota refuses, canonical amounts, and upstream's validation messages. Table-driven."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

import pytest

from osdn.api import quota as q

Obj = dict[str, Any]
F = Fraction


def pod(*containers: Obj, init: tuple[Obj, ...] = (), phase: str = "", deadline: int | None = None) -> Obj:
    spec: Obj = {"containers": list(containers) or [{"name": "c"}]}
    if init:
        spec["initContainers"] = list(init)
    if deadline is not None:
        spec["activeDeadlineSeconds"] = deadline
    return {"metadata": {"name": "p"}, "spec": spec, **({"status": {"phase": phase}} if phase else {})}


def c(requests: Obj | None = None, limits: Obj | None = None) -> Obj:
    resources = {k: v for k, v in (("requests", requests), ("limits", limits)) if v}
    return {"name": "c", **({"resources": resources} if resources else {})}


def quota(hard: Obj, used: Obj | None = None, scopes: list[str] | None = None, name: str = "q1") -> q.QuotaView:
    spec: Obj = {"hard": hard, **({"scopes": scopes} if scopes else {})}
    return q.QuotaView.of({"metadata": {"name": name}, "spec": spec, "status": {"used": used or {}}})


@pytest.mark.parametrize(("amount", "binary", "text"), [
    (F(0), False, "0"), (F(3), False, "3"), (F(1000), False, "1k"), (F(1500), False, "1500"),
    (F(3, 2), False, "1500m"), (F(1, 10 ** 6), False, "1u"), (F(2 * 2 ** 30), True, "2Gi"),
    (F(192 * 2 ** 20), True, "192Mi"), (F(1000), True, "1k"), (F(2 ** 20 + 1), True, "1048577"),
    (F(1, 3), False, "333333334n"), (F(-2), False, "-2"),
], ids=["zero", "count", "kilo", "not-round", "milli", "micro", "gibi", "mebi", "binary-not-exact", "odd",
        "rounded-up", "negative"])
def test_format_amount_is_kubernetes_canonical_form(amount: Fraction, binary: bool, text: str) -> None:
    assert q.format_amount(amount, binary) == text


@pytest.mark.parametrize(("obj", "expected"), [
    (pod(), {"pods": F(1), "count/pods": F(1)}),
    (pod(c({"cpu": "250m", "memory": "64Mi"}), c({"cpu": "500m"})),
     {"pods": F(1), "count/pods": F(1), "requests.cpu": F(3, 4), "cpu": F(3, 4), "requests.memory": F(64 * 2 ** 20),
      "memory": F(64 * 2 ** 20)}),
    (pod(c(limits={"cpu": "1"})),   # a request defaults to the limit
     {"pods": F(1), "count/pods": F(1), "requests.cpu": F(1), "cpu": F(1), "limits.cpu": F(1)}),
    (pod(c({"cpu": "100m"}), init=(c({"cpu": "2"}),)),   # the largest init container wins over the sum
     {"pods": F(1), "count/pods": F(1), "requests.cpu": F(2), "cpu": F(2)}),
    (pod(phase="Succeeded"), {}), (pod(phase="Failed"), {}),
    ({**pod(), "metadata": {"name": "p", "deletionTimestamp": "2026-01-01T00:00:00Z"}}, {}),
], ids=["bare", "sum-requests", "limit-defaults-request", "init-max", "succeeded", "failed", "deleting"])
def test_pod_usage(obj: Obj, expected: dict[str, Fraction]) -> None:
    assert q.pod_usage(obj) == expected


@pytest.mark.parametrize(("svc_type", "ports", "extra"), [
    ("ClusterIP", 2, {}), ("NodePort", 2, {"services.nodeports": F(2)}),
    ("LoadBalancer", 3, {"services.loadbalancers": F(1), "services.nodeports": F(3)}),
], ids=["clusterip", "nodeport", "loadbalancer"])
def test_service_usage(svc_type: str, ports: int, extra: dict[str, Fraction]) -> None:
    svc = {"spec": {"type": svc_type, "ports": [{"port": 80 + i} for i in range(ports)]}}
    assert q.object_usage("services", svc) == {"services": F(1), "count/services": F(1), **extra}


@pytest.mark.parametrize(("resource", "name", "expected"), [
    ("pods", "pods", True), ("pods", "requests.cpu", True), ("pods", "count/pods", True),
    ("services", "services.nodeports", True), ("deployments.apps", "count/deployments.apps", True),
    ("deployments.apps", "count/deployments", False), ("configmaps", "configmaps", True),
    ("configmaps", "pods", False), ("routes.route.openshift.io", "count/routes.route.openshift.io", True),
], ids=["pods", "compute", "count-pods", "nodeports", "count-group", "count-wrong-group", "legacy", "other",
        "openshift-kind"])
def test_covers(resource: str, name: str, expected: bool) -> None:
    assert q.covers(resource, name) is expected
    assert (q.resource_of(name) == resource) is expected


@pytest.mark.parametrize(("scopes", "obj", "expected"), [
    (["Terminating"], pod(deadline=30), True), (["Terminating"], pod(), False),
    (["NotTerminating"], pod(), True), (["BestEffort"], pod(), True),
    (["BestEffort"], pod(c({"cpu": "1"})), False), (["NotBestEffort"], pod(c(limits={"memory": "1Gi"})), True),
    (["NotTerminating", "BestEffort"], pod(deadline=5), False),
], ids=["terminating", "not-terminating-pod", "not-terminating", "best-effort", "burstable", "not-best-effort",
        "both-must-match"])
def test_scopes_select_pods(scopes: list[str], obj: Obj, expected: bool) -> None:
    assert q.matches_scopes(scopes, "pods", obj) is expected


def test_scoped_quotas_count_no_other_kind() -> None:
    assert not q.matches_scopes(["NotTerminating"], "services", {"spec": {}})


SVC_LB, SVC_CIP = {"spec": {"type": "LoadBalancer", "ports": [{"port": 1}]}}, {"spec": {"type": "ClusterIP"}}


@pytest.mark.parametrize(("resource", "view", "obj", "old", "over", "charge"), [
    ("pods", quota({"pods": "3"}, {"pods": "2"}), pod(), None, [], {"pods": F(1)}),
    ("pods", quota({"pods": "3"}, {"pods": "3"}), pod(), None, ["pods"], {"pods": F(1)}),
    ("pods", quota({"pods": "0"}, {"pods": "0"}), pod(), None, ["pods"], {"pods": F(1)}),
    ("pods", quota({"requests.cpu": "1"}, {"requests.cpu": "800m"}), pod(c({"cpu": "300m"})), None,
     ["requests.cpu"], {"requests.cpu": F(3, 10)}),
    ("pods", quota({"requests.cpu": "1"}, {"requests.cpu": "700m"}), pod(c({"cpu": "300m"})), None, [],
     {"requests.cpu": F(3, 10)}),
    ("pods", quota({"pods": "1"}, {"pods": "1"}), pod(phase="Succeeded"), None, [], {}),
    ("services", quota({"services.loadbalancers": "0"}, {"services.loadbalancers": "0"}), SVC_LB, SVC_CIP,
     ["services.loadbalancers"], {"services.loadbalancers": F(1)}),   # an update that grows is charged
    ("services", quota({"services": "1"}, {"services": "1"}), SVC_CIP, SVC_CIP, [], {}),   # one that does not
    ("pods", quota({"pods": "1"}, {"pods": "1"}, ["BestEffort"]), pod(c({"cpu": "1"})), None, [], {}),
    ("configmaps", quota({"configmaps": "2", "count/configmaps": "1"}, {"configmaps": "1", "count/configmaps": "1"}),
     {}, None, ["count/configmaps"], {"configmaps": F(1), "count/configmaps": F(1)}),
], ids=["fits", "full", "zero", "cpu-over", "cpu-fits", "terminal-pod-free", "update-grows", "update-same",
        "out-of-scope", "legacy-and-count"])
def test_requested_and_exceeded(resource: str, view: q.QuotaView, obj: Obj, old: Obj | None, over: list[str],
                                charge: dict[str, Fraction]) -> None:
    got = q.requested(view, resource, obj, old)
    assert got == charge
    assert q.exceeded(view, got) == over


def test_upstream_message_parts() -> None:
    view = quota({"pods": "10", "count/deployments.apps": "2"}, {"pods": "10"})
    assert view.show({"pods": F(1)}, ["pods"]) == "pods=1"
    assert view.show(view.used, ["pods", "count/deployments.apps"]) == "count/deployments.apps=0,pods=10"
    assert q.unknown_usage(view, {"count/deployments.apps": F(1)}) == ["count/deployments.apps"]


@pytest.mark.parametrize(("hard", "obj", "missing"), [
    ({"requests.cpu": "1", "limits.memory": "1Gi"}, pod(c({"cpu": "1"})), ["limits.memory"]),
    ({"cpu": "1"}, pod(c(limits={"cpu": "1"})), []),      # the limit stands for the request
    ({"limits.cpu": "1"}, pod(c({"cpu": "1"})), ["limits.cpu"]),
    ({"pods": "1"}, pod(), []),
    ({"memory": "1Gi"}, pod(c({"memory": "1Mi"}), c()), ["memory"]),   # every container
], ids=["limit-missing", "limit-is-request", "request-is-no-limit", "counts-only", "every-container"])
def test_compute_quotas_require_pods_to_state_them(hard: Obj, obj: Obj, missing: list[str]) -> None:
    assert q.missing_compute(quota(hard), "pods", obj) == missing


def test_recount_lists_each_resource_once_and_sums() -> None:
    view = quota({"pods": "10", "requests.memory": "1Gi", "count/deployments.apps": "5", "secrets": "3"})
    listed: list[str] = []
    objects = {"pods": [pod(c({"memory": "64Mi"})), pod(c({"memory": "64Mi"})), pod(phase="Failed")],
               "deployments.apps": [{"metadata": {"name": "d"}}]}

    def list_objects(resource: str) -> list[Obj]:
        listed.append(resource)
        return objects.get(resource, [])

    used = q.recount(view, list_objects)
    assert sorted(listed) == ["deployments.apps", "pods", "secrets"]
    assert q.status_of(view, used) == {
        "hard": {"count/deployments.apps": "5", "pods": "10", "requests.memory": "1Gi", "secrets": "3"},
        "used": {"count/deployments.apps": "1", "pods": "2", "requests.memory": "128Mi", "secrets": "0"}}


# ---- validation (upstream ValidateResourceQuota)

def rq(spec: Obj, status: Obj | None = None) -> Obj:
    return {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q1", "namespace": "p1"},
            "spec": spec, **({"status": status} if status else {})}


@pytest.mark.parametrize(("spec", "expected"), [
    ({"hard": {"pods": "10", "count/deployments.apps": "2", "requests.cpu": "1500m", "memory": "1Gi"}}, []),
    ({"hard": {"pods": 10}}, []),
    ({"hard": {"foo": "1"}}, ['spec.hard[foo]: Invalid value: "foo": must be a standard resource for quota']),
    ({"hard": {"pods": "-1"}}, ['spec.hard[pods]: Invalid value: "-1": must be greater than or equal to 0']),
    ({"hard": {"pods": "1.5"}}, ['spec.hard[pods]: Invalid value: "1.5": must be an integer']),
    ({"hard": {"count/pods": "500m"}}, ['spec.hard[count/pods]: Invalid value: "500m": must be an integer']),
    ({"hard": {"cpu": "abc"}}, ["spec.hard[cpu]: Invalid value: \"abc\": quantities must match the regular "
                                "expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$' (got 'abc')"]),
    ({"hard": {"count/a/b": "1"}}, ['spec.hard[count/a/b]: Invalid value: "count/a/b": name part must consist '
                                    "of alphanumeric characters, '-', '_' or '.', and must start and end with an "
                                    "alphanumeric character"]),
    ({"hard": {"pods": "1"}, "scopes": ["BestEffort"]}, []),
    ({"hard": {"requests.cpu": "1"}, "scopes": ["BestEffort"]},
     ['spec.hard: Invalid value: "requests.cpu": unsupported scope applied to resource']),
    ({"hard": {"services": "1"}, "scopes": ["NotTerminating"]},
     ['spec.hard: Invalid value: "services": unsupported scope applied to resource']),
    ({"hard": {"pods": "1"}, "scopes": ["Terminating", "NotTerminating"]},
     ['spec.scopes: Invalid value: ["Terminating", "NotTerminating"]: conflicting scopes']),
    ({"hard": {"pods": "1"}, "scopes": ["Sometimes"]},
     ['spec.scopes[0]: Unsupported value: "Sometimes": supported values: "Terminating", "NotTerminating", '
      '"BestEffort", "NotBestEffort"']),
    ({"hard": {"pods": "1"}, "scopes": ["PriorityClass"]},
     ["spec.scopes[0]: Forbidden: scope PriorityClass is not supported by osdn (supported: Terminating, "
      "NotTerminating, BestEffort, NotBestEffort)"]),
    ({"hard": {"pods": "1"}, "scopeSelector": {"matchExpressions": []}},
     ["spec.scopeSelector: Forbidden: scopeSelector is not supported by osdn; use spec.scopes"]),
], ids=["standard", "number", "unknown-name", "negative", "fraction", "count-fraction", "unparsable",
        "two-slashes", "scope", "scope-wrong-resource", "scope-not-pods", "conflicting", "unknown-scope",
        "priority-class", "scope-selector"])
def test_validation(problems: Callable[..., list[str]], spec: Obj, expected: list[str]) -> None:
    assert problems(rq(spec)) == expected


def test_status_is_validated_and_scopes_are_immutable(problems: Callable[..., list[str]]) -> None:
    assert problems(rq({"hard": {"pods": "1"}}, {"used": {"pods": "-1"}})) == [
        'status.used[pods]: Invalid value: "-1": must be greater than or equal to 0']
    old = rq({"hard": {"pods": "1"}, "scopes": ["BestEffort"]})
    assert problems(rq({"hard": {"pods": "1"}}), old) == ['spec.scopes: Invalid value: null: field is immutable']


def test_numbers_become_canonical_quantity_strings(created: Callable[[Obj], Obj]) -> None:
    obj = created(rq({"hard": {"pods": 10, "cpu": 1.5, "count/pods": 1000, "memory": "1Gi"}}))
    assert obj["spec"]["hard"] == {"pods": "10", "cpu": "1500m", "count/pods": "1k", "memory": "1Gi"}
