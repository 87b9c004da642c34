"""SecurityContextConstraint admission: a pod reaches past its sandbox only if its requester may.

Without it any project admin could create a pod with `hostNetwork: true` (the node's own network:
every tenant's traffic on the node), a privileged container (the macvlan annotation's only guard, so
the node's underlay with any address), host ports, host PID/IPC or hostPath volumes. As OpenShift's
SCC admission (osdn.api.podsecurity holds the rules): such a pod is admitted when the requesting
user, or the pod's service account (`spec.serviceAccountName`, default `default`), may `use` an SCC
that allows all of it; everyone may use `restricted`, cluster admins may use every SCC, and
`osdn adm policy add-scc-to-user NAME USER` grants one. Refused with OpenShift's message, a 403:
    pods "p" is forbidden: unable to validate against any security context constraint:
    [spec.securityContext.hostNetwork: Invalid value: true: Host network is not allowed to be used]
The same holds for the pod templates of Deployments, ReplicaSets and ReplicationControllers,
checked against the user who writes the template: their pods are made by the master's controllers
(cluster admin), so the check cannot wait for the pod. An update is checked when the pod spec or the
template changes (a tenant must not swap the image of an admin's privileged router); scaling, status
and metadata writes are not.
"""

from __future__ import annotations

from typing import Any

from osdn.api import podsecurity as ps
from osdn.apiserver.admission import AdmissionContext
from osdn.apiserver.auth import Attributes, User
from osdn.errors import FieldError, ForbiddenError, ObjectRef

Obj = dict[str, Any]
TEMPLATE_KINDS = frozenset({"Deployment", "ReplicaSet", "ReplicationController"})


def _spec_at(kind: str, obj: Obj | None) -> tuple[Any, str]:
    """(the pod spec, its path) of a Pod or a template holder."""
    spec = (obj or {}).get("spec")
    if kind == "Pod" or not isinstance(spec, dict):
        return spec, "spec"
    template = spec.get("template")
    return (template.get("spec") if isinstance(template, dict) else None), "spec.template.spec"


def _service_account(kind: str, obj: Obj, namespace: str) -> User:
    spec, _ = _spec_at(kind, obj)
    sa = (spec.get("serviceAccountName") or spec.get("serviceAccount") or "default") if isinstance(spec, dict) \
        else "default"
    return User(f"system:serviceaccount:{namespace}:{sa}",
                ("system:serviceaccounts", f"system:serviceaccounts:{namespace}"))


class SecurityContextConstraint:
    name = "SecurityContextConstraint"

    def admit(self, ctx: AdmissionContext) -> None:
        kind = ctx.info.kind
        if (kind != "Pod" and kind not in TEMPLATE_KINDS) or ctx.operation not in ("CREATE", "UPDATE") \
                or ctx.subresource:
            return
        spec, path = _spec_at(kind, ctx.obj)
        if ctx.operation == "UPDATE" and spec == _spec_at(kind, ctx.old)[0]:
            return
        needs = ps.host_access(spec, path)
        if not needs:
            return
        refused = ps.refusals(needs, self._usable(ctx, ps.least_scc(needs)))
        if not refused:
            return
        name = str((ctx.obj.get("metadata") or {}).get("name") or "")
        raise ForbiddenError(
            f'{ctx.info.resource} "{name}" is forbidden: unable to validate against any security context '
            f'constraint: [{", ".join(str(n) for n in refused)}]',
            ObjectRef(ctx.info.plural, name, ctx.namespace, ctx.info.group),
            [FieldError(n.field, str(n).partition(": ")[2], "FieldValueForbidden") for n in refused])

    @staticmethod
    def _usable(ctx: AdmissionContext, wanted: str) -> set[str]:
        """The SCCs the user or the pod's service account may use: `wanted` or one above it if any, else
        the best below it (to name only what that one still refuses)."""
        who = (ctx.user, _service_account(ctx.info.kind, ctx.obj, ctx.namespace))
        at = ps.LADDER.index(wanted)
        for scc in (*ps.LADDER[at:], *reversed(ps.LADDER[1:at])):
            attrs = Attributes("use", ps.GROUP, ps.RESOURCE, "", ctx.namespace, scc)
            if any(ctx.authorizer.allowed(u, attrs) for u in who):
                return {scc}
        return set()
