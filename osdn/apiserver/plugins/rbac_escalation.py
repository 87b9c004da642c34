"""RBAC escalation prevention, as Kubernetes does it (pkg/registry/rbac/validation, escalation_check.go).

A user may create or update a ClusterRole (a Role) only if she already holds every permission it grants
(in the Role's namespace), or holds the `escalate` verb on `clusterroles` (`roles`); she may create or update a (Cluster)RoleBinding only if
she holds every permission of the role it references (in the binding's namespace for a
RoleBinding, cluster-wide for a ClusterRoleBinding), or holds the `bind` verb on that role. Cluster
admins hold everything. Deleting is not checked (it takes permissions away).

`covers` and `uncovered` are pure: a rule is split into single (verb, group, resource, name) or
(verb, URL) permissions and each must be allowed by some rule of the owner, with Kubernetes'
wildcards (`*`, `resource/*`, `*/subresource`, a trailing `*` on URLs).
"""

from __future__ import annotations

import json
from typing import Any

from osdn.apiserver.admission import AdmissionContext
from osdn.apiserver.auth import RBAC, Attributes, url_matches
from osdn.errors import ForbiddenError

Rule = dict[str, Any]


def _has(values: list[str] | None, wanted: str) -> bool:
    return "*" in (values or []) or wanted in (values or [])


def _resource_covered(owner: list[str] | None, resource: str) -> bool:
    owner = owner or []
    if "*" in owner or resource in owner:
        return True
    base, slash, sub = resource.partition("/")
    return bool(slash) and (f"{base}/*" in owner or f"*/{sub}" in owner)


def _single_covered(owner: Rule, verb: str, group: str, resource: str, name: str) -> bool:
    names = owner.get("resourceNames") or []
    return (_has(owner.get("verbs"), verb) and _has(owner.get("apiGroups"), group)
            and _resource_covered(owner.get("resources"), resource) and (not names or name in names))


def _split(rule: Rule) -> list[tuple[str, ...]]:
    """A rule as its single permissions: (verb, URL) or (verb, group, resource, name)."""
    verbs = rule.get("verbs") or []
    if rule.get("nonResourceURLs"):
        return [(v, u) for v in verbs for u in rule["nonResourceURLs"]]
    return [(v, g, r, n) for v in verbs for g in rule.get("apiGroups") or []
            for r in rule.get("resources") or [] for n in rule.get("resourceNames") or [""]]


def _covered(owner_rules: list[Rule], perm: tuple[str, ...]) -> bool:
    if len(perm) == 2:
        return any(_has(o.get("verbs"), perm[0]) and url_matches(o.get("nonResourceURLs"), perm[1])
                   for o in owner_rules)
    return any(_single_covered(o, *perm) for o in owner_rules)


def uncovered(owner_rules: list[Rule], rules: list[Rule]) -> list[Rule]:
    """The rules of `rules` that `owner_rules` do not wholly grant. Pure."""
    return [r for r in rules if not all(_covered(owner_rules, p) for p in _split(r))]


def covers(owner_rules: list[Rule], rules: list[Rule]) -> bool:
    return not uncovered(owner_rules, rules)


def _show(rule: Rule) -> str:
    keys = ("apiGroups", "resources", "resourceNames", "nonResourceURLs", "verbs")
    return "{" + ", ".join(f"{k}:{json.dumps(rule[k])}" for k in keys if rule.get(k)) + "}"


class RBACEscalation:
    """Validating admission on ClusterRole, ClusterRoleBinding and RoleBinding CREATE and UPDATE."""

    name = "RBACEscalation"

    def admit(self, ctx: AdmissionContext) -> None:
        if ctx.operation not in ("CREATE", "UPDATE") or ctx.info.group != RBAC or ctx.user.is_cluster_admin:
            return
        if ctx.info.kind in ("ClusterRole", "Role"):
            if not ctx.user_may("escalate", ctx.info.plural):   # in the Role's namespace
                self._confirm(ctx, list(ctx.obj.get("rules") or []), ctx.namespace if ctx.info.kind == "Role" else "")
            return
        role_ref = ctx.obj.get("roleRef") or {}
        namespace = ctx.namespace if ctx.info.kind == "RoleBinding" else ""
        plural = "clusterroles" if role_ref.get("kind") == "ClusterRole" else "roles"
        bind = Attributes("bind", RBAC, plural, "", namespace, str(role_ref.get("name") or ""))
        if ctx.authorizer.allowed(ctx.user, bind):
            return
        self._confirm(ctx, ctx.authorizer.role_ref_rules(role_ref, namespace), namespace)

    @staticmethod
    def _confirm(ctx: AdmissionContext, rules: list[Rule], namespace: str) -> None:
        missing = uncovered(ctx.authorizer.rules_for(ctx.user, namespace), rules)
        if missing:
            meta = ctx.obj.get("metadata") or {}
            where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
            raise ForbiddenError(
                f'{ctx.info.plural}.{RBAC} "{meta.get("name", "")}" is forbidden: user "{ctx.user.name}" is '
                f"attempting to grant RBAC permissions not currently held{where}: "
                + "; ".join(_show(r) for r in missing))
