"""The impact of a change on the network: which connections between existing pods (and from them to
the outside addresses that stand for the egress firewalls' rules) would open and close.

Pure: plain kube-style dicts in, `Change` lists and text lines out. `osdn ... --dry-run=impact`
(osdn/cli/impact.py) and the console's impact preview (osdn/console) both use it, on the objects the
server would store after a dry run.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from osdn.model.cluster import ClusterState
from osdn.model.egress_firewall import compute_egress_impact
from osdn.model.matrix import Change, compute_impact
from osdn.model.netid import CHANGE_NETWORK_ANNOTATION, NetIDRegistry, compute_network_change
from osdn.model.sdnconfig import Mode

Obj = dict[str, Any]
DEFAULT_PROBE = ("TCP", 80)
MAX_PAIRS_IN_SUMMARY = 5


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


def compute_change_impact(before_objs: list[Obj], after_objs: list[Obj]) -> tuple[list[Change], list[Change]]:
    """(opened, closed) between the two object sets, on every probe of `probes_for` both sets."""
    before = ClusterState.from_objects(before_objs)
    after = ClusterState.from_objects(after_objs)
    probes = probes_for(before_objs + after_objs)
    opened, closed = compute_impact(before, after, probes)
    if before.egress_firewalls or after.egress_firewalls:  # pods to the outside world, per firewall rule
        out_opened, out_closed = compute_egress_impact(before, after, probes)
        opened, closed = opened + out_opened, closed + out_closed
    return opened, closed


def _project(pod_key: str) -> str:
    return pod_key.split("/", 1)[0]


def summarize_impact(opened: list[Change], closed: list[Change], details: bool) -> list[str]:
    """The impact preview's lines: a one-line summary, then one line per (source, destination)
    project pair; with `details`, every connection under its pair."""
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


def object_key(obj: Obj) -> tuple[str, str, str]:
    meta = obj.get("metadata") or {}
    return str(obj.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name") or "")


def replace_objects(base: list[Obj], changed: list[Obj]) -> list[Obj]:
    """`base` with each object of `changed` added or put in place of the one with the same key."""
    by_key = {object_key(o): o for o in base}
    for obj in changed:
        by_key[object_key(obj)] = obj
    return list(by_key.values())


def _as_model_object(obj: Obj) -> Obj:
    """A Project is its Namespace to the model."""
    if obj.get("kind") == "Project":
        return {**obj, "apiVersion": "v1", "kind": "Namespace"}
    return obj


def apply_changes(base: list[Obj], changed: list[Obj], deleted: list[Obj]) -> list[Obj]:
    """`base` after the changes: changed objects in place, deleted ones (and, for a deleted
    namespace or project, everything in it) gone."""
    state = replace_objects(base, [_as_model_object(o) for o in changed])
    gone = {object_key(_as_model_object(o)) for o in deleted}
    gone_namespaces = {name for kind, _, name in gone if kind == "Namespace"}
    return [o for o in state if object_key(o) not in gone
            and (o.get("metadata") or {}).get("namespace") not in gone_namespaces]


def compute_network_changes(objs: list[Obj], requests: Iterable[tuple[str, str]],
                            mode: Mode) -> tuple[list[Obj], list[str]]:
    """The NetNamespaces of `objs` after the master applied each (project, change-network value) in
    order, as `adm pod-network` asks it to (join-projects, isolate-projects, make-projects-global);
    and the errors, one line per refused request."""
    registry = NetIDRegistry()
    by_name = {o["metadata"]["name"]: o for o in objs if o.get("kind") == "NetNamespace"}
    registry.load((name, int(o.get("netid") or 0)) for name, o in by_name.items())
    changed: list[Obj] = []
    errors: list[str] = []
    for project, value in requests:
        change = compute_network_change(registry, project, value, mode)
        if change.error:
            errors.append(f"{project}: {change.error}")
        elif project in by_name:
            changed.append({**by_name[project], "netid": change.netid})
    return changed, errors


def network_change_requests(objs: Iterable[Obj]) -> list[tuple[str, str]]:
    """(project, value) of every NetNamespace in `objs` that carries the change-network annotation."""
    return [(o["metadata"]["name"], str(ann[CHANGE_NETWORK_ANNOTATION])) for o in objs
            if o.get("kind") == "NetNamespace"
            and CHANGE_NETWORK_ANNOTATION in (ann := (o.get("metadata") or {}).get("annotations") or {})]
