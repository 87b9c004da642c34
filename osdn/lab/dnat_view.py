"""The DNAT step the kernel took for a traced connection to a service, next to the model's endpoints.

Role: after online `osdn adm trace` probed a connection to a service ClusterIP, read the conntrack
entry of that very attempt (original destination ClusterIP:port, original source port = the probe's)
in the namespace of the node the source lives on, where osdn's service rules DNAT it. The entry's
reply tuple names the endpoint the kernel chose (`svc_backends` map: random slot, or the affinity
entry); it is compared with the model's endpoints of the service. No entry means the kernel never
committed a DNAT for the attempt: a service without endpoints is rejected before conntrack confirms
the flow, and a packet dropped on that node (policy, isolation) leaves none either.

Pure: `plan_dnat_lookup`, `find_dnat`, `render_dnat`, `dnat_to_dict`. `observe_dnat` reads conntrack.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from osdn.errors import KernelError
from osdn.kernel import conntrack
from osdn.model.verdict import NODE, SERVICE, Connection

Obj = Mapping[str, Any]


@dataclass(frozen=True)
class ModelEndpoint:
    """One endpoint the model load-balances the service connection to."""

    ip: str
    port: int
    name: str       # the model's description: `pod shop/web1 (10.128.0.5)`


@dataclass(frozen=True)
class DnatView:
    """What conntrack on `node` says about the probe: `endpoint` ("ip:port") or "" when no entry."""

    node: str
    service: str    # "vip:port"
    endpoint: str
    model: tuple[ModelEndpoint, ...]

    @property
    def chosen(self) -> ModelEndpoint | None:
        return next((m for m in self.model if f"{m.ip}:{m.port}" == self.endpoint), None)


@dataclass(frozen=True)
class DnatLookup:
    node: str
    netns: str


def plan_dnat_lookup(conn: Connection, pods: Sequence[Obj],
                     node_netns: Mapping[str, str]) -> DnatLookup | str | None:
    """Pure: where the DNAT of `conn` happens (the source's node namespace), why it cannot be read,
    or None when `conn` is not to a service."""
    if conn.dst.kind != SERVICE:
        return None
    node = conn.src.node if conn.src.kind == NODE else None
    if conn.src.pod and node is None:
        pod = next((p for p in pods if _key(p) == conn.src.pod), None)
        node = str(((pod or {}).get("spec") or {}).get("nodeName") or "") or None
    if node is None or node not in node_netns:
        return f"{conn.src.describe()}: its node's namespace is not in a local lab"
    return DnatLookup(node, node_netns[node])


def _key(pod: Obj) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace') or 'default'}/{meta.get('name', '')}"


def find_dnat(flows: Sequence[conntrack.Flow], vip: str, vport: int, sport: int) -> str:
    """Pure: "ip:port" the probe's flow (to vip:vport from source port `sport`) was DNATed to, or ""."""
    for flow in flows:
        _src, dst, fsport, fdport = flow.orig
        if dst == vip and fdport == vport and fsport == sport:
            return f"{flow.reply[0]}:{flow.reply[2]}"
    return ""


def observe_dnat(lookup: DnatLookup, conn: Connection, sport: int,
                 model: tuple[ModelEndpoint, ...]) -> DnatView | str:
    """Read the probe's conntrack entry on the source's node; a sentence when conntrack cannot be read."""
    vip = str(conn.dst.ip)
    try:
        flows = conntrack.observe_flows(lookup.netns, conn.protocol, vip)
    except (KernelError, OSError) as exc:
        return f"conntrack on {lookup.node} could not be read: {exc}"
    return DnatView(lookup.node, f"{vip}:{conn.port}", find_dnat(flows, vip, conn.port, sport), model)


def render_dnat(view: DnatView | str) -> list[str]:
    """Pure: the DNAT lines of the kernel view."""
    if isinstance(view, str):
        return [f"  DNAT: unknown ({view})"]
    if not view.endpoint:
        return [f"  DNAT: none on {view.node} (no conntrack entry for the attempt: rejected or dropped "
                "before the flow was committed)"]
    chosen = view.chosen
    where = f"{chosen.name}, one of the model's {len(view.model)} endpoint(s)" if chosen else \
        f"NOT one of the model's {len(view.model)} endpoint(s)"
    return [f"  DNAT on {view.node} (conntrack): {view.service} -> {view.endpoint} ({where})"]


def dnat_to_dict(view: DnatView | str) -> dict[str, Any]:
    """Pure: the `dnat` key of `adm trace -o json`'s kernel view."""
    if isinstance(view, str):
        return {"read": False, "unavailable": view}
    chosen = view.chosen
    return {"read": True, "node": view.node, "service": view.service, "endpoint": view.endpoint or None,
            "endpointName": chosen.name if chosen else None, "inModel": chosen is not None if view.endpoint else None,
            "modelEndpoints": [f"{m.ip}:{m.port}" for m in view.model]}
