"""Output formats for `get`: tables with each kind's columns, and -o json|yaml|wide|name.

Pure except for the clock passed in (`now`) to compute AGE.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from typing import Any

import yaml

from osdn.api.registry import KindInfo

Obj = dict[str, Any]
Column = tuple[str, Callable[[Obj], str]]


def _join(values: Any) -> str:
    return ", ".join(str(v) for v in values) if values else ""


def _list(values: Any) -> str:
    return "[" + ", ".join(str(v) for v in values) + "]" if values else ""


def _selector(sel: Any) -> str:
    if not sel:
        return "<none>"
    parts = [f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
    parts += [f"{e.get('key')} {e.get('operator')} ({','.join(e.get('values') or [])})"
              for e in sel.get("matchExpressions") or []]
    return ",".join(parts) or "<none>"


def _ports(svc: Obj) -> str:
    return ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in svc.get("spec", {}).get("ports") or [])


def _pod_status(pod: Obj) -> str:
    return str(pod.get("status", {}).get("phase") or "Pending")


def _pod_ready(pod: Obj) -> str:
    containers = pod.get("spec", {}).get("containers") or []
    ready = sum(1 for s in pod.get("status", {}).get("containerStatuses") or [] if s.get("ready"))
    return f"{ready}/{len(containers)}"


def _node_ip(node: Obj) -> str:
    for a in node.get("status", {}).get("addresses") or []:
        if a.get("type") == "InternalIP":
            return str(a.get("address"))
    return "<none>"


def _node_ready(node: Obj) -> str:
    for c in node.get("status", {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return "Ready" if c.get("status") == "True" else "NotReady"
    return "Unknown"


def _route_host(r: Obj) -> str:
    return str(r.get("spec", {}).get("host") or "")


def _rc_counts(o: Obj) -> str:
    return str(o.get("status", {}).get("replicas", 0))


def _g(*path: str, default: str = "") -> Callable[[Obj], str]:
    def get(o: Obj) -> str:
        cur: Any = o
        for p in path:
            cur = cur.get(p) if isinstance(cur, dict) else None
        return default if cur in (None, "") else str(cur)
    return get


COLUMNS: dict[str, list[Column]] = {
    "Pod": [("READY", _pod_ready), ("STATUS", _pod_status), ("RESTARTS", lambda o: "0")],
    "NetNamespace": [("NETID", _g("netid")), ("EGRESS IPS", lambda o: _list(o.get("egressIPs")))],
    "HostSubnet": [("HOST", _g("host")), ("HOST IP", _g("hostIP")), ("SUBNET", _g("subnet")),
                   ("EGRESS CIDRS", lambda o: _list(o.get("egressCIDRs"))),
                   ("EGRESS IPS", lambda o: _list(o.get("egressIPs")))],
    "ClusterNetwork": [("CLUSTER NETWORK", lambda o: ",".join(c.get("CIDR", "") for c in o.get("clusterNetworks")
                                                              or []) or str(o.get("network", ""))),
                       ("SERVICE NETWORK", _g("serviceNetwork")), ("PLUGIN NAME", _g("pluginName"))],
    "Service": [("TYPE", _g("spec", "type", default="ClusterIP")),
                ("CLUSTER-IP", _g("spec", "clusterIP", default="<none>")),
                ("EXTERNAL-IP", lambda o: _join(o.get("spec", {}).get("externalIPs")) or "<none>"),
                ("PORT(S)", _ports)],
    "NetworkPolicy": [("POD-SELECTOR", lambda o: _selector(o.get("spec", {}).get("podSelector")))],
    "Route": [("HOST/PORT", _route_host), ("PATH", _g("spec", "path")),
              ("SERVICES", _g("spec", "to", "name")), ("PORT", _g("spec", "port", "targetPort")),
              ("TERMINATION", lambda o: "/".join(x for x in (
                  o.get("spec", {}).get("tls", {}).get("termination", ""),
                  o.get("spec", {}).get("tls", {}).get("insecureEdgeTerminationPolicy", "")) if x)),
              ("WILDCARD", _g("spec", "wildcardPolicy", default="None"))],
    "Namespace": [("STATUS", _g("status", "phase", default="Active"))],
    "Project": [("DISPLAY NAME", lambda o: o["metadata"].get("annotations", {}).get(
        "openshift.io/display-name", "")), ("STATUS", _g("status", "phase", default="Active"))],
    "Node": [("STATUS", _node_ready), ("ROLES", lambda o: "<none>")],
    "ConfigMap": [("DATA", lambda o: str(len(o.get("data") or {}) + len(o.get("binaryData") or {})))],
    "ReplicationController": [("DESIRED", _g("spec", "replicas", default="1")), ("CURRENT", _rc_counts),
                              ("READY", _g("status", "readyReplicas", default="0"))],
    "Deployment": [("READY", lambda o: f"{o.get('status', {}).get('readyReplicas', 0)}/"
                                       f"{o.get('spec', {}).get('replicas', 1)}")],
    "Endpoints": [("ENDPOINTS", lambda o: ",".join(
        f"{a.get('ip')}:{p.get('port')}" for s in o.get("subsets") or [] for a in s.get("addresses") or []
        for p in s.get("ports") or [{}]) or "<none>")],
    "RoleBinding": [("ROLE", lambda o: f"{o.get('roleRef', {}).get('kind')}/{o.get('roleRef', {}).get('name')}")],
    "ClusterRoleBinding": [("ROLE", lambda o: f"ClusterRole/{o.get('roleRef', {}).get('name')}")],
    "EgressNetworkPolicy": [("RULES", lambda o: str(len(o.get("spec", {}).get("egress") or [])))],
    "Template": [("DESCRIPTION", lambda o: o["metadata"].get("annotations", {}).get("description", "")),
                 ("OBJECTS", lambda o: str(len(o.get("objects") or [])))],
}
WIDE: dict[str, list[Column]] = {
    "Pod": [("IP", _g("status", "podIP", default="<none>")), ("NODE", _g("spec", "nodeName", default="<none>"))],
    "Node": [("INTERNAL-IP", _node_ip)],
    "Service": [("SELECTOR", lambda o: ",".join(f"{k}={v}" for k, v in sorted(
        (o.get("spec", {}).get("selector") or {}).items())) or "<none>")],
}
NO_AGE = {"NetNamespace", "HostSubnet", "ClusterNetwork", "Project", "Route", "ClusterOperator"}


def _condition(o: Obj, kind: str) -> Obj:
    return next((c for c in (o.get("status") or {}).get("conditions") or [] if c.get("type") == kind), {})


def _operator_columns(now: datetime.datetime) -> list[Column]:
    """`oc get clusteroperator`: VERSION AVAILABLE PROGRESSING DEGRADED SINCE (Available's last change)."""
    def version(o: Obj) -> str:
        return next((x.get("version", "") for x in (o.get("status") or {}).get("versions") or []
                     if x.get("name") == "operator"), "")
    return [("VERSION", version)] + [
        (kind.upper(), lambda o, k=kind: str(_condition(o, k).get("status", "")))
        for kind in ("Available", "Progressing", "Degraded")] + [
        ("SINCE", lambda o: age(_condition(o, "Available").get("lastTransitionTime"), now)
         if _condition(o, "Available") else "")]


def age(timestamp: str | None, now: datetime.datetime) -> str:
    if not timestamp:
        return "<unknown>"
    try:
        then = datetime.datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)
    except ValueError:
        return "<unknown>"
    s = max(0, int((now - then).total_seconds()))
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m"
    if s < 172800:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


def table(info: KindInfo, items: list[Obj], now: datetime.datetime, wide: bool = False,
          all_namespaces: bool = False, show_labels: bool = False) -> str:
    cols: list[Column] = [("NAME", lambda o: o["metadata"]["name"])]
    if all_namespaces and info.namespaced:
        cols.insert(0, ("NAMESPACE", lambda o: o["metadata"].get("namespace", "")))
    cols += COLUMNS.get(info.kind, [])
    if info.kind == "ClusterOperator":
        cols += _operator_columns(now)
    if info.kind not in NO_AGE:
        cols.append(("AGE", lambda o: age(o["metadata"].get("creationTimestamp"), now)))
    if wide:
        cols += WIDE.get(info.kind, [])
    if show_labels:
        cols.append(("LABELS", lambda o: ",".join(f"{k}={v}" for k, v in sorted(
            (o["metadata"].get("labels") or {}).items())) or "<none>"))
    rows = [[h for h, _ in cols]] + [[fn(o) for _, fn in cols] for o in items]
    widths = [max(len(r[i]) for r in rows) for i in range(len(cols))]
    return "\n".join("   ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def qualified_name(info: KindInfo, name: str) -> str:
    """`pod/x`, `egressnetworkpolicy.network.openshift.io/default` (as oc prints them)."""
    return f"{info.singular}.{info.group}/{name}" if info.group else f"{info.singular}/{name}"


def render(info: KindInfo, items: list[Obj], output: str, now: datetime.datetime, single: bool = False,
           all_namespaces: bool = False, show_labels: bool = False) -> str:
    if output == "json":
        data: Any = items[0] if single and len(items) == 1 else {"apiVersion": "v1", "kind": "List",
                                                                  "items": items}
        return json.dumps(data, indent=4)
    if output == "yaml":
        data = items[0] if single and len(items) == 1 else {"apiVersion": "v1", "kind": "List", "items": items}
        return yaml.safe_dump(data, sort_keys=False).rstrip()
    if output == "name":
        return "\n".join(qualified_name(info, o["metadata"]["name"]) for o in items)
    if output.startswith("jsonpath="):
        return " ".join(_jsonpath(o, output[len("jsonpath="):]) for o in items)
    if not items:
        return ""
    return table(info, items, now, wide=output == "wide", all_namespaces=all_namespaces, show_labels=show_labels)


def _jsonpath(obj: Obj, expr: str) -> str:
    """The simple `{.a.b}` subset of kubectl's jsonpath."""
    expr = expr.strip().strip("{}").lstrip(".")
    cur: Any = obj
    for part in expr.split(".") if expr else []:
        cur = cur.get(part) if isinstance(cur, dict) else None
    if isinstance(cur, (dict, list)):
        return json.dumps(cur)
    return "" if cur is None else str(cur)
