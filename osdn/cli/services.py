"""`osdn describe service`: the Service as `oc describe svc` prints it, with its endpoints and events.

Pure: the text from the Service, its EndpointSlices, its Endpoints object (None if there is none) and
its events. As kubectl >= 1.29, the `Endpoints:` line comes from the Service's EndpointSlices (ready
endpoints of the slice ports named as the service port); without any slice (no master running), from
the Endpoints object.
"""

from __future__ import annotations

from typing import Any

from osdn.cli.printers import describe_events

Obj = dict[str, Any]
WIDTH = 19  # label column, as kubectl's describe for services
MAX_ENDPOINTS = 3  # kubectl shows the first three, then "+ N more..."


def _row(label: str, value: object) -> str:
    return f"{label + ':':<{max(WIDTH, len(label) + 3)}}{value}"


def _map(values: dict[str, str] | None, skip: tuple[str, ...] = ()) -> list[str]:
    items = [f"{k}={v}" for k, v in sorted((values or {}).items()) if k not in skip]
    return items or ["<none>"]


def _multi(label: str, items: list[str]) -> list[str]:
    return [_row(label, items[0])] + [" " * WIDTH + i for i in items[1:]]


def endpoint_text(endpoints: Obj | None, port: Obj) -> str:
    """`10.128.0.5:8080,10.129.0.3:8080 + 1 more...` for one service port ("<none>" without any)."""
    name, protocol = port.get("name") or "", port.get("protocol") or "TCP"
    found = [f"{a.get('ip')}:{p.get('port')}" for s in (endpoints or {}).get("subsets") or []
             for p in s.get("ports") or [] if (p.get("name") or "") == name and (p.get("protocol") or "TCP") == protocol
             for a in s.get("addresses") or []]
    if not found:
        return "<none>"
    more = len(found) - MAX_ENDPOINTS
    return ",".join(found[:MAX_ENDPOINTS]) + (f" + {more} more..." if more > 0 else "")


def slice_endpoint_text(slices: list[Obj], port: Obj) -> str:
    """kubectl's formatEndpointSlices for one service port: ready endpoints only, `+ N more...`."""
    name = port.get("name") or ""
    found = [f"{e['addresses'][0]}:{p.get('port')}" if p is not None else str(e["addresses"][0])
             for s in slices for p in (s.get("ports") or [None]) if p is None or (p.get("name") or "") == name
             for e in s.get("endpoints") or [] if e.get("addresses")
             and (e.get("conditions") or {}).get("ready") is not False]
    more = len(found) - MAX_ENDPOINTS
    return ",".join(found[:MAX_ENDPOINTS]) + (f" + {more} more..." if more > 0 else "")


def describe_service(svc: Obj, endpoints: Obj | None, events: list[Obj], now: Any,
                     slices: list[Obj] | None = None) -> str:
    """Pure: the describe text."""
    meta, spec = svc.get("metadata") or {}, svc.get("spec") or {}
    lines = [_row("Name", meta.get("name")), _row("Namespace", meta.get("namespace"))]
    lines += _multi("Labels", _map(meta.get("labels")))
    lines += _multi("Annotations", _map(meta.get("annotations"), ("kubectl.kubernetes.io/last-applied-configuration",)))
    lines.append(_row("Selector", ",".join(_map(spec.get("selector")))))
    lines.append(_row("Type", spec.get("type") or "ClusterIP"))
    if spec.get("ipFamilyPolicy"):
        lines.append(_row("IP Family Policy", spec["ipFamilyPolicy"]))
    if spec.get("ipFamilies"):
        lines.append(_row("IP Families", ",".join(spec["ipFamilies"])))
    lines.append(_row("IP", spec.get("clusterIP") or "<none>"))
    lines.append(_row("IPs", ",".join(spec.get("clusterIPs") or [spec.get("clusterIP") or "<none>"])))
    if spec.get("externalIPs"):
        lines.append(_row("External IPs", ",".join(spec["externalIPs"])))
    for port in spec.get("ports") or []:
        protocol = port.get("protocol") or "TCP"
        lines.append(_row("Port", f"{port.get('name') or '<unset>'}  {port.get('port')}/{protocol}"))
        lines.append(_row("TargetPort", f"{port.get('targetPort', port.get('port'))}/{protocol}"))
        lines.append(_row("Endpoints", slice_endpoint_text(slices, port) if slices else endpoint_text(endpoints, port)))
    lines.append(_row("Session Affinity", spec.get("sessionAffinity") or "None"))
    timeout = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get("timeoutSeconds")
    if spec.get("sessionAffinity") == "ClientIP" and timeout:
        lines.append(_row("Session Affinity Timeout", f"{timeout}s"))
    lines += describe_events(events, now)
    return "\n".join(lines)
