"""Server-side apply and managedFields: FieldsV1 paths, conflicts, removal of dropped fields, updates."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from osdn.api.apply import Scope, apply, owners_of, record_update
from osdn.api.fieldset import fields_of, from_fields_v1, path_string, to_fields_v1
from osdn.api.patchmeta import schema_for
from osdn.errors import ConflictError

DEPLOY_SCHEMA = schema_for("Deployment")
assert DEPLOY_SCHEMA is not None
SCOPE = Scope(DEPLOY_SCHEMA, "apps/v1", "2024-01-01T00:00:00Z", has_status=True)


def deploy(replicas: int = 1, image: str = "busybox", labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "labels": labels if labels is not None else {"app": "d"}},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [
                {"name": "c", "image": image, "ports": [{"containerPort": 80}]}]}}}}


def test_fieldsv1_of_a_deployment_is_kubes_shape() -> None:
    fields = to_fields_v1(fields_of(deploy(), DEPLOY_SCHEMA))
    assert fields == {
        "f:metadata": {"f:labels": {"f:app": {}}},
        "f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {'k:{"name":"c"}': {
            ".": {}, "f:image": {}, "f:name": {},
            "f:ports": {'k:{"containerPort":80}': {".": {}, "f:containerPort": {}}}}}}}}}
    assert from_fields_v1(fields) == fields_of(deploy(), DEPLOY_SCHEMA)


def test_path_string_names_keyed_items_and_set_values() -> None:
    assert path_string(("f:spec", "f:containers", 'k:{"name":"c"}', "f:image")) == '.spec.containers[name="c"].image'
    assert path_string(("f:metadata", "f:finalizers", 'v:"x"')) == '.metadata.finalizers[="x"]'


def test_apply_creates_and_records_one_apply_manager() -> None:
    obj = apply(None, deploy(), "kubectl", False, SCOPE)
    (entry,) = obj["metadata"]["managedFields"]
    assert entry["manager"] == "kubectl" and entry["operation"] == "Apply" and entry["fieldsType"] == "FieldsV1"
    assert entry["fieldsV1"]["f:spec"]["f:replicas"] == {}


def test_conflict_with_an_update_manager_names_field_and_manager() -> None:
    live = apply(None, deploy(), "kubectl", False, SCOPE)
    edited = record_update(live, deploy(replicas=3), "kubectl-client-side-apply", SCOPE)
    edited["spec"]["replicas"] = 3
    with pytest.raises(ConflictError) as err:
        apply(edited, deploy(replicas=5), "kubectl", False, SCOPE)
    assert err.value.message == ('Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" '
                                 "using apps/v1: .spec.replicas")
    assert err.value.causes[0].field == ".spec.replicas" and err.value.causes[0].reason == "FieldManagerConflict"
    forced = apply(edited, deploy(replicas=5), "kubectl", True, SCOPE)
    assert forced["spec"]["replicas"] == 5
    owners, _ = owners_of(forced)
    assert all(("f:spec", "f:replicas") not in paths for m, paths in owners.items() if m.name != "kubectl")


def test_same_value_is_shared_not_a_conflict_and_two_conflicts_are_listed() -> None:
    live = apply(None, deploy(), "a", False, SCOPE)
    shared = apply(live, deploy(), "b", False, SCOPE)
    assert {e["manager"] for e in shared["metadata"]["managedFields"]} == {"a", "b"}
    with pytest.raises(ConflictError) as err:
        apply(shared, deploy(replicas=2, image="other"), "b", False, SCOPE)
    assert err.value.message.startswith('Apply failed with 2 conflicts: conflicts with "a":\n- ')


def test_a_field_no_longer_applied_is_removed_unless_another_manager_owns_it() -> None:
    live = apply(None, deploy(labels={"app": "d", "tier": "web"}), "a", False, SCOPE)
    after = apply(live, deploy(labels={"app": "d"}), "a", False, SCOPE)
    assert after["metadata"]["labels"] == {"app": "d"}
    both = apply(live, deploy(labels={"app": "d", "tier": "web"}), "b", False, SCOPE)
    kept = apply(both, deploy(labels={"app": "d"}), "a", False, SCOPE)
    assert kept["metadata"]["labels"] == {"app": "d", "tier": "web"}


def test_a_dropped_container_is_removed_and_an_added_one_merges_by_name() -> None:
    two = deploy()
    two["spec"]["template"]["spec"]["containers"].append({"name": "side", "image": "proxy"})
    live = apply(None, two, "a", False, SCOPE)
    assert [c["name"] for c in live["spec"]["template"]["spec"]["containers"]] == ["c", "side"]
    one = apply(live, deploy(), "a", False, SCOPE)
    assert [c["name"] for c in one["spec"]["template"]["spec"]["containers"]] == ["c"]


def test_update_takes_changed_fields_from_others_and_status_is_not_owned() -> None:
    live = apply(None, deploy(), "a", False, SCOPE)
    new = copy.deepcopy(live)
    new["spec"]["replicas"] = 4
    new["status"] = {"replicas": 4}
    out = record_update(live, new, "kubectl-scale", SCOPE)
    owners = {m.name: paths for m, paths in owners_of(out)[0].items()}
    assert owners["kubectl-scale"] == {("f:spec", "f:replicas")}
    assert ("f:spec", "f:replicas") not in owners["a"]


def test_apply_to_an_unmanaged_object_keeps_its_fields_under_before_first_apply() -> None:
    live = deploy(labels={"app": "d", "old": "x"})
    out = apply(live, deploy(), "a", False, SCOPE)
    assert out["metadata"]["labels"] == {"app": "d", "old": "x"}
    assert "before-first-apply" in {e["manager"] for e in out["metadata"]["managedFields"]}
