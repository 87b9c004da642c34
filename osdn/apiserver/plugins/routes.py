"""Route admission: host name ownership, host changes, and the HSTS annotation's effect.

- Host changes: after creation, `spec.host` may be changed only by users allowed `update` on
  `routes/custom-host` (cluster admins, or a role such as the seed's `route-editor`).
- Ownership: the oldest route (by creationTimestamp, then name) owns a host name; a route that
  claims a host owned by an older route in another project, or by an older route in the same
  project with the same path, is rejected. Routes of one project may share a host on different paths.
- HSTS: `haproxy.router.openshift.io/hsts_header` is never refused (OpenShift accepts any value);
  a value the router would ignore (`osdn.api.hsts.ignored_because`) gets a warning naming why, and
  a route without edge/reencrypt TLS gets a warning that the header has no effect (the seed's own
  example route has no TLS).
- IngressAdmission (`allowHostnameChanges`): the same host-change rule for Ingress objects, relaxed
  when the plugin config allows hostname changes.
"""

from __future__ import annotations

from typing import Any

from osdn.api.hsts import ignored_because
from osdn.api.kinds.route import HSTS_ANNOTATION
from osdn.apiserver.admission import AdmissionContext
from osdn.errors import FieldError, ForbiddenError, ObjectRef, ValidationError

Obj = dict[str, Any]
ROUTES = "routes.route.openshift.io"


def _host(obj: Obj | None) -> str:
    return str(((obj or {}).get("spec") or {}).get("host") or "")


def _age_key(obj: Obj) -> tuple[str, str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("creationTimestamp") or ""), str(meta.get("namespace") or ""), str(meta.get("name") or "")


def host_owner(route: Obj, others: list[Obj], stored: Obj | None = None) -> Obj | None:
    """The older route that owns `route`'s host against it, or None. Pure.

    `stored`: the route as stored, on an update (its age counts); a route being created is the
    newest of all."""
    host = _host(route)
    if not host:
        return None
    meta = route["metadata"]
    path = (route.get("spec") or {}).get("path") or ""
    for other in sorted(others, key=_age_key):
        om = other["metadata"]
        if (om.get("namespace"), om["name"]) == (meta.get("namespace"), meta["name"]) or _host(other) != host:
            continue
        same_ns = om.get("namespace") == meta.get("namespace")
        if same_ns and ((other.get("spec") or {}).get("path") or "") != path:
            continue
        if stored is None or _age_key(other) < _age_key(stored):
            return other
    return None


class RouteHostname:
    name = "RouteHostname"

    def admit(self, ctx: AdmissionContext) -> None:
        if ctx.info.kind != "Route" or ctx.operation not in ("CREATE", "UPDATE") or ctx.subresource:
            return
        ref = ObjectRef("Route", ctx.obj["metadata"]["name"], ctx.namespace, ctx.info.group)
        if ctx.operation == "UPDATE" and _host(ctx.old) != _host(ctx.obj) \
                and not ctx.user_may("update", "routes", "custom-host"):
            raise ForbiddenError(
                f'{ref.describe()}: spec.host: changing the host from "{_host(ctx.old)}" to '
                f'"{_host(ctx.obj)}" is forbidden: user "{ctx.user.name}" cannot update resource '
                f'"routes/custom-host" in API group "{ctx.info.group}" in the namespace "{ctx.namespace}" '
                "(set the host at creation, or ask for a role such as route-editor)", ref)
        owner = host_owner(ctx.obj, [o for o, _ in ctx.store.list(ROUTES)[0]],
                           ctx.old if ctx.operation == "UPDATE" else None)
        if owner is not None:
            om = owner["metadata"]
            message = (f'host "{_host(ctx.obj)}" is already claimed by route "{om["name"]}" in project '
                       f'"{om.get("namespace")}" (created {om.get("creationTimestamp")}); the oldest route owns a host name')
            raise ValidationError(f"{ref.describe()}: spec.host: {message}", ref,
                                  [FieldError("spec.host", message, "FieldValueDuplicate")])


class RouteHSTS:
    name = "RouteHSTS"

    def admit(self, ctx: AdmissionContext) -> None:
        if ctx.info.kind != "Route" or ctx.operation not in ("CREATE", "UPDATE"):
            return
        annotations = (ctx.obj.get("metadata") or {}).get("annotations") or {}
        if HSTS_ANNOTATION not in annotations:
            return
        why = ignored_because(str(annotations[HSTS_ANNOTATION]))
        if why is not None:
            # no double quotes: they would end the HTTP Warning header's quoted text
            ctx.warnings.add(f"route {ctx.obj['metadata']['name']}: annotation {HSTS_ANNOTATION} is ignored by the "
                             f"router: {why.replace(chr(34), chr(39))}; it sends only values like "
                             "max-age=31536000;includeSubDomains;preload")
        termination = (((ctx.obj.get("spec") or {}).get("tls") or {}).get("termination") or "")
        if termination not in ("edge", "reencrypt"):
            how = f"{termination} termination" if termination else "no TLS"
            # no double quotes: they would end the HTTP Warning header's quoted text
            ctx.warnings.add(f"route {ctx.obj['metadata']['name']}: annotation {HSTS_ANNOTATION} has no "
                             f"effect: HSTS works only on edge or reencrypt routes and this route has {how}")


class IngressAdmission:
    """openshift.io/IngressAdmission: host changes on Ingress objects."""

    name = "IngressAdmission"

    def __init__(self, allow_hostname_changes: bool = False) -> None:
        self.allow_hostname_changes = allow_hostname_changes

    @staticmethod
    def hosts(obj: Obj | None) -> list[str]:
        return [str(r.get("host") or "") for r in ((obj or {}).get("spec") or {}).get("rules") or []]

    def admit(self, ctx: AdmissionContext) -> None:
        if ctx.info.kind != "Ingress" or ctx.operation != "UPDATE" or self.allow_hostname_changes:
            return
        if self.hosts(ctx.old) != self.hosts(ctx.obj) and not ctx.user_may("update", "routes", "custom-host",
                                                                           group="route.openshift.io"):
            ref = ObjectRef("Ingress", ctx.obj["metadata"]["name"], ctx.namespace, ctx.info.group)
            raise ForbiddenError(f"{ref.describe()}: cannot change the host names of an ingress after creation "
                                 "(allowHostnameChanges is false in the IngressAdmission config)", ref)
