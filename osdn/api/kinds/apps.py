"""Kinds of group 'apps' (v1): Deployment and ReplicaSet models, defaulting and validation. Pure.

apps/v1 requires `spec.selector` (a LabelSelector, immutable) and the template labels must match it,
for both kinds (kube's ValidateDeploymentSpec / ValidateReplicaSetSpec).
"""

from __future__ import annotations

import re

from osdn.api import validation as v
from osdn.api.kinds import Hooks
from osdn.api.kinds.meta import (
    Int32,
    IntOrString,
    KubeModel,
    LabelSelector,
    Obj,
    TypedObject,
    parse_strict,
    selector_matches,
    set_default,
    sub,
    validate_selector,
)
from osdn.api.kinds.pod import PodTemplateSpec, default_pod_spec, validate_template
from osdn.errors import FieldError

STRATEGY_TYPES = ("RollingUpdate", "Recreate")
_PERCENT = re.compile(r"[0-9]{1,10}%")
INT32_MAX = 2**31 - 1


class RollingUpdateDeployment(KubeModel):
    max_unavailable: IntOrString | None = None
    max_surge: IntOrString | None = None


class DeploymentStrategy(KubeModel):
    type: str | None = None
    rolling_update: RollingUpdateDeployment | None = None


class DeploymentSpec(KubeModel):
    replicas: Int32 | None = None
    selector: LabelSelector | None = None
    template: PodTemplateSpec | None = None
    strategy: DeploymentStrategy | None = None
    revision_history_limit: Int32 | None = None
    progress_deadline_seconds: Int32 | None = None
    min_ready_seconds: Int32 | None = None
    paused: bool | None = None


class Deployment(TypedObject):
    spec: DeploymentSpec | None = None
    status: dict[str, object] | None = None


class ReplicaSetSpec(KubeModel):
    replicas: Int32 | None = None
    min_ready_seconds: Int32 | None = None
    selector: LabelSelector | None = None
    template: PodTemplateSpec | None = None


class ReplicaSet(TypedObject):
    spec: ReplicaSetSpec | None = None
    status: dict[str, object] | None = None


def default_deployment(obj: Obj) -> None:
    spec = sub(obj, "spec")
    if spec is None:
        return
    set_default(spec, "replicas", 1)
    set_default(spec, "revisionHistoryLimit", 10)
    set_default(spec, "progressDeadlineSeconds", 600)
    set_default(spec, "strategy", {})
    strategy = sub(spec, "strategy")
    if strategy is not None:
        set_default(strategy, "type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            set_default(strategy, "rollingUpdate", {})
            rolling = sub(strategy, "rollingUpdate")
            if rolling is not None:
                set_default(rolling, "maxUnavailable", "25%")
                set_default(rolling, "maxSurge", "25%")
    default_pod_spec(sub(sub(spec, "template"), "spec"))


def _validate_strategy(strategy: DeploymentStrategy | None) -> list[FieldError]:
    if strategy is None:
        return []
    if strategy.type not in STRATEGY_TYPES:
        return [v.not_supported("spec.strategy.type", strategy.type, STRATEGY_TYPES)]
    if strategy.type == "Recreate" and strategy.rolling_update is not None:
        return [FieldError("spec.strategy.rollingUpdate",
                           "Forbidden: may not be specified when strategy `type` is 'Recreate'")]
    return _validate_rolling_update(strategy.rolling_update)


def _int_or_percent(value: int | str | None, path: str) -> tuple[int, list[FieldError]]:
    """kube's ValidatePositiveIntOrPercent: a non-negative int or "N%" (N also an int32 here, so the
    controller can compute with it); the number, and the errors."""
    if value is None:
        return 1, []   # defaulted to 25%
    if isinstance(value, int):
        return value, v.validate_non_negative(value, path)
    if not _PERCENT.fullmatch(value) or int(value[:-1]) > INT32_MAX:
        return 1, [v.invalid(path, value, "a valid percent string must be a numeric string followed by an ending "
                             "'%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')")]
    return int(value[:-1]), []


def _validate_rolling_update(rolling: RollingUpdateDeployment | None) -> list[FieldError]:
    """kube's ValidateRollingUpdateDeployment: both values ints or percentages (a tenant's "²" or
    5,000-digit percentage used to reach the master's rollout and fail its every reconcile), not both 0,
    maxUnavailable at most 100%."""
    if rolling is None:
        return []
    path = "spec.strategy.rollingUpdate"
    unavailable, errs = _int_or_percent(rolling.max_unavailable, f"{path}.maxUnavailable")
    surge, surge_errs = _int_or_percent(rolling.max_surge, f"{path}.maxSurge")
    errs += surge_errs
    if not errs and unavailable == 0 and surge == 0:
        errs.append(v.invalid(f"{path}.maxUnavailable", rolling.max_unavailable, "may not be 0 when `maxSurge` is 0"))
    if not errs and isinstance(rolling.max_unavailable, str) and unavailable > 100:
        errs.append(v.invalid(f"{path}.maxUnavailable", rolling.max_unavailable, "must not be greater than 100%"))
    return errs


def validate_deployment(obj: Obj, old: Obj | None) -> list[FieldError]:
    dep, errs = parse_strict(Deployment, obj)
    if dep is None:
        return errs
    spec = dep.spec
    if spec is None:
        return [v.required("spec")]
    for field, value in (("replicas", spec.replicas), ("revisionHistoryLimit", spec.revision_history_limit),
                         ("minReadySeconds", spec.min_ready_seconds)):
        errs += v.validate_non_negative(value, f"spec.{field}")
    errs += _validate_strategy(spec.strategy)
    return errs + _validate_pods(spec.selector, spec.template, obj, old)


def _validate_pods(selector: LabelSelector | None, template: PodTemplateSpec | None, obj: Obj,
                   old: Obj | None) -> list[FieldError]:
    """The template, the selector (required, not empty, immutable) and that it matches the template."""
    errs = validate_template(template, "spec.template", obj, old)
    pod_spec = template.spec if template is not None else None
    if pod_spec is not None and pod_spec.restart_policy not in (None, "Always"):   # ValidatePodTemplateSpecForReplicaSet
        errs.append(v.not_supported("spec.template.spec.restartPolicy", pod_spec.restart_policy, ["Always"]))
    if pod_spec is not None and pod_spec.active_deadline_seconds is not None:
        errs.append(v.forbidden("spec.template.spec.activeDeadlineSeconds",
                                "activeDeadlineSeconds in ReplicaSet is not Supported"))
    if selector is None:
        return errs + [v.required("spec.selector")]
    selector_errs = validate_selector(selector, "spec.selector")
    if selector_errs:
        return errs + selector_errs
    if not selector.match_labels and not selector.match_expressions:
        errs.append(v.invalid("spec.selector", selector.to_obj(), "empty selector is invalid for deployment"))
    elif template is not None:
        template_labels = template.metadata.labels if template.metadata else None
        if not selector_matches(selector, template_labels):
            errs.append(v.invalid("spec.template.metadata.labels", template_labels,
                                  "`selector` does not match template `labels`"))
    return errs + _validate_selector_update(obj, old)


def _validate_selector_update(obj: Obj, old: Obj | None) -> list[FieldError]:
    before = sub(sub(old, "spec"), "selector")
    after = sub(sub(obj, "spec"), "selector")
    if old is not None and before != after:
        return [v.invalid("spec.selector", after, "field is immutable")]
    return []


def default_replicaset(obj: Obj) -> None:
    spec = sub(obj, "spec")
    if spec is None:
        return
    set_default(spec, "replicas", 1)
    default_pod_spec(sub(sub(spec, "template"), "spec"))


def validate_replicaset(obj: Obj, old: Obj | None) -> list[FieldError]:
    rs, errs = parse_strict(ReplicaSet, obj)
    if rs is None:
        return errs
    spec = rs.spec
    if spec is None:
        return [v.required("spec")]
    for field, value in (("replicas", spec.replicas), ("minReadySeconds", spec.min_ready_seconds)):
        errs += v.validate_non_negative(value, f"spec.{field}")
    return errs + _validate_pods(spec.selector, spec.template, obj, old)


HOOKS: dict[str, Hooks] = {"Deployment": Hooks(Deployment, default_deployment, validate_deployment),
                           "ReplicaSet": Hooks(ReplicaSet, default_replicaset, validate_replicaset)}
