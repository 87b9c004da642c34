"""The generic object pipeline: metadata rules, defaulting and validation for any kind.

Pure: `now` and `uid` are arguments. The API server calls `prepare_create` / `prepare_update`; both
return a new dict and raise ValidationError with every problem found, so nothing is half-written.
Both drop the fields the kind does not know (`osdn.api.fields`), as Kubernetes does for built-in kinds.
"""

from __future__ import annotations

import json
import re
from typing import Any

from osdn.api import validation
from osdn.api.fields import prune_unknown
from osdn.api.kinds import hooks_for
from osdn.api.registry import KindInfo
from osdn.api.wiretypes import type_errors
from osdn.errors import FieldError, ObjectRef, ValidationError

Obj = dict[str, Any]

_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

# System-set metadata the client may not choose on create.
_SYSTEM_META = ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "generation")
# Never a writer's: kube-apiserver no longer sets selfLink, and deletionGracePeriodSeconds comes with a
# graceful deletion (osdn has none). Kept as sent, a tenant's `deletionGracePeriodSeconds: "x"` broke
# every protobuf (406) and typed Go client listing that kind in any namespace.
_IGNORED_META = ("selfLink", "deletionGracePeriodSeconds")
TOTAL_ANNOTATION_SIZE = 256 * 1024   # kube's TotalAnnotationSizeLimitB: keys and values, in bytes
# Kinds whose kube-apiserver (or openshift-apiserver) strategy sets no metadata.generation: it counts
# spec changes of workloads, policies and custom resources only.
_NO_GENERATION = frozenset({"ConfigMap", "Secret", "ServiceAccount", "Namespace", "Node", "Service", "Endpoints",
                            "Event", "Pod", "ResourceQuota", "Lease", "Role", "RoleBinding", "ClusterRole",
                            "ClusterRoleBinding", "Project"})


def clone(obj: Obj) -> Obj:
    """A deep copy of a JSON-shaped object (several times faster than copy.deepcopy)."""
    return json.loads(json.dumps(obj))


def ref_of(info: KindInfo, obj: Obj) -> ObjectRef:
    meta = obj.get("metadata") or {}
    return ObjectRef(info.kind, str(meta.get("name") or ""), str(meta.get("namespace") or ""), info.group)


def is_dns1123_subdomain(value: str) -> bool:
    return len(value) <= 253 and bool(_DNS1123_SUBDOMAIN.match(value))


def validate_qualified_name(key: str) -> str | None:
    """Label/annotation key rule: optional DNS subdomain prefix + '/' + name of <=63 chars."""
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or not is_dns1123_subdomain(prefix)):
        return f'prefix part of "{key}" must be a DNS-1123 subdomain'
    if not name or len(name) > 63 or not _LABEL_NAME.match(name):
        return (f'name part of "{key}" must consist of alphanumeric characters, "-", "_" or ".", start and '
                "end with an alphanumeric character, and be at most 63 characters")
    return None


def validate_labels(labels: Any, path: str) -> list[FieldError]:
    if labels is None:
        return []
    if not isinstance(labels, dict):
        return [FieldError(path, "must be a map of string keys to string values")]
    errs = []
    for k, v in labels.items():
        problem = validate_qualified_name(str(k))
        if problem:
            errs.append(FieldError(f"{path}[{k}]", problem))
        if not isinstance(v, str):
            errs.append(FieldError(f"{path}[{k}]", f"value {json.dumps(v)} must be a string (quote it in YAML)"))
        elif len(v) > 63 or not _LABEL_VALUE.match(v):
            errs.append(FieldError(f"{path}[{k}]", f'invalid label value "{v}": at most 63 characters, '
                                   "alphanumeric, '-', '_' or '.', starting and ending alphanumeric"))
    return errs


def validate_annotations(annotations: Any, path: str) -> list[FieldError]:
    if annotations is None:
        return []
    if not isinstance(annotations, dict):
        return [FieldError(path, "must be a map of string keys to string values")]
    errs = []
    for k, v in annotations.items():
        problem = validate_qualified_name(str(k))
        if problem:
            errs.append(FieldError(f"{path}[{k}]", problem))
        if not isinstance(v, str):
            errs.append(FieldError(f"{path}[{k}]", f"value {json.dumps(v)} must be a string (quote it in YAML)"))
    size = sum(len(str(k).encode()) + len(v.encode()) for k, v in annotations.items() if isinstance(v, str))
    if size > TOTAL_ANNOTATION_SIZE:
        errs.append(FieldError(path, f"Too long: must have at most {TOTAL_ANNOTATION_SIZE} bytes", "FieldValueTooLong"))
    return errs


def validate_metadata(info: KindInfo, obj: Obj) -> list[FieldError]:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return [FieldError("metadata", "is required and must be an object", "FieldValueRequired")]
    errs: list[FieldError] = []
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        errs.append(FieldError("metadata.name", "name or generateName is required", "FieldValueRequired"))
    else:
        errs += validation.validate_object_name(info.kind, name)
    errs += validate_labels(meta.get("labels"), "metadata.labels")
    errs += validate_annotations(meta.get("annotations"), "metadata.annotations")
    return errs


def _run_hooks(info: KindInfo, obj: Obj, old: Obj | None) -> None:
    hooks = hooks_for(info.kind, info.group)
    errs = validate_metadata(info, obj)
    if not errs and hooks.default is not None:
        hooks.default(obj)
    if not errs and hooks.validate is not None:
        errs += hooks.validate(obj, old)
    if not errs:   # what the models leave unchecked must still decode in typed (Go, protobuf) clients
        errs += type_errors(obj)
    if errs:
        raise ValidationError.of(ref_of(info, obj), errs)


# A new object's status, as kube serializes the empty status struct: {} (typed clients read its fields
# as None), with the fields that have no omitempty (and that typed clients require) at zero.
_EMPTY_STATUS: dict[str, Obj] = {"ReplicaSet": {"replicas": 0}, "ReplicationController": {"replicas": 0}}


def prepare_create(info: KindInfo, obj: Obj, namespace: str | None, now: str, uid: str) -> Obj:
    """A validated, defaulted copy of `obj` ready to store (resourceVersion is the store's job)."""
    new = {"apiVersion": info.api_version, "kind": info.kind, **clone(obj)}
    new["apiVersion"], new["kind"] = info.api_version, info.kind
    meta = new.setdefault("metadata", {}) if isinstance(new.get("metadata", {}), dict) else new["metadata"]
    if isinstance(meta, dict):
        for key in (*_SYSTEM_META, *_IGNORED_META):
            meta.pop(key, None)
        if info.namespaced:
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        meta["uid"] = uid
        meta["creationTimestamp"] = now
        if info.kind not in _NO_GENERATION:
            meta["generation"] = 1
    prune_unknown(info, new)
    if info.has_status and new.get("status") is None:   # kube writes a kind's empty status struct so
        new["status"] = dict(_EMPTY_STATUS.get(info.kind, {}))
    _run_hooks(info, new, None)
    return new


def prepare_update(info: KindInfo, obj: Obj, old: Obj) -> Obj:
    """A validated copy of `obj` replacing `old`; system metadata is carried over from `old`."""
    new = clone(obj)
    new["apiVersion"], new["kind"] = info.api_version, info.kind
    meta = new.get("metadata")
    if not isinstance(meta, dict):
        raise ValidationError.of(ref_of(info, old), [FieldError("metadata", "is required")])
    old_meta = old["metadata"]
    if meta.get("name") != old_meta["name"]:
        raise ValidationError.of(ref_of(info, old), [FieldError(
            "metadata.name", f'field is immutable (was "{old_meta["name"]}")')])
    for key in ("deletionTimestamp", *_IGNORED_META):   # deletionTimestamp: set by a DELETE only, kept by writes
        meta.pop(key, None)
    for key in ("uid", "creationTimestamp", "namespace", "deletionTimestamp"):
        if key in old_meta:
            meta[key] = old_meta[key]
    changed_spec = {k: v for k, v in new.items() if k not in ("metadata", "status")} != \
        {k: v for k, v in old.items() if k not in ("metadata", "status")}
    prune_unknown(info, new)
    if info.kind in _NO_GENERATION:
        meta.pop("generation", None)
    else:
        meta["generation"] = int(old_meta.get("generation", 1)) + (1 if changed_spec else 0)
    _run_hooks(info, new, old)
    return new
