"""The columns of every kind, as `osdn get` prints them and the API serves them as a meta.k8s.io Table.

Pure: AGE and SINCE take the time as an argument. One definition for both places: `columns(info, now)`
gives NAME, the kind's columns, AGE (unless the kind prints none, as oc) and the `-o wide` columns
with priority 1 (kubectl shows priority > 0 only with -o wide).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from osdn.api import cells
from osdn.api.labels import from_label_selector
from osdn.api.registry import KindInfo

Obj = dict[str, Any]
Column = tuple[str, Callable[[Obj], str]]


@dataclass(frozen=True)
class TableColumn:
    name: str
    cell: Callable[[Obj], str]
    priority: int = 0            # 1: only with -o wide
    type: str = "string"         # OpenAPI type of the cell, as in a Table's columnDefinitions
    format: str = ""             # "name" for NAME


def _join(values: Any) -> str:
    return ", ".join(str(v) for v in values) if values else ""


def _conditions(key: str) -> Callable[[Obj], str]:
    """A CRD printer column `.status.conditions[*].<key>`: every condition's value."""
    return lambda o: ",".join(str(c.get(key, "")) for c in (o.get("status") or {}).get("conditions") or [])


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
    """kubectl's PORT(S): `80/TCP`, with a node port `80:30080/TCP`."""
    return ",".join(f"{p.get('port')}{':' + str(p['nodePort']) if p.get('nodePort') else ''}/{p.get('protocol', 'TCP')}"
                    for p in svc.get("spec", {}).get("ports") or [])


def _external_ip(svc: Obj) -> str:
    """kubectl's EXTERNAL-IP: an ExternalName's name; a LoadBalancer's ingress and externalIPs, or
    `<pending>` (osdn provisions no load balancer); else the externalIPs or `<none>`."""
    spec = svc.get("spec") or {}
    if spec.get("type") == "ExternalName":
        return str(spec.get("externalName") or "")
    if spec.get("type") == "LoadBalancer":
        ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        found = [str(i.get("ip") or i.get("hostname")) for i in ingress if i.get("ip") or i.get("hostname")]
        return ",".join(found + [str(ip) for ip in spec.get("externalIPs") or []]) or "<pending>"
    return _join(spec.get("externalIPs")) or "<none>"


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


def _first_three(values: list[str]) -> str:
    """kubectl's listWithMoreString: up to three values, `+ N more...`, `<unset>` when empty."""
    shown = ",".join(values[:3])
    if len(values) > 3:
        return f"{shown} + {len(values) - 3} more..."
    return shown or "<unset>"


def _slice_ports(o: Obj) -> str:
    return _first_three([str(p["port"]) if p.get("port") is not None else str(p.get("name") or "*")
                         for p in o.get("ports") or []])


def _slice_endpoints(o: Obj) -> str:
    return _first_three([str(a) for e in o.get("endpoints") or [] for a in e.get("addresses") or []])


def _quota_cells(o: Obj, limits: bool) -> str:
    """kubectl's ResourceQuota REQUEST / LIMIT cell: `name: used/hard, ...` from the status, sorted by
    name; LIMIT has the `limits.*` resources, REQUEST the others."""
    status = o.get("status") or {}
    hard, used = status.get("hard") or {}, status.get("used") or {}
    return ", ".join(f"{n}: {used.get(n, 0)}/{hard[n]}" for n in sorted(hard)
                     if n.startswith("limits.") == limits)


def _g(*path: str, default: str = "") -> Callable[[Obj], str]:
    def get(o: Obj) -> str:
        cur: Any = o
        for p in path:
            cur = cur.get(p) if isinstance(cur, dict) else None
        return default if cur in (None, "") else str(cur)
    return get


COLUMNS: dict[str, list[Column]] = {
    "NetNamespace": [("NETID", _g("netid")), ("EGRESS IPS", lambda o: _list(o.get("egressIPs")))],
    "HostSubnet": [("HOST", _g("host")), ("HOST IP", _g("hostIP")), ("SUBNET", _g("subnet")),
                   ("EGRESS CIDRS", lambda o: _list(o.get("egressCIDRs"))),
                   ("EGRESS IPS", lambda o: _list(o.get("egressIPs")))],
    "ClusterNetwork": [("CLUSTER NETWORK", lambda o: ",".join(c.get("CIDR", "") for c in o.get("clusterNetworks")
                                                              or []) or str(o.get("network", ""))),
                       ("SERVICE NETWORK", _g("serviceNetwork")), ("PLUGIN NAME", _g("pluginName"))],
    "Service": [("TYPE", _g("spec", "type", default="ClusterIP")),
                ("CLUSTER-IP", _g("spec", "clusterIP", default="<none>")),
                ("EXTERNAL-IP", _external_ip),
                ("PORT(S)", _ports)],
    "NetworkPolicy": [("POD-SELECTOR", lambda o: _selector(o.get("spec", {}).get("podSelector")))],
    "Route": [("HOST/PORT", _route_host), ("PATH", _g("spec", "path")),
              ("SERVICES", _g("spec", "to", "name")), ("PORT", _g("spec", "port", "targetPort")),
              ("TERMINATION", lambda o: "/".join(x for x in (
                  o.get("spec", {}).get("tls", {}).get("termination", ""),
                  o.get("spec", {}).get("tls", {}).get("insecureEdgeTerminationPolicy", "")) if x)),
              ("WILDCARD", _g("spec", "wildcardPolicy", default="None"))],
    "Namespace": [("STATUS", _g("status", "phase", default="Active"))],
    "Lease": [("HOLDER", _g("spec", "holderIdentity"))],
    "Project": [("DISPLAY NAME", lambda o: o["metadata"].get("annotations", {}).get(
        "openshift.io/display-name", "")), ("STATUS", _g("status", "phase", default="Active"))],
    "Node": [("STATUS", _node_ready), ("ROLES", lambda o: "<none>")],
    "ConfigMap": [("DATA", lambda o: str(len(o.get("data") or {}) + len(o.get("binaryData") or {})))],
    "Secret": [("TYPE", _g("type", default="")), ("DATA", lambda o: str(len(o.get("data") or {})))],
    "ServiceAccount": [("SECRETS", lambda o: str(len(o.get("secrets") or [])))],
    "ReplicationController": [("DESIRED", _g("spec", "replicas", default="1")), ("CURRENT", _rc_counts),
                              ("READY", _g("status", "readyReplicas", default="0"))],
    "Deployment": [("READY", lambda o: f"{o.get('status', {}).get('readyReplicas', 0)}/"
                                       f"{o.get('spec', {}).get('replicas', 1)}"),
                   ("UP-TO-DATE", _g("status", "updatedReplicas", default="0")),
                   ("AVAILABLE", _g("status", "availableReplicas", default="0"))],
    "ReplicaSet": [("DESIRED", _g("spec", "replicas", default="1")), ("CURRENT", _rc_counts),
                   ("READY", _g("status", "readyReplicas", default="0"))],
    "Endpoints": [("ENDPOINTS", lambda o: ",".join(
        f"{a.get('ip')}:{p.get('port')}" for s in o.get("subsets") or [] for a in s.get("addresses") or []
        for p in s.get("ports") or [{}]) or "<none>")],
    "EndpointSlice": [("ADDRESSTYPE", _g("addressType")), ("PORTS", _slice_ports),
                      ("ENDPOINTS", _slice_endpoints)],
    "RoleBinding": [("ROLE", lambda o: f"{o.get('roleRef', {}).get('kind')}/{o.get('roleRef', {}).get('name')}")],
    "ClusterRoleBinding": [("ROLE", lambda o: f"ClusterRole/{o.get('roleRef', {}).get('name')}")],
    # kubectl: NAME, CREATED AT (RFC 3339, UTC) for roles, not AGE
    "ClusterRole": [("CREATED AT", _g("metadata", "creationTimestamp"))],
    "Role": [("CREATED AT", _g("metadata", "creationTimestamp"))],
    "EgressNetworkPolicy": [("RULES", lambda o: str(len(o.get("spec", {}).get("egress") or [])))],
    "EgressRouter": [("CONDITION", _conditions("type")), ("STATUS", _conditions("status"))],
    "Template": [("DESCRIPTION", lambda o: o["metadata"].get("annotations", {}).get("description", "")),
                 ("OBJECTS", lambda o: str(len(o.get("objects") or [])))],
}
def _egress(o: Obj) -> dict[str, Any]:
    """The master's published egress decision of a NetNamespace (annotation `network.osdn.io/egress`)."""
    try:
        got = json.loads(o["metadata"]["annotations"]["network.osdn.io/egress"])
    except (KeyError, TypeError, ValueError):
        return {}
    return got if isinstance(got, dict) else {}


def _egress_active(o: Obj) -> str:
    e = _egress(o)
    if e.get("action") == "via":
        return f"{e.get('egressIP')}@{e.get('node')}"
    return "dropped" if e.get("action") == "drop" else ""


def _egress_holders(o: Obj) -> str:
    holders = _egress(o).get("holders") or {}
    return ",".join(f"{ip}@{node or '<none>'}" for ip, node in holders.items()) if isinstance(holders, dict) else ""


def _template_columns(selector: Callable[[Obj], str]) -> list[Column]:
    """kubectl's -o wide CONTAINERS, IMAGES, SELECTOR of workloads with a pod template."""
    def containers(o: Obj, field: str) -> str:
        template = (o.get("spec") or {}).get("template") or {}
        return ",".join(str(c.get(field, "")) for c in (template.get("spec") or {}).get("containers") or [])
    return [("CONTAINERS", lambda o: containers(o, "name")), ("IMAGES", lambda o: containers(o, "image")),
            ("SELECTOR", selector)]


def _workload_selector(o: Obj) -> str:
    return str(from_label_selector((o.get("spec") or {}).get("selector"))) or "<none>"


def _gates(o: Obj) -> str:
    """kubectl's READINESS GATES of a pod: TRUE/TOTAL of spec.readinessGates' conditions, <none> without."""
    gates = [g.get("conditionType") for g in (o.get("spec") or {}).get("readinessGates") or []]
    if not gates:
        return "<none>"
    true = {c.get("type") for c in (o.get("status") or {}).get("conditions") or [] if c.get("status") == "True"}
    return f"{sum(1 for g in gates if g in true)}/{len(gates)}"


def _subjects(kind: str) -> Column:
    """kubectl's -o wide USERS, GROUPS, SERVICEACCOUNTS of a (Cluster)RoleBinding."""
    def names(o: Obj) -> str:
        return ", ".join(f"{s.get('namespace', '')}/{s.get('name', '')}" if kind == "ServiceAccount"
                         else str(s.get("name", "")) for s in o.get("subjects") or [] if s.get("kind") == kind)
    return (f"{kind.upper()}S", names)


_BINDING_WIDE = [_subjects("User"), _subjects("Group"), _subjects("ServiceAccount")]
WIDE: dict[str, list[Column]] = {
    "RoleBinding": _BINDING_WIDE,
    "ClusterRoleBinding": _BINDING_WIDE,
    "ReplicationController": _template_columns(lambda o: ",".join(
        f"{k}={v}" for k, v in sorted(((o.get("spec") or {}).get("selector") or {}).items())) or "<none>"),
    "Deployment": _template_columns(_workload_selector),
    "ReplicaSet": _template_columns(_workload_selector),
    "NetNamespace": [("EGRESS", _egress_active), ("HOLDERS", _egress_holders)],
    "Pod": [("IP", _g("status", "podIP", default="<none>")), ("NODE", _g("spec", "nodeName", default="<none>")),
            ("NOMINATED NODE", _g("status", "nominatedNodeName", default="<none>")), ("READINESS GATES", _gates)],
    "Node": [("INTERNAL-IP", _node_ip)],
    "Service": [("SELECTOR", lambda o: ",".join(f"{k}={v}" for k, v in sorted(
        (o.get("spec", {}).get("selector") or {}).items())) or "<none>")],
}
NO_AGE = {"NetNamespace", "HostSubnet", "ClusterNetwork", "Project", "Route", "ClusterOperator", "ClusterRole", "Role"}


def _condition(o: Obj, kind: str) -> Obj:
    return next((c for c in (o.get("status") or {}).get("conditions") or [] if c.get("type") == kind), {})


def _operator_columns(now: float) -> list[Column]:
    """`oc get clusteroperator`: VERSION AVAILABLE PROGRESSING DEGRADED SINCE (Available's last change)."""
    def version(o: Obj) -> str:
        return next((x.get("version", "") for x in (o.get("status") or {}).get("versions") or []
                     if x.get("name") == "operator"), "")
    return [("VERSION", version)] + [
        (kind.upper(), lambda o, k=kind: str(_condition(o, k).get("status", "")))
        for kind in ("Available", "Progressing", "Degraded")] + [
        ("SINCE", lambda o: age(_condition(o, "Available").get("lastTransitionTime"), now)
         if _condition(o, "Available") else "")]


def age(timestamp: str | None, now: float) -> str:
    """kubectl's AGE: duration.HumanDuration since `timestamp` (see cells.human_duration)."""
    return cells.age(timestamp, now)


def columns(info: KindInfo, now: float) -> list[TableColumn]:
    if info.kind == "Event":  # kubectl's event table: no AGE, NAME only with -o wide
        return [TableColumn(h, fn, priority=p) for h, fn, p in cells.event_columns(now)]
    cols = [TableColumn("NAME", lambda o: str(o["metadata"]["name"]), format="name")]
    if info.kind == "Pod":
        cols += [TableColumn(h, fn, priority=p) for h, fn, p in cells.pod_columns(now)]
    cols += [TableColumn(h, fn) for h, fn in COLUMNS.get(info.kind, [])]
    if info.kind == "ClusterOperator":
        cols += [TableColumn(h, fn) for h, fn in _operator_columns(now)]
    if info.kind not in NO_AGE:
        cols.append(TableColumn("AGE", lambda o: age(o["metadata"].get("creationTimestamp"), now)))
    if info.kind == "ResourceQuota":   # kubectl: NAME AGE REQUEST LIMIT
        cols += [TableColumn("REQUEST", lambda o: _quota_cells(o, False)),
                 TableColumn("LIMIT", lambda o: _quota_cells(o, True))]
    cols += [TableColumn(h, fn, priority=1) for h, fn in WIDE.get(info.kind, [])]
    return cols
