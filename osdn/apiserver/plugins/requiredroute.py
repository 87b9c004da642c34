"""route.openshift.io/RequiredRouteAnnotations: routes must meet the cluster's required HSTS policies.

As openshift-apiserver's plugin: on CREATE, and on an UPDATE that adds, removes or changes the
`haproxy.router.openshift.io/hsts_header` annotation, an edge or reencrypt route is judged by the
`spec.requiredHSTSPolicies` of config.openshift.io/v1 Ingress `cluster` (rules and messages:
`osdn.api.hsts_policy`); a refusal is `403 Forbidden`, `routes.route.openshift.io "<name>" is
forbidden: <reason>`. Routes without edge/reencrypt TLS pass silently, as upstream. Unlike upstream
(where the object always exists), no Ingress `cluster` means no policy rather than every TLS route
refused. Changing the policies never touches routes already admitted.
"""

from __future__ import annotations

from typing import Any

from osdn.api.hsts import ANNOTATION, TLS_TERMINATIONS
from osdn.api.hsts_policy import violation
from osdn.api.kinds.ingressconfig import CLUSTER, required_hsts_policies
from osdn.api.registry import by_kind, for_path
from osdn.apiserver.admission import AdmissionContext
from osdn.apiserver.resources import key_of
from osdn.errors import ForbiddenError, NotFoundError, ObjectRef
from osdn.store import Key

Obj = dict[str, Any]
INGRESS_CONFIG = for_path("config.openshift.io", "v1", "ingresses")


def _annotations(obj: Obj | None) -> dict[str, Any]:
    return ((obj or {}).get("metadata") or {}).get("annotations") or {}


def _hsts_unchanged(ctx: AdmissionContext) -> bool:
    new, old = _annotations(ctx.obj), _annotations(ctx.old)
    return (ANNOTATION in new) == (ANNOTATION in old) and new.get(ANNOTATION) == old.get(ANNOTATION)


def _stored(ctx: AdmissionContext, key: Key) -> Obj | None:
    try:
        return ctx.store.get(key)
    except NotFoundError:
        return None


class RequiredRouteAnnotations:
    name = "RequiredRouteAnnotations"

    def admit(self, ctx: AdmissionContext) -> None:
        if ctx.info.kind != "Route" or ctx.operation not in ("CREATE", "UPDATE") or ctx.subresource:
            return
        if ctx.operation == "UPDATE" and _hsts_unchanged(ctx):
            return
        termination = (((ctx.obj.get("spec") or {}).get("tls") or {}).get("termination") or "")
        if termination not in TLS_TERMINATIONS:
            return
        policies = required_hsts_policies(_stored(ctx, key_of(INGRESS_CONFIG, "", CLUSTER)))
        if not policies:
            return
        namespace = _stored(ctx, key_of(by_kind("Namespace"), "", ctx.namespace))
        labels = ((namespace or {}).get("metadata") or {}).get("labels") or {}
        reason = violation(policies, ctx.obj, labels)
        if reason is not None:
            name = str((ctx.obj.get("metadata") or {}).get("name") or "")
            raise ForbiddenError(f'{ctx.info.resource} "{name}" is forbidden: {reason}',
                                 ObjectRef(ctx.info.plural, name, ctx.namespace, ctx.info.group))
