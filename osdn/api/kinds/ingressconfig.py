"""Kind `Ingress` of group 'config.openshift.io' (v1): the cluster's ingress configuration, as openshift/api
`config/v1/types_ingress.go` and its CRD define it. Model and validation. Pure.

osdn reads one thing of it: `spec.requiredHSTSPolicies` of the object named `cluster`, which the
RequiredRouteAnnotations admission plugin applies to routes (`osdn.api.hsts_policy`). Validation is
the CRD schema's for those policies (domainPatterns at least one item, maxAge required with
largestMaxAge/smallestMaxAge in 0..2147483647, the preloadPolicy and includeSubDomainsPolicy enums,
a well-formed namespaceSelector); `domain`, `appsDomain`, `componentRoutes` and `loadBalancer` are
kept as given. Its hooks are registered under `Ingress.config.openshift.io`: networking.k8s.io has
an `Ingress` too.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from osdn.api import validation as v
from osdn.api.hsts_policy import INCLUDE_POLICIES, INT32_MAX, PRELOAD_POLICIES
from osdn.api.kinds import Hooks
from osdn.api.kinds.meta import KubeModel, LabelSelector, Obj, TypedObject, parse_strict
from osdn.api.labels import validate_label_selector
from osdn.errors import FieldError

HOOKS_KEY = "Ingress.config.openshift.io"
CLUSTER = "cluster"


class MaxAgePolicy(KubeModel):
    largest_max_age: int | None = None
    smallest_max_age: int | None = None


class RequiredHSTSPolicy(KubeModel):
    namespace_selector: LabelSelector | None = None
    domain_patterns: list[str] | None = None
    max_age: MaxAgePolicy | None = None
    preload_policy: str | None = None
    include_sub_domains_policy: str | None = None


class IngressConfigSpec(KubeModel):
    domain: str | None = None
    apps_domain: str | None = None
    component_routes: list[dict[str, Any]] | None = None
    required_hsts_policies: list[RequiredHSTSPolicy] | None = Field(None, alias="requiredHSTSPolicies")
    load_balancer: dict[str, Any] | None = None


class IngressConfig(TypedObject):
    spec: IngressConfigSpec | None = None
    status: dict[str, Any] | None = None


def _age(value: int | None, path: str) -> list[FieldError]:
    if value is None:
        return []
    if value < 0:
        return [v.invalid(path, value, f"{path} in body should be greater than or equal to 0")]
    if value > INT32_MAX:
        return [v.invalid(path, value, f"{path} in body should be less than or equal to {INT32_MAX}")]
    return []


def _policy(policy: RequiredHSTSPolicy, raw: Obj, at: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if policy.domain_patterns is None:
        errs.append(v.required(f"{at}.domainPatterns"))
    elif not policy.domain_patterns:
        errs.append(v.invalid(f"{at}.domainPatterns", 0, f"{at}.domainPatterns in body should have at least 1 items"))
    if policy.max_age is None:
        errs.append(v.required(f"{at}.maxAge"))
    else:
        errs += _age(policy.max_age.largest_max_age, f"{at}.maxAge.largestMaxAge")
        errs += _age(policy.max_age.smallest_max_age, f"{at}.maxAge.smallestMaxAge")
    if policy.preload_policy is not None and policy.preload_policy not in PRELOAD_POLICIES:
        errs.append(v.not_supported(f"{at}.preloadPolicy", policy.preload_policy, PRELOAD_POLICIES))
    if policy.include_sub_domains_policy is not None and policy.include_sub_domains_policy not in INCLUDE_POLICIES:
        errs.append(v.not_supported(f"{at}.includeSubDomainsPolicy", policy.include_sub_domains_policy,
                                    INCLUDE_POLICIES))
    for problem in validate_label_selector(raw.get("namespaceSelector"), f"{at}.namespaceSelector"):
        path, _, message = problem.partition(": ")
        errs.append(FieldError(path, message))
    return errs


def validate_ingress_config(obj: Obj, old: Obj | None) -> list[FieldError]:
    config, errs = parse_strict(IngressConfig, obj)
    if config is None:
        return errs
    raw = ((obj.get("spec") or {}).get("requiredHSTSPolicies")) or []
    for n, policy in enumerate((config.spec.required_hsts_policies if config.spec else None) or []):
        errs += _policy(policy, raw[n], f"spec.requiredHSTSPolicies[{n}]")
    return errs


def required_hsts_policies(obj: Obj | None) -> list[Obj]:
    """The policies of a stored Ingress `cluster` (none when there is none)."""
    policies = ((obj or {}).get("spec") or {}).get("requiredHSTSPolicies") or []
    return [p for p in policies if isinstance(p, dict)]


HOOKS: dict[str, Hooks] = {HOOKS_KEY: Hooks(IngressConfig, None, validate_ingress_config)}
