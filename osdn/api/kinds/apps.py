"""Kinds of group 'apps' (v1): Deployment model, defaulting and validation. Pure.

apps/v1 requires `spec.selector` (a LabelSelector) and the template labels must match it.
"""

from __future__ import annotations

from osdn.api import validation as v
from osdn.api.kinds import Hooks
from osdn.api.kinds.meta import (
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


class RollingUpdateDeployment(KubeModel):
    max_unavailable: IntOrString | None = None
    max_surge: IntOrString | None = None


class DeploymentStrategy(KubeModel):
    type: str | None = None
    rolling_update: RollingUpdateDeployment | None = None


class DeploymentSpec(KubeModel):
    replicas: int | None = None
    selector: LabelSelector | None = None
    template: PodTemplateSpec | None = None
    strategy: DeploymentStrategy | None = None
    revision_history_limit: int | None = None
    progress_deadline_seconds: int | None = None
    min_ready_seconds: int | None = None
    paused: bool | None = None


class Deployment(TypedObject):
    spec: DeploymentSpec | None = None
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
    return []


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
    errs += validate_template(spec.template, "spec.template")
    if spec.selector is None:
        return errs + [v.required("spec.selector")]
    selector_errs = validate_selector(spec.selector, "spec.selector")
    if selector_errs:
        return errs + selector_errs
    if not spec.selector.match_labels and not spec.selector.match_expressions:
        errs.append(v.invalid("spec.selector", spec.selector.to_obj(), "empty selector is invalid for deployment"))
    elif spec.template is not None:
        template_labels = spec.template.metadata.labels if spec.template.metadata else None
        if not selector_matches(spec.selector, template_labels):
            errs.append(v.invalid("spec.template.metadata.labels", template_labels,
                                  "`selector` does not match template `labels`"))
    return errs + _validate_selector_update(obj, old)


def _validate_selector_update(obj: Obj, old: Obj | None) -> list[FieldError]:
    before = sub(sub(old, "spec"), "selector")
    after = sub(sub(obj, "spec"), "selector")
    if old is not None and before != after:
        return [v.invalid("spec.selector", after, "field is immutable")]
    return []


HOOKS: dict[str, Hooks] = {"Deployment": Hooks(Deployment, default_deployment, validate_deployment)}
