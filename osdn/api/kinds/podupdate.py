"""What an update may change in a Pod's spec (kube's ValidatePodUpdate). Pure.

Only the images of containers and init containers, activeDeadlineSeconds (set, or lowered), additions
to tolerations (and the tolerationSeconds of existing ones), and terminationGracePeriodSeconds from a
negative value to 1. One osdn addition: spec.nodeName may be set once, from empty (osdn's scheduler and
CNI server bind a pod by patching it; kube has a `binding` subresource for that).
Both specs are compared after defaulting, so a default added since the pod was stored is no change.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from osdn.api import validation as v
from osdn.errors import FieldError

Obj = dict[str, Any]
MAX_INT32 = 2 ** 31 - 1
UPDATABLE = ("`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
             "`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
             "(allow it to be set to 1 if it was previously negative)")


def _list(spec: Obj, key: str) -> list[Any]:
    value = spec.get(key)
    return value if isinstance(value, list) else []


def _container_counts(new: Obj, old: Obj) -> list[FieldError]:
    for key in ("containers", "initContainers"):
        if len(_list(new, key)) != len(_list(old, key)):
            return [v.forbidden(f"spec.{key}", "pod updates may not add or remove containers")]
    return []


def _deadline(new: Obj, old: Obj) -> list[FieldError]:
    """From nil to a value, or to a lesser non-negative value; never back to nil."""
    after, before = new.get("activeDeadlineSeconds"), old.get("activeDeadlineSeconds")
    if after is None:
        return [] if before is None else [v.invalid("spec.activeDeadlineSeconds", None,
                                                    "must not update from a positive integer to nil value")]
    if not v.is_int(after) or not 0 <= after <= MAX_INT32:
        return [v.invalid("spec.activeDeadlineSeconds", after, v.inclusive_range_error(0, MAX_INT32))]
    if v.is_int(before) and before < after:
        return [v.invalid("spec.activeDeadlineSeconds", after, "must be less than or equal to previous value")]
    return []


def _tolerations(new: Obj, old: Obj) -> list[FieldError]:
    """Every old toleration is still there (its tolerationSeconds may change); linear, by JSON text."""
    def bare(t: Any) -> str:
        kept = {k: x for k, x in t.items() if k != "tolerationSeconds"} if isinstance(t, dict) else t
        return json.dumps(kept, sort_keys=True)
    kept = {bare(t) for t in _list(new, "tolerations")}
    if any(bare(t) not in kept for t in _list(old, "tolerations")):
        return [v.forbidden("spec.tolerations", "existing toleration can not be modified except its tolerationSeconds")]
    return []


def _munged(new: Obj, old: Obj) -> Obj:
    """`new` with the fields an update may change set to their old values."""
    out = copy.deepcopy(new)
    for key in ("containers", "initContainers"):
        for mine, theirs in zip(_list(out, key), _list(old, key), strict=True):
            if isinstance(mine, dict) and isinstance(theirs, dict):
                mine["image"] = theirs.get("image")
                if theirs.get("image") is None:
                    mine.pop("image")
    for key in ("activeDeadlineSeconds", "tolerations"):
        out.pop(key, None)
        if key in old:
            out[key] = old[key]
    grace = old.get("terminationGracePeriodSeconds")
    if isinstance(grace, int) and grace < 0 and out.get("terminationGracePeriodSeconds") == 1:
        out["terminationGracePeriodSeconds"] = grace
    if not old.get("nodeName") and "nodeName" in out:
        out.pop("nodeName")
        if "nodeName" in old:
            out["nodeName"] = old["nodeName"]
    return out


def validate_pod_update(new: Obj, old: Obj) -> list[FieldError]:
    """The errors of changing spec `old` (defaulted) into spec `new` (defaulted)."""
    errs = _container_counts(new, old)
    if errs:
        return errs
    errs = _deadline(new, old) + _tolerations(new, old)
    munged = _munged(new, old)
    if munged != old:
        changed = sorted(k for k in set(munged) | set(old) if munged.get(k) != old.get(k))
        errs.append(v.forbidden("spec", f"pod updates may not change fields other than {UPDATABLE}\n"
                                f"changed: {', '.join(f'spec.{k}' for k in changed)}"))
    return errs
