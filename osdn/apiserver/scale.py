"""The `scale` subresource (autoscaling/v1 Scale) of Deployments, ReplicaSets and ReplicationControllers.

`kubectl scale` PATCHes `.../NAME/scale` with a merge patch `{"spec":{"replicas":N}}` (a GET then
a PUT of the Scale when given `--resource-version` or `--current-replicas`); the HPA and client-go's
scale client do the same. A Scale is a view of the object: `spec.replicas`, `status.replicas` and
`status.selector` (the selector as a string); writing it changes only the object's `spec.replicas`
(through `Resources.update` with subresource `scale`: RBAC on `deployments/scale`, the object's
validation, its generation bumped, managedFields with subresource `scale`). A resourceVersion in the
Scale is a precondition, as on the object.
"""

from __future__ import annotations

import json
from typing import Any

from osdn.api import patch
from osdn.api.kinds.meta import INT32_MAX
from osdn.api.labels import from_label_selector
from osdn.api.registry import KindInfo
from osdn.apiserver.auth import User
from osdn.apiserver.resources import Resources, key_of
from osdn.errors import BadRequestError, FieldError, ObjectRef, UnsupportedMediaTypeError, ValidationError

Obj = dict[str, Any]
SCALABLE = frozenset({"Deployment", "ReplicaSet", "ReplicationController"})
SCALE_KIND = {"group": "autoscaling", "version": "v1", "kind": "Scale"}


def scalable(info: KindInfo) -> bool:
    return info.kind in SCALABLE


def selector_string(obj: Obj) -> str:
    """Pure: the object's selector as `kubectl get -l` writes it (an RC's is a plain map)."""
    selector = (obj.get("spec") or {}).get("selector") or {}
    if obj.get("kind") == "ReplicationController":
        selector = {"matchLabels": selector}
    return str(from_label_selector(selector))


def to_scale(obj: Obj) -> Obj:
    """Pure: the autoscaling/v1 Scale of a Deployment, ReplicaSet or ReplicationController."""
    meta = obj.get("metadata") or {}
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                         if k in meta},
            "spec": {"replicas": int((obj.get("spec") or {}).get("replicas", 1))},
            "status": {"replicas": int((obj.get("status") or {}).get("replicas") or 0),
                       "selector": selector_string(obj)}}


def replicas_of(scale: Any, name: str) -> int:
    """Pure: `spec.replicas` of a Scale body, or 422 naming the field and value."""
    value = ((scale.get("spec") if isinstance(scale, dict) else None) or {}).get("replicas")
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= INT32_MAX:
        why = "must be an integer" if isinstance(value, bool) or not isinstance(value, int) \
            else f"must be less than or equal to {INT32_MAX}" if value > 0 else "must be greater than or equal to 0"
        shown = json.dumps(value)
        err = FieldError("spec.replicas", f"Invalid value: {shown}: {why}")
        raise ValidationError(f'Scale.autoscaling "{name}" is invalid: {err}', ObjectRef("Scale", name,
                                                                                          group="autoscaling"), [err])
    return value


def get(res: Resources, user: User, info: KindInfo, namespace: str, name: str) -> Obj:
    res.authorize(user, "get", info, namespace, name, "scale")
    return to_scale(res.store.get(key_of(info, namespace, name)))


def write(res: Resources, user: User, info: KindInfo, namespace: str, name: str, scale: Any, verb: str,
          dry_run: bool, manager: str) -> Obj:
    """PUT of a Scale (also the end of a PATCH): the object's spec.replicas, its resourceVersion a precondition."""
    res.authorize(user, verb, info, namespace, name, "scale")
    meta = (scale.get("metadata") if isinstance(scale, dict) else None) or {}
    named = {k: meta[k] for k in ("name", "namespace") if meta.get(k)}   # a mismatch with the URL is a 400
    body = {"metadata": {"name": name, **named, "resourceVersion": meta.get("resourceVersion")},
            "spec": {"replicas": replicas_of(scale, name)}}
    return to_scale(res.update(user, info, namespace, name, body, "scale", dry_run, verb, manager).obj)


def patched(res: Resources, info: KindInfo, namespace: str, name: str, body: Any, ptype: str) -> Obj:
    """The Scale after a merge, strategic (a Scale has no lists: the same) or JSON patch."""
    current = to_scale(res.store.get(key_of(info, namespace, name)))   # the caller authorized the patch
    current["metadata"].pop("resourceVersion", None)   # only the patch's own resourceVersion is a precondition
    if ptype == "json":
        new = patch.json_patch(current, body)
    elif ptype in ("merge", "strategic"):
        new = patch.merge_patch(current, body)
    else:
        raise UnsupportedMediaTypeError(f'patch type "{ptype}" is not supported on the scale subresource '
                                        "(use a merge, strategic merge or JSON patch)")
    if not isinstance(new, dict):
        raise BadRequestError("the patched Scale is not an object")
    return new
