"""Unknown fields of built-in kinds (osdn.api.fields): found with kube paths, pruned before storing,
open schemas left alone, and every seed object known field for field (Strict accepts it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from osdn.api import registry
from osdn.api.fields import prune_unknown, unknown_fields, unknown_in_json_patch
from tests.unit.api.conftest import create
from tests.unit.api.test_api_seed_fixtures import FILES, load

NETPOL = registry.by_kind("NetworkPolicy")


def policy(spec: dict) -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "p"}, "spec": spec}


def test_a_typo_is_an_unknown_field_with_its_path() -> None:
    obj = policy({"podSelecter": {"matchLabels": {"app": "db"}},
                  "ingress": [{"form": [{"podSelector": {}}]}, {"from": [{"namespaceSelektor": {}}]}]})
    obj["metadata"]["lables"] = {"a": "b"}
    assert sorted(unknown_fields(NETPOL, obj)) == ["metadata.lables", "spec.ingress[0].form",
                                                   "spec.ingress[1].from[0].namespaceSelektor", "spec.podSelecter"]


def test_the_typo_no_longer_becomes_a_select_all_policy() -> None:
    """Before: podSelecter was kept and podSelector defaulted to {} (every pod); now the typo is dropped
    before defaulting, so what is stored says exactly what was understood."""
    stored = create(policy({"podSelecter": {"matchLabels": {"app": "db"}}}))
    assert "podSelecter" not in stored["spec"] and stored["spec"]["podSelector"] == {}


def test_prune_drops_only_unknown_fields() -> None:
    obj = policy({"podSelector": {}, "bogus": 1})
    assert prune_unknown(NETPOL, obj) == ["spec.bogus"]
    assert obj["spec"] == {"podSelector": {}}


@pytest.mark.parametrize(("kind", "obj"), [
    ("ConfigMap", {"data": {"any-key": "v"}, "binaryData": {"k": "aGk="}}),
    ("Namespace", {"spec": {"finalizers": ["kubernetes"], "whatever": 1}}),
    ("Pod", {"spec": {"containers": [{"name": "c", "resources": {"limits": {"cpu": "1"}}, "volumeMounts": []}],
                      "volumes": [{"name": "v", "emptyDir": {}}], "tolerations": []}}),
    ("Template", {"objects": [{"kind": "Anything", "spec": {"free": "form"}}]}),
    ("Event", {"source": {"component": "x"}, "count": 3}),
    ("Service", {"spec": {"ipFamilies": ["IPv4"]}, "status": {"loadBalancer": {}}}),
], ids=["configmap-data", "namespace-spec", "pod-upstream-fields", "template-objects", "event", "service-status"])
def test_open_schemas_report_nothing(kind: str, obj: dict) -> None:
    obj["metadata"] = {"name": "x", "labels": {"any/key": "v"}, "annotations": {"free": "text"}}
    assert unknown_fields(registry.by_kind(kind), obj) == []


def test_modelled_children_of_open_models_are_still_checked() -> None:
    pod = {"spec": {"containers": [{"name": "c", "env": [{"name": "A", "valu": "1"}]}]}}
    assert unknown_fields(registry.by_kind("Pod"), pod) == ["spec.containers[0].env[0].valu"]


def test_json_patch_targets_and_values() -> None:
    ops = [{"op": "add", "path": "/spec/podSelecter", "value": {}},
           {"op": "add", "path": "/spec/ingress/-", "value": {"fromm": []}},
           {"op": "replace", "path": "/metadata/labels/a~1b", "value": "x"},
           {"op": "remove", "path": "/spec/nothing"}]
    assert unknown_in_json_patch(NETPOL, ops) == ["spec.podSelecter", "spec.ingress[-].fromm"]


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_every_seed_object_is_known_field_for_field(path: Path) -> None:
    obj = load(path)
    assert unknown_fields(registry.for_object(obj), obj) == []
