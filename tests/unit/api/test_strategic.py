"""Strategic merge patch: upstream's own cases (apimachinery strategicpatch/patch_test.go) with its
MergeItem schema, then the Kubernetes kinds osdn serves (what kubectl apply and patch send)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from osdn.api.patchmeta import Field, Node, merge, schema_for, struct
from osdn.api.strategic import apply_strategic_patch
from osdn.errors import BadRequestError

CASES = yaml.safe_load((Path(__file__).parents[2] / "fixtures" / "strategicpatch_upstream.yaml").read_text())

# MergeItem and RetainKeysMergeItem of patch_test.go, tag for tag.
MERGE_ITEM = Node()
_RETAIN_ITEM = Node({"mergingIntList": merge(), "mergingList": merge("name", MERGE_ITEM),
                     "nonMergingList": Field(node=MERGE_ITEM)})
MERGE_ITEM.fields.update({
    "mergingList": merge("name", MERGE_ITEM),
    "nonMergingList": Field(node=MERGE_ITEM),
    "mergingIntList": merge(),
    "mergeItemPtr": merge("name", MERGE_ITEM),
    "replacingItem": Field("replace"),
    "retainKeysMap": struct(_RETAIN_ITEM, "retainKeys"),
    "retainKeysMergingList": merge("name", MERGE_ITEM, "merge,retainKeys"),
})


def _sorted(value: Any, schema: Node) -> Any:
    """upstream's sortMergeListsByName: merge lists sorted by merge key ("%v"), scalars deduplicated."""
    if not isinstance(value, dict):
        return value
    out = {}
    for k, v in value.items():
        if k == "$retainKeys" or k.startswith("$deleteFromPrimitiveList"):
            v = sorted(v, key=str)
        elif not k.startswith("$") and isinstance(v, dict):
            v = _sorted(v, schema.get(k).node or Node())
        elif not k.startswith("$") and isinstance(v, list) and schema.get(k).merges and v:
            meta = schema.get(k)
            if isinstance(v[0], dict):
                v = sorted((_sorted(i, meta.node or Node()) for i in v), key=lambda i: str(i.get(meta.key)))
            else:
                v = sorted(dict.fromkeys(v), key=str)
        out[k] = v
    return out


@pytest.mark.parametrize("case", CASES["cases"], ids=[c["description"] for c in CASES["cases"]])
def test_upstream_case(case: dict[str, Any]) -> None:
    """Cases from upstream's YAML tables are sorted by merge key first, as upstream's test does;
    its raw cases (`...RawTestCases`) are used as they are."""
    sort = (lambda v: v) if case["source"].endswith("RawTestCases") else (lambda v: _sorted(v, MERGE_ITEM))
    original, patch = sort(case["original"]), sort(case["patch"])
    if "error" in case:
        with pytest.raises(BadRequestError, match=case["error"]):
            apply_strategic_patch(original, patch, MERGE_ITEM)
        return
    assert apply_strategic_patch(original, patch, MERGE_ITEM) == sort(case["expected"])


POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "p1", "finalizers": ["a"]},
       "spec": {"containers": [
           {"name": "app", "image": "app:1", "ports": [{"containerPort": 80}, {"containerPort": 443}],
            "env": [{"name": "A", "value": "1"}]},
           {"name": "sidecar", "image": "proxy:1"}],
           "tolerations": [{"key": "k", "operator": "Exists"}]}}


def _pod_patch(patch: dict[str, Any]) -> dict[str, Any]:
    schema = schema_for("Pod")
    assert schema is not None
    return apply_strategic_patch(POD, patch, schema)


def test_containers_merge_by_name_and_ports_by_container_port() -> None:
    out = _pod_patch({"spec": {"containers": [{"name": "app", "image": "app:2",
                                               "ports": [{"containerPort": 8080}]}]}})
    app, sidecar = out["spec"]["containers"]
    assert app["image"] == "app:2" and sidecar == {"name": "sidecar", "image": "proxy:1"}
    assert [p["containerPort"] for p in app["ports"]] == [8080, 80, 443]
    assert app["env"] == [{"name": "A", "value": "1"}]


def test_kubectl_apply_patch_keeps_both_containers_and_stores_no_directive() -> None:
    """The patch `kubectl apply` computes when the image of the second container changes."""
    patch = {"spec": {"$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
                      "containers": [{"name": "sidecar", "image": "proxy:2"}]}}
    out = _pod_patch(patch)
    assert [c["name"] for c in out["spec"]["containers"]] == ["app", "sidecar"]
    assert out["spec"]["containers"][1]["image"] == "proxy:2"
    assert "$setElementOrder/containers" not in out["spec"]


def test_delete_directive_and_set_element_order() -> None:
    out = _pod_patch({"spec": {"$setElementOrder/containers": [{"name": "sidecar"}],
                               "containers": [{"name": "app", "$patch": "delete"}]}})
    assert [c["name"] for c in out["spec"]["containers"]] == ["sidecar"]


def test_atomic_tolerations_are_replaced_and_finalizers_merge_as_a_set() -> None:
    out = _pod_patch({"metadata": {"finalizers": ["b", "a"]}, "spec": {"tolerations": [{"operator": "Exists"}]}})
    assert out["spec"]["tolerations"] == [{"operator": "Exists"}]
    assert out["metadata"]["finalizers"] == ["b", "a"]
    out = _pod_patch({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}})
    assert "finalizers" in out["metadata"] and out["metadata"]["finalizers"] == []


def test_replace_directive_on_a_list_and_null_deletes() -> None:
    out = _pod_patch({"spec": {"containers": [{"name": "only", "image": "x"}, {"$patch": "replace"}]},
                      "metadata": {"finalizers": None}})
    assert out["spec"]["containers"] == [{"name": "only", "image": "x"}]
    assert "finalizers" not in out["metadata"]


def test_retain_keys_of_deployment_strategy() -> None:
    schema = schema_for("Deployment")
    assert schema is not None
    dep = {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}
    out = apply_strategic_patch(dep, {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}, schema)
    assert out["spec"]["strategy"] == {"type": "Recreate"}


def test_service_ports_merge_by_port() -> None:
    schema = schema_for("Service")
    assert schema is not None
    svc = {"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]}}
    out = apply_strategic_patch(svc, {"spec": {"ports": [{"port": 443, "targetPort": 8443}]}}, schema)
    assert out["spec"]["ports"] == [{"port": 80, "name": "http"},
                                    {"port": 443, "name": "https", "targetPort": 8443}]


def test_missing_merge_key_and_unknown_directive_are_bad_requests() -> None:
    with pytest.raises(BadRequestError, match="does not contain declared merge key: name"):
        _pod_patch({"spec": {"containers": [{"image": "x"}]}})
    with pytest.raises(BadRequestError, match="unknown patch type: bogus"):
        _pod_patch({"spec": {"$patch": "bogus"}})


def test_openshift_4_crd_kinds_have_no_strategic_schema() -> None:
    assert schema_for("Network") is None and schema_for("EgressRouter") is None
    assert schema_for("Route") is not None   # openshift-apiserver's built-in type
    assert schema_for("NetNamespace") is not None and schema_for("HostSubnet") is not None   # 3.x built-ins
    assert schema_for("NetworkPolicy") is not None
