"""`--dry-run=impact`: which connections between existing pods (and from them to the outside
addresses that stand for the egress firewalls' rules) a change would open and close
(every writing command, e.g. `osdn apply --dry-run=impact`, `osdn label pod ... --dry-run=impact`,
`osdn adm pod-network ... --dry-run=impact`).

The change is first sent to the server as a dry run (see `dryrun.Writer`), so the objects compared
are exactly what the server would store (defaults applied, admission passed); nothing is written.
The preview leads with a one-line summary, groups the changes by (source, destination) project
pair, and lists every connection only with `--details` (or `-o wide`).
"""

from __future__ import annotations

from typing import Any

import click

from osdn.cli.clusterstate import fetch_objects, object_key, replace_objects
from osdn.cli.context import Ctx
from osdn.client import Client
from osdn.model.cluster import ClusterState
from osdn.model.egress_firewall import compute_egress_impact
from osdn.model.matrix import Change, compute_impact
from osdn.model.netid import NetIDRegistry, compute_network_change
from osdn.model.sdnconfig import Mode

Obj = dict[str, Any]
DEFAULT_PROBE = ("TCP", 80)
MAX_PAIRS_IN_SUMMARY = 5
DETAILS_KEY = "osdn.impact_details"  # set by the --details option (see dryrun.dry_run_option)


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


def _project(pod_key: str) -> str:
    return pod_key.split("/", 1)[0]


def summarize_impact(opened: list[Change], closed: list[Change], details: bool) -> list[str]:
    """The impact preview's lines: a one-line summary, then one line per (source, destination)
    project pair; with `details`, every connection under its pair. Pure."""
    if not opened and not closed:
        return ["No connection between existing pods would change."]
    groups: dict[tuple[str, str], tuple[list[Change], list[Change]]] = {}
    for verdict, changes in ((0, opened), (1, closed)):
        for c in changes:
            groups.setdefault((_project(c.src), _project(c.dst)), ([], []))[verdict].append(c)
    pairs = sorted(groups)
    named = ", ".join(f"{s} -> {d}" for s, d in pairs[:MAX_PAIRS_IN_SUMMARY])
    more = f" and {len(pairs) - MAX_PAIRS_IN_SUMMARY} more" if len(pairs) > MAX_PAIRS_IN_SUMMARY else ""
    lines = [f"Impact: {len(opened)} connection(s) would OPEN, {len(closed)} would CLOSE, across "
             f"{len(pairs)} project pair(s): {named}{more}."]
    for src, dst in pairs:
        pair_opened, pair_closed = groups[(src, dst)]
        counts = ", ".join(f"{len(cs)} would {title}" for title, cs in (("OPEN", pair_opened),
                                                                       ("CLOSE", pair_closed)) if cs)
        ports = ", ".join(sorted({f"{c.protocol}/{c.port}" for c in pair_opened + pair_closed}))
        lines.append(f"  {src} -> {dst}: {counts} ({ports})")
        if details:
            lines += [f"    {title} {c.src} -> {c.dst} {c.protocol}/{c.port}: {c.after}"
                      for title, cs in (("OPEN ", pair_opened), ("CLOSE", pair_closed)) for c in cs]
    if not details:
        lines.append("Every connection: add --details (or -o wide).")
    return lines


def print_impact(before_objs: list[Obj], after_objs: list[Obj], details: bool = False) -> None:
    before = ClusterState.from_objects(before_objs)
    after = ClusterState.from_objects(after_objs)
    probes = probes_for(before_objs + after_objs)
    opened, closed = compute_impact(before, after, probes)
    if before.egress_firewalls or after.egress_firewalls:  # pods to the outside world, per firewall rule
        out_opened, out_closed = compute_egress_impact(before, after, probes)
        opened, closed = opened + out_opened, closed + out_closed
    click.echo("\n".join(summarize_impact(opened, closed, details)))


def _as_model_object(obj: Obj) -> Obj:
    """A Project is its Namespace to the model."""
    if obj.get("kind") == "Project":
        return {**obj, "apiVersion": "v1", "kind": "Namespace"}
    return obj


def apply_changes(base: list[Obj], changed: list[Obj], deleted: list[Obj]) -> list[Obj]:
    """`base` after the changes: changed objects in place, deleted ones (and, for a deleted
    namespace or project, everything in it) gone. Pure."""
    state = replace_objects(base, [_as_model_object(o) for o in changed])
    gone = {object_key(_as_model_object(o)) for o in deleted}
    gone_namespaces = {name for kind, _, name in gone if kind == "Namespace"}
    return [o for o in state if object_key(o) not in gone
            and (o.get("metadata") or {}).get("namespace") not in gone_namespaces]


def wants_details() -> bool:
    """`--details` or `-o wide` on the running command."""
    cctx = click.get_current_context(silent=True)
    if cctx is None:
        return False
    return bool(cctx.meta.get(DETAILS_KEY)) or cctx.params.get("output") == "wide"


def print_change_impact(client: Client, changed: list[Obj], deleted: list[Obj]) -> None:
    """The impact of writes the server accepted as a dry run (`changed`, `deleted`)."""
    before = fetch_objects(client)
    print_impact(before, apply_changes(before, changed, deleted), wants_details())


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
    print_impact(before, replace_objects(before, changed), wants_details())
