"""Egress firewall placement: where an EgressNetworkPolicy may exist (seed rules, enforced up front).

On EgressNetworkPolicy CREATE: at most one per project; none in `default` or any global project
(NetID 0); none in a project that shares its NetID with others (joined); none while the project has
a pending `change-network` to `global` or `join:`. In subnet mode a policy is accepted with a
warning (there is no egress firewall without NetIDs).

On NetNamespace UPDATE that sets `pod.network.openshift.io/multitenant.change-network` to `global`
or `join:<ns>`: refused while the resulting global or shared pod network holds an
EgressNetworkPolicy. The reference accepts such a change and then drops *all* egress traffic of the
project; osdn refuses it instead, because a silent total outage is worse than an error the
administrator can act on (delete the policy, then join). The master re-checks when it applies the
change (race with a concurrent policy create).
"""

from __future__ import annotations

from typing import Any

from osdn.apiserver.admission import AdmissionContext
from osdn.errors import FieldError, NotFoundError, ObjectRef, ValidationError
from osdn.model.netid import CHANGE_NETWORK_ANNOTATION, DEFAULT_NAMESPACE, GLOBAL_VNID
from osdn.model.sdnconfig import Mode, parse_mode
from osdn.store import Key

Obj = dict[str, Any]
NETNS = "netnamespaces.network.openshift.io"
ENP = "egressnetworkpolicies.network.openshift.io"


def _netids(ctx: AdmissionContext) -> dict[str, int]:
    return {o["metadata"]["name"]: int(o.get("netid") or 0) for o, _ in ctx.store.list(NETNS)[0]}


def _policy_namespaces(ctx: AdmissionContext) -> set[str]:
    return {o["metadata"].get("namespace", "") for o, _ in ctx.store.list(ENP)[0]}


def _mode(ctx: AdmissionContext) -> Mode | None:
    try:
        cn = ctx.store.get(Key("clusternetworks.network.openshift.io", "", "default"))
    except NotFoundError:
        return None
    return parse_mode(str(cn.get("pluginName") or ""))


def placement_problem(namespace: str, netids: dict[str, int], pending: str | None) -> str | None:
    """Why a policy may not live in `namespace` given every NetNamespace's NetID. Pure."""
    if namespace == DEFAULT_NAMESPACE:
        return 'the "default" project is global: it cannot have an EgressNetworkPolicy'
    netid = netids.get(namespace)
    if netid == GLOBAL_VNID:
        return f'project "{namespace}" is global (made global with make-projects-global): it cannot have an EgressNetworkPolicy'
    if pending and (pending == "global" or pending.startswith("join:")):
        return f'project "{namespace}" has a pending pod network change "{pending}": it cannot have an EgressNetworkPolicy'
    shared = sorted(n for n, v in netids.items() if v == netid and n != namespace) if netid is not None else []
    if shared:
        return (f'project "{namespace}" shares its pod network (NetID {netid}) with {", ".join(shared)} '
                "(joined with join-projects): joined projects cannot have an EgressNetworkPolicy")
    return None


def change_problem(namespace: str, value: str, netids: dict[str, int], policies: set[str]) -> str | None:
    """Why `change-network: value` on `namespace` is refused because of egress firewalls. Pure."""
    if value == "global":
        members = {namespace}
        what = "make it global"
    elif value.startswith("join:"):
        target = value.split(":", 1)[1]
        target_id = netids.get(target)
        members = {namespace, target}
        if target_id not in (None, GLOBAL_VNID):
            members |= {n for n, v in netids.items() if v == target_id}
        what = f'join it to "{target}"'
    else:
        return None
    blocked = sorted(members & policies)
    if not blocked:
        return None
    return (f"cannot {what}: project(s) {', '.join(blocked)} have an EgressNetworkPolicy, which is not "
            "allowed in a global or shared pod network (the policy would stop working and all egress "
            "traffic would be dropped); delete the policy first")


class EgressFirewallPlacement:
    name = "EgressFirewallPlacement"

    def admit(self, ctx: AdmissionContext) -> None:
        if ctx.info.kind == "EgressNetworkPolicy" and ctx.operation == "CREATE":
            self._admit_policy(ctx)
        elif ctx.info.kind == "NetNamespace" and ctx.operation == "UPDATE":
            self._admit_change(ctx)

    def _admit_policy(self, ctx: AdmissionContext) -> None:
        ns, name = ctx.namespace, ctx.obj["metadata"]["name"]
        ref = ObjectRef("EgressNetworkPolicy", name, ns, ctx.info.group)
        if _mode(ctx) is Mode.SUBNET:
            ctx.warnings.add(f"EgressNetworkPolicy {name} in project {ns} has no effect: the cluster "
                             "runs the subnet plugin (egress firewalls need multitenant or networkpolicy)")
        existing = sorted(o["metadata"]["name"] for o, _ in ctx.store.list(ENP, ns)[0])
        if existing:
            raise ValidationError(f'{ref.describe()}: a project can have at most one EgressNetworkPolicy: '
                                  f'"{existing[0]}" already exists in project "{ns}"', ref,
                                  [FieldError("metadata.name", "only one EgressNetworkPolicy per project",
                                              "FieldValueForbidden")])
        netids = _netids(ctx)
        pending = None
        try:
            netns = ctx.store.get(Key(NETNS, "", ns))
            pending = ((netns.get("metadata") or {}).get("annotations") or {}).get(CHANGE_NETWORK_ANNOTATION)
        except NotFoundError:
            pass
        problem = placement_problem(ns, netids, pending)
        if problem:
            raise ValidationError(f"{ref.describe()}: {problem}", ref,
                                  [FieldError("metadata.namespace", problem, "FieldValueForbidden")])

    def _admit_change(self, ctx: AdmissionContext) -> None:
        new = ((ctx.obj.get("metadata") or {}).get("annotations") or {}).get(CHANGE_NETWORK_ANNOTATION)
        old = (((ctx.old or {}).get("metadata") or {}).get("annotations") or {}).get(CHANGE_NETWORK_ANNOTATION)
        if not new or new == old:
            return
        name = ctx.obj["metadata"]["name"]
        problem = change_problem(name, new, _netids(ctx), _policy_namespaces(ctx))
        if problem:
            ref = ObjectRef("NetNamespace", name, group=ctx.info.group)
            raise ValidationError(f"{ref.describe()}: {problem}", ref,
                                  [FieldError(f"metadata.annotations[{CHANGE_NETWORK_ANNOTATION}]", problem,
                                              "FieldValueForbidden")])
