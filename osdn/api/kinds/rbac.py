"""Kinds of group 'rbac.authorization.k8s.io' (v1): ClusterRole, ClusterRoleBinding, RoleBinding.
Models, defaulting and validation. Pure.

Resource names in rules may carry a subresource (`routes/custom-host`, `pods/log`, `*/scale`).
"""

from __future__ import annotations

import re

from pydantic import Field

from osdn.api import validation as v
from osdn.api.kinds import Hooks
from osdn.api.kinds.meta import KubeModel, LabelSelector, Obj, TypedObject, items, parse_strict, sub
from osdn.errors import FieldError

RBAC_GROUP = "rbac.authorization.k8s.io"
SUBJECT_KINDS = ("User", "Group", "ServiceAccount")
_RESOURCE = re.compile(r"^(\*|[a-z0-9][-a-z0-9.]*)(/(\*|[a-z0-9][-a-z0-9.]*))?$")


class PolicyRule(KubeModel):
    verbs: list[str] | None = None
    api_groups: list[str] | None = None
    resources: list[str] | None = None
    resource_names: list[str] | None = None
    non_resource_urls: list[str] | None = Field(None, alias="nonResourceURLs")


class AggregationRule(KubeModel):
    cluster_role_selectors: list[LabelSelector] | None = None


class ClusterRole(TypedObject):
    rules: list[PolicyRule] | None = None
    aggregation_rule: AggregationRule | None = None


class Role(TypedObject):
    rules: list[PolicyRule] | None = None


class RoleRef(KubeModel):
    api_group: str | None = None
    kind: str | None = None
    name: str | None = None


class Subject(KubeModel):
    kind: str | None = None
    api_group: str | None = None
    name: str | None = None
    namespace: str | None = None


class ClusterRoleBinding(TypedObject):
    role_ref: RoleRef | None = None
    subjects: list[Subject] | None = None


class RoleBinding(TypedObject):
    role_ref: RoleRef | None = None
    subjects: list[Subject] | None = None


# ---- ClusterRole

def validate_rule(rule: PolicyRule, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not rule.verbs:
        errs.append(v.required(f"{path}.verbs", "verbs must contain at least one value"))
    if rule.non_resource_urls:
        if rule.api_groups or rule.resources:
            errs.append(v.invalid(path, rule.to_obj(),
                                  "rules cannot apply to both regular resources and non-resource URLs"))
        return errs
    if not rule.api_groups:
        errs.append(v.required(f"{path}.apiGroups", "resource rules must supply at least one api group"))
    if not rule.resources:
        errs.append(v.required(f"{path}.resources", "resource rules must supply at least one resource"))
    for i, resource in enumerate(rule.resources or []):
        if not _RESOURCE.match(resource):
            errs.append(v.invalid(f"{path}.resources[{i}]", resource,
                                  'must be a resource name, optionally with a subresource ("routes/custom-host")'))
    return errs


def validate_cluster_role(obj: Obj, old: Obj | None) -> list[FieldError]:
    role, errs = parse_strict(ClusterRole, obj)
    if role is None:
        return errs
    for i, rule in enumerate(role.rules or []):
        errs += validate_rule(rule, f"rules[{i}]")
    return errs


def validate_role(obj: Obj, old: Obj | None) -> list[FieldError]:
    """A ClusterRole's checks; a namespaced role cannot grant non-resource URLs (kube's message)."""
    role, errs = parse_strict(Role, obj)
    if role is None:
        return errs
    for i, rule in enumerate(role.rules or []):
        errs += validate_rule(rule, f"rules[{i}]")
        if rule.non_resource_urls:
            errs.append(v.invalid(f"rules[{i}].nonResourceURLs", rule.non_resource_urls,
                                  "namespaced rules cannot apply to non-resource URLs"))
    return errs


# ---- bindings

def default_binding(obj: Obj) -> None:
    for subject in items(obj, "subjects"):
        if subject.get("apiGroup") is None and subject.get("kind") in ("User", "Group"):
            subject["apiGroup"] = RBAC_GROUP
    role_ref = sub(obj, "roleRef")
    if role_ref is not None and role_ref.get("apiGroup") is None:
        role_ref["apiGroup"] = RBAC_GROUP


def _validate_subject(subject: Subject, path: str, cluster: bool) -> list[FieldError]:
    errs: list[FieldError] = [] if subject.name else [v.required(f"{path}.name")]
    if subject.kind not in SUBJECT_KINDS:
        return errs + [v.not_supported(f"{path}.kind", subject.kind, SUBJECT_KINDS)]
    if subject.kind == "ServiceAccount":
        if subject.api_group:
            errs.append(v.not_supported(f"{path}.apiGroup", subject.api_group, [""]))
        if cluster and not subject.namespace:
            errs.append(v.required(f"{path}.namespace"))
        if subject.name:
            errs += v.validate_dns1123_subdomain(subject.name, f"{path}.name")
    elif subject.api_group != RBAC_GROUP:
        errs.append(v.not_supported(f"{path}.apiGroup", subject.api_group, [RBAC_GROUP]))
    return errs


def _validate_binding(role_ref: RoleRef | None, subjects: list[Subject] | None, kinds: tuple[str, ...],
                      cluster: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    if role_ref is None:
        return [v.required("roleRef")]
    if role_ref.api_group != RBAC_GROUP:
        errs.append(v.not_supported("roleRef.apiGroup", role_ref.api_group, [RBAC_GROUP]))
    if role_ref.kind not in kinds:
        errs.append(v.not_supported("roleRef.kind", role_ref.kind, kinds))
    if not role_ref.name:
        errs.append(v.required("roleRef.name"))
    for i, subject in enumerate(subjects or []):
        errs += _validate_subject(subject, f"subjects[{i}]", cluster)
    return errs


def _role_ref_update(obj: Obj, old: Obj | None) -> list[FieldError]:
    if old is not None and sub(old, "roleRef") != sub(obj, "roleRef"):
        return [v.invalid("roleRef", sub(obj, "roleRef"), "cannot change roleRef")]
    return []


def validate_cluster_role_binding(obj: Obj, old: Obj | None) -> list[FieldError]:
    crb, errs = parse_strict(ClusterRoleBinding, obj)
    if crb is None:
        return errs
    return _validate_binding(crb.role_ref, crb.subjects, ("ClusterRole",), True) + _role_ref_update(obj, old)


def validate_role_binding(obj: Obj, old: Obj | None) -> list[FieldError]:
    rb, errs = parse_strict(RoleBinding, obj)
    if rb is None:
        return errs
    return _validate_binding(rb.role_ref, rb.subjects, ("Role", "ClusterRole"), False) + _role_ref_update(obj, old)


HOOKS: dict[str, Hooks] = {
    "ClusterRole": Hooks(ClusterRole, None, validate_cluster_role),
    "ClusterRoleBinding": Hooks(ClusterRoleBinding, default_binding, validate_cluster_role_binding),
    "RoleBinding": Hooks(RoleBinding, default_binding, validate_role_binding),
    "Role": Hooks(Role, None, validate_role),
}
