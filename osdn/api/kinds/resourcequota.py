"""ResourceQuota (core v1): model and validation as upstream's ValidateResourceQuota. Pure.

`spec.hard` maps resource names to quantities: a name without `/` must be a standard quota resource
(osdn.api.quota.STANDARD: "must be a standard resource for quota"), a name with one a qualified name
(`count/deployments.apps`); every quantity must parse, be >= 0, and be whole for object counts.
`spec.scopes` are Terminating, NotTerminating, BestEffort, NotBestEffort (upstream's PriorityClass
and CrossNamespacePodAffinity scopes and `spec.scopeSelector` are refused: osdn has no priority
classes or pod affinity), never two that exclude each other, and only with the pod resources each
scope allows ("unsupported scope applied to resource"). `status.hard`/`status.used` obey the same
name and quantity rules. The server and the quota controller keep the status
(osdn.apiserver.plugins.quota, osdn.master.quota).
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

from osdn.api import quota as q
from osdn.api import validation as v
from osdn.api.kinds import Hooks
from osdn.api.kinds.meta import KubeModel, Obj, TypedObject, parse_strict, sub
from osdn.api.quantity import QuantityError
from osdn.errors import FieldError

Quantity = str | int | float
_QUALIFIED = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                        r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


class ResourceQuotaSpec(KubeModel):
    hard: dict[str, Quantity] | None = None
    scopes: list[str] | None = None
    scope_selector: dict[str, Any] | None = None


class ResourceQuotaStatus(KubeModel):
    hard: dict[str, Quantity] | None = None
    used: dict[str, Quantity] | None = None


class ResourceQuota(TypedObject):
    spec: ResourceQuotaSpec | None = None
    status: ResourceQuotaStatus | None = None


def _validate_name(name: str, path: str) -> list[FieldError]:
    if len(name) > 316 or not _QUALIFIED.match(name) or name.count("/") > 1:
        return [v.invalid(path, name, "name part must consist of alphanumeric characters, '-', '_' or '.', and "
                          "must start and end with an alphanumeric character")]
    if "/" not in name and name not in q.STANDARD:
        return [v.invalid(path, name, "must be a standard resource for quota")]
    return []


def validate_resource_list(values: dict[str, Quantity] | None, path: str) -> list[FieldError]:
    """Names and quantities of a quota's resource list (spec.hard, status.hard, status.used)."""
    errs: list[FieldError] = []
    for name, value in (values or {}).items():
        p = f"{path}[{name}]"
        errs += _validate_name(name, p)
        try:
            amount = q.parse_amount(value)
        except QuantityError as err:
            errs.append(v.invalid(p, value, str(err)))
            continue
        if amount < 0:
            errs.append(v.invalid(p, value, "must be greater than or equal to 0"))
        elif q.is_integer_resource(name) and amount.denominator != 1:
            errs.append(v.invalid(p, value, "must be an integer"))
    return errs


def validate_scopes(spec: ResourceQuotaSpec) -> list[FieldError]:
    errs: list[FieldError] = []
    scopes = spec.scopes or []
    for i, scope in enumerate(scopes):
        if scope in q.UPSTREAM_ONLY_SCOPES:
            errs.append(v.forbidden(f"spec.scopes[{i}]", f"scope {scope} is not supported by osdn "
                                    f"(supported: {', '.join(q.SCOPES)})"))
        elif scope not in q.SCOPES:
            errs.append(v.not_supported(f"spec.scopes[{i}]", scope, q.SCOPES))
            continue
        bad = sorted(n for n in spec.hard or {} if n not in q.SCOPED_RESOURCES.get(scope, frozenset()))
        if scope in q.SCOPES and bad:
            errs.append(v.invalid("spec.hard", ",".join(bad), "unsupported scope applied to resource"))
    for a, b in q.CONFLICTING:
        if a in scopes and b in scopes:
            errs.append(v.invalid("spec.scopes", scopes, "conflicting scopes"))
    if spec.scope_selector:
        errs.append(v.forbidden("spec.scopeSelector", "scopeSelector is not supported by osdn; use spec.scopes"))
    return errs


def default_resource_quota(obj: Obj) -> None:
    """Quantities written as JSON numbers (`pods: 10` in YAML) become strings in canonical form, as the
    API stores a Quantity (`10`, `1500m`); strings and values that do not parse are left to validation."""
    hard = sub(sub(obj, "spec"), "hard")
    if hard is None:
        return
    for name, value in list(hard.items()):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            with contextlib.suppress(QuantityError, ValueError, OverflowError):
                hard[name] = q.format_amount(q.parse_amount(value))


def validate_resource_quota(obj: Obj, old: Obj | None) -> list[FieldError]:
    quota, errs = parse_strict(ResourceQuota, obj)
    if quota is None:
        return errs
    spec = quota.spec or ResourceQuotaSpec()
    errs += validate_resource_list(spec.hard, "spec.hard")
    errs += validate_scopes(spec)
    if old is not None and (old.get("spec") or {}).get("scopes") != (obj.get("spec") or {}).get("scopes"):
        errs.append(v.invalid("spec.scopes", spec.scopes, "field is immutable"))
    status = quota.status or ResourceQuotaStatus()
    errs += validate_resource_list(status.hard, "status.hard")
    errs += validate_resource_list(status.used, "status.used")
    return errs


HOOKS: dict[str, Hooks] = {"ResourceQuota": Hooks(ResourceQuota, default_resource_quota, validate_resource_quota)}
