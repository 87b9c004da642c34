"""`--dry-run=impact`: which connections between existing pods a change would open and close
(`osdn apply --dry-run=impact`, `osdn adm pod-network ... --dry-run=impact`).

The change is first sent to the server as a dry run, so the objects compared are exactly what the
server would store (defaults applied, admission passed); nothing is written.
"""

from __future__ import annotations

from typing import Any

import click

from osdn.api.registry import KindInfo
from osdn.cli.clusterstate import fetch_objects, replace_objects
from osdn.cli.context import Ctx
from osdn.errors import NotFoundError
from osdn.model.cluster import ClusterState
from osdn.model.matrix import compute_impact
from osdn.model.netid import NetIDRegistry, compute_network_change
from osdn.model.sdnconfig import Mode

Obj = dict[str, Any]
DEFAULT_PROBE = ("TCP", 80)


def probes_for(objs: list[Obj]) -> list[tuple[str, int]]:
    """Ports worth probing: TCP/80 plus every numbered container port and policy port."""
    found: set[tuple[str, int]] = {DEFAULT_PROBE}
    for obj in objs:
        if obj.get("kind") == "Pod":
            for c in (obj.get("spec") or {}).get("containers") or []:
                for p in c.get("ports") or []:
                    if isinstance(p.get("containerPort"), int):
                        found.add((str(p.get("protocol") or "TCP").upper(), p["containerPort"]))
        if obj.get("kind") == "NetworkPolicy":
            spec = obj.get("spec") or {}
            for rule in (spec.get("ingress") or []) + (spec.get("egress") or []):
                for p in rule.get("ports") or []:
                    if isinstance(p.get("port"), int):
                        found.add((str(p.get("protocol") or "TCP").upper(), p["port"]))
    return sorted(found)


def print_impact(before_objs: list[Obj], after_objs: list[Obj]) -> None:
    before = ClusterState.from_objects(before_objs)
    after = ClusterState.from_objects(after_objs)
    opened, closed = compute_impact(before, after, probes_for(before_objs + after_objs))
    if not opened and not closed:
        click.echo("No connection between existing pods would change.")
        return
    for title, changes in (("would OPEN", opened), ("would CLOSE", closed)):
        if changes:
            click.echo(f"{len(changes)} connection(s) {title}:")
            for c in changes:
                click.echo(f"  {c.src} -> {c.dst} {c.protocol}/{c.port}: {c.after}")


def print_apply_impact(ctx: Ctx, objs: list[tuple[KindInfo, Obj, str]]) -> None:
    client = ctx.client
    before = fetch_objects(client)
    changed: list[Obj] = []
    for info, obj, ns in objs:
        name = (obj.get("metadata") or {}).get("name", "")
        try:
            client.get(info, name, ns)
            changed.append(client.patch(info, name, obj, ns, "merge", dry_run=True))
        except NotFoundError:
            changed.append(client.create(obj, ns, dry_run=True))
    print_impact(before, replace_objects(before, changed))


def print_pod_network_impact(ctx: Ctx, projects: list[str], value: str) -> None:
    """What `adm pod-network ...` would open and close: replay the change-network decisions on a
    copy of the NetID registry, then compare the model's matrices before and after."""
    before = fetch_objects(ctx.client)
    registry = NetIDRegistry()
    netnamespaces = [o for o in before if o.get("kind") == "NetNamespace"]
    registry.load((o["metadata"]["name"], int(o.get("netid") or 0)) for o in netnamespaces)
    changed: list[Obj] = []
    by_name = {o["metadata"]["name"]: o for o in netnamespaces}
    for project in projects:
        change = compute_network_change(registry, project, value, Mode.MULTITENANT)
        if change.error:
            click.echo(f"{project}: {change.error}", err=True)
        elif project in by_name:
            changed.append({**by_name[project], "netid": change.netid})
    print_impact(before, replace_objects(before, changed))
