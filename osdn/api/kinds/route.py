"""Kinds of group 'route.openshift.io' (v1): Route model, defaulting and validation. Pure.

The HSTS annotation (`haproxy.router.openshift.io/hsts_header`) is never refused here: the API
accepts every value, as OpenShift does, and the router uses only the values its pattern matches
(osdn.api.hsts); admission (RouteHSTS) warns about a value the router would ignore, and about the
annotation on a route without edge/reencrypt TLS.
"""

from __future__ import annotations

from pydantic import Field

from osdn.api import validation as v
from osdn.api.kinds import Hooks
from osdn.api.kinds.meta import (
    Int32,
    IntOrString,
    KubeModel,
    Obj,
    TypedObject,
    parse_strict,
    set_default,
    sub,
)
from osdn.errors import FieldError

HSTS_ANNOTATION = "haproxy.router.openshift.io/hsts_header"
TERMINATIONS = ("edge", "passthrough", "reencrypt")
INSECURE_POLICIES = ("None", "Allow", "Redirect")
WILDCARD_POLICIES = ("None", "Subdomain")


class RouteTargetReference(KubeModel):
    kind: str | None = None
    name: str | None = None
    weight: Int32 | None = None


class RoutePort(KubeModel):
    target_port: IntOrString | None = None


class TLSConfig(KubeModel):
    termination: str | None = None
    certificate: str | None = None
    key: str | None = None
    ca_certificate: str | None = None
    destination_ca_certificate: str | None = Field(default=None, alias="destinationCACertificate")
    insecure_edge_termination_policy: str | None = None


class RouteSpec(KubeModel):
    host: str | None = None
    path: str | None = None
    to: RouteTargetReference | None = None
    alternate_backends: list[RouteTargetReference] | None = None
    port: RoutePort | None = None
    tls: TLSConfig | None = None
    wildcard_policy: str | None = None


class Route(TypedObject):
    spec: RouteSpec | None = None
    status: dict[str, object] | None = None


def default_route(obj: Obj) -> None:
    spec = sub(obj, "spec")
    if spec is None:
        return
    set_default(spec, "wildcardPolicy", "None")
    to = sub(spec, "to")
    if to is not None:
        set_default(to, "kind", "Service")
        set_default(to, "weight", 100)


def _validate_tls(tls: TLSConfig, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if tls.termination not in TERMINATIONS:
        errs.append(v.not_supported(f"{path}.termination", tls.termination, TERMINATIONS))
    policy = tls.insecure_edge_termination_policy
    if policy is not None and policy not in INSECURE_POLICIES and policy != "":
        errs.append(v.not_supported(f"{path}.insecureEdgeTerminationPolicy", policy, INSECURE_POLICIES))
    if tls.termination == "passthrough":
        if policy == "Allow":
            errs.append(v.invalid(f"{path}.insecureEdgeTerminationPolicy", policy,
                                  "InsecureEdgeTerminationPolicy Allow is not supported with passthrough"))
        for field, value in (("certificate", tls.certificate), ("key", tls.key),
                             ("caCertificate", tls.ca_certificate)):
            if value:
                errs.append(v.invalid(f"{path}.{field}", "redacted", "passthrough termination does not support "
                                      "certificates"))
    if tls.destination_ca_certificate and tls.termination != "reencrypt":
        errs.append(v.invalid(f"{path}.destinationCACertificate", "redacted",
                              "only reencrypt routes can have a destination CA certificate"))
    return errs


def _validate_target(to: RouteTargetReference, path: str) -> list[FieldError]:
    errs: list[FieldError] = [] if to.name else [v.required(f"{path}.name")]
    if to.kind != "Service":
        errs.append(v.not_supported(f"{path}.kind", to.kind, ["Service"]))
    if to.weight is not None and not 0 <= to.weight <= 256:
        errs.append(v.invalid(f"{path}.weight", to.weight, "weight must be an integer between 0 and 256"))
    return errs


def validate_route_spec(spec: RouteSpec) -> list[FieldError]:
    errs: list[FieldError] = []
    if spec.host:
        errs += v.validate_dns1123_subdomain(spec.host, "spec.host")
    if spec.path and not spec.path.startswith("/"):
        errs.append(v.invalid("spec.path", spec.path, "path must begin with /"))
    if spec.to is not None:
        errs += _validate_target(spec.to, "spec.to")
    for i, backend in enumerate(spec.alternate_backends or []):
        errs += _validate_target(backend, f"spec.alternateBackends[{i}]")
    if spec.port is not None and spec.port.target_port is None:
        errs.append(v.required("spec.port.targetPort"))
    if spec.tls is not None:
        errs += _validate_tls(spec.tls, "spec.tls")
        if spec.tls.termination == "passthrough" and spec.path:
            errs.append(v.invalid("spec.path", spec.path, "passthrough termination does not support paths"))
    if spec.wildcard_policy not in (None, *WILDCARD_POLICIES):
        errs.append(v.not_supported("spec.wildcardPolicy", spec.wildcard_policy, WILDCARD_POLICIES))
    return errs


def validate_route(obj: Obj, old: Obj | None) -> list[FieldError]:
    route, errs = parse_strict(Route, obj)
    if route is None:
        return errs
    return errs + (validate_route_spec(route.spec) if route.spec is not None else [])


HOOKS: dict[str, Hooks] = {"Route": Hooks(Route, default_route, validate_route)}
