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
WIDTH = 19  # label column, as kubectl's describe for services (its tabwriter widens it for longer labels)
TRAFFIC_POLICY = "External Traffic Policy"
MAX_ENDPOINTS = 3  # kubectl shows the first three, then "+ N more..."


def _row(label: str, value: object, width: int = WIDTH) -> str:
    return f"{label + ':':<{max(width, len(label) + 3)}}{value}"


def _map(values: dict[str, str] | None, skip: tuple[str, ...] = ()) -> list[str]:
    items = [f"{k}={v}" for k, v in sorted((values or {}).items()) if k not in skip]
    return items or ["<none>"]


def _multi(label: str, items: list[str], width: int = WIDTH) -> list[str]:
    return [_row(label, items[0], width)] + [" " * width + i for i in items[1:]]


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


def _port_rows(port: Obj, endpoints: Obj | None, slices: list[Obj] | None, w: int) -> list[str]:
    """Port, TargetPort, NodePort (if any) and Endpoints of one service port, as kubectl."""
    protocol, name = port.get("protocol") or "TCP", port.get("name") or "<unset>"
    rows = [_row("Port", f"{name}  {port.get('port')}/{protocol}", w),
            _row("TargetPort", f"{port.get('targetPort', port.get('port'))}/{protocol}", w)]
    if port.get("nodePort"):
        rows.append(_row("NodePort", f"{name}  {port['nodePort']}/{protocol}", w))
    rows.append(_row("Endpoints", slice_endpoint_text(slices, port) if slices else endpoint_text(endpoints, port), w))
    return rows


def describe_service(svc: Obj, endpoints: Obj | None, events: list[Obj], now: Any,
                     slices: list[Obj] | None = None) -> str:
    """Pure: the describe text."""
    meta, spec = svc.get("metadata") or {}, svc.get("spec") or {}
    w = len(TRAFFIC_POLICY) + 3 if spec.get("externalTrafficPolicy") else WIDTH
    lines = [_row("Name", meta.get("name"), w), _row("Namespace", meta.get("namespace"), w)]
    lines += _multi("Labels", _map(meta.get("labels")), w)
    lines += _multi("Annotations", _map(meta.get("annotations"), ("kubectl.kubernetes.io/last-applied-configuration",)), w)
    lines.append(_row("Selector", ",".join(_map(spec.get("selector"))), w))
    lines.append(_row("Type", spec.get("type") or "ClusterIP", w))
    if spec.get("ipFamilyPolicy"):
        lines.append(_row("IP Family Policy", spec["ipFamilyPolicy"], w))
    if spec.get("ipFamilies"):
        lines.append(_row("IP Families", ",".join(spec["ipFamilies"]), w))
    lines.append(_row("IP", spec.get("clusterIP") or "<none>", w))
    lines.append(_row("IPs", ",".join(spec.get("clusterIPs") or [spec.get("clusterIP") or "<none>"]), w))
    if spec.get("externalIPs"):
        lines.append(_row("External IPs", ",".join(spec["externalIPs"]), w))
    for port in spec.get("ports") or []:
        lines += _port_rows(port, endpoints, slices, w)
    lines.append(_row("Session Affinity", spec.get("sessionAffinity") or "None", w))
    if spec.get("externalTrafficPolicy"):
        lines.append(_row(TRAFFIC_POLICY, spec["externalTrafficPolicy"], w))
    timeout = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get("timeoutSeconds")
    if spec.get("sessionAffinity") == "ClientIP" and timeout:
        lines.append(_row("Session Affinity Timeout", f"{timeout}s"))
    lines += describe_events(events, now) if events else [_row("Events", "<none>", w)]  # aligned, as kubectl's
    return "\n".join(lines)
