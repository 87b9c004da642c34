"""Egress IP admission: refuse up front what the data path could only drop later.

Checked when a write changes egress fields (so the master's own annotation writes are never judged):
- NetNamespace `egressIPs`: an IP equal to a node's IP (HostSubnet hostIP or Node InternalIP), or an
  IP another project (another NetID) already requests.
- HostSubnet `egressIPs` / `egressCIDRs`:
  - manual and automatic mixed on one node: a node with `egressCIDRs` whose `egressIPs` hold an IP
    outside them (the master only ever places IPs inside them; seed: "You cannot use manually
    assigned and automatically assigned egress IP addresses on the same nodes"); and, across nodes,
    a manual IP inside another node's `egressCIDRs` ("If you manually assign egress IP addresses from
    an IP address range, you must not make that range available for automatic IP assignment");
  - an IP or CIDR outside the node's underlay network (the agent publishes it on its Node as the
    annotation `network.osdn.io/egress-ipconfig`; a node that has not yet gets a warning);
  - an IP equal to a node's IP, and a manual IP already on another node.
  Writes to a node with `egressCIDRs` that only move IPs inside them (the master's) are checked for
  mixing and the underlay network only.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable
from typing import Any

from osdn.apiserver.admission import AdmissionContext
from osdn.errors import FieldError, ObjectRef, ValidationError

Obj = dict[str, Any]
NETNS = "netnamespaces.network.openshift.io"
HOSTSUBNETS = "hostsubnets.network.openshift.io"
NODES = "nodes"
IPCONFIG_ANNOTATION = "network.osdn.io/egress-ipconfig"
Net = ipaddress.IPv4Network


def _nets(cidrs: Iterable[str]) -> list[Net]:
    out = []
    for c in cidrs:
        try:
            out.append(ipaddress.IPv4Network(c, strict=False))
        except ValueError:
            continue  # the kind's validation names it
    return out


def _inside(ip: str, nets: Iterable[Net]) -> bool:
    try:
        addr = ipaddress.IPv4Address(ip)
    except ValueError:
        return False
    return any(addr in n for n in nets)


def node_ips(hostsubnets: Iterable[Obj], nodes: Iterable[Obj]) -> dict[str, str]:
    """Pure: node IP -> node name, from HostSubnets (hostIP) and Nodes (InternalIP)."""
    out = {str(h["hostIP"]): str(h.get("host") or h["metadata"]["name"]) for h in hostsubnets if h.get("hostIP")}
    for n in nodes:
        for a in (n.get("status") or {}).get("addresses") or []:
            if a.get("type") == "InternalIP" and a.get("address"):
                out.setdefault(str(a["address"]), n["metadata"]["name"])
    return out


def underlay_network(node: Obj | None) -> Net | None:
    """Pure: the underlay network the node's agent published (None: not yet, or unreadable)."""
    text = (((node or {}).get("metadata") or {}).get("annotations") or {}).get(IPCONFIG_ANNOTATION)
    if not isinstance(text, str):
        return None
    try:
        return ipaddress.IPv4Network(json.loads(text)[0]["ifaddr"]["ipv4"], strict=False)
    except (TypeError, ValueError, KeyError, IndexError):
        return None


def netnamespace_problems(obj: Obj, others: Iterable[Obj], nips: dict[str, str]) -> list[FieldError]:
    """Pure: why a NetNamespace's egressIPs are refused (node IPs, another project's IPs)."""
    netid = obj.get("netid")
    taken = {ip: o["metadata"]["name"] for o in others if o.get("netid") != netid
             and o["metadata"]["name"] != obj["metadata"]["name"] for ip in o.get("egressIPs") or []}
    errs = []
    for i, ip in enumerate(obj.get("egressIPs") or []):
        path = f"egressIPs[{i}]"
        if ip in nips:
            errs.append(FieldError(path, f'Invalid value: "{ip}": is the IP of node {nips[ip]}; an egress IP '
                                         "must be an extra address of a node"))
        elif ip in taken:
            errs.append(FieldError(path, f'Invalid value: "{ip}": already requested by project {taken[ip]} '
                                         "(an egress IP belongs to one project)", "FieldValueDuplicate"))
    return errs


def hostsubnet_problems(obj: Obj, others: Iterable[Obj], nips: dict[str, str], underlay: Net | None,
                        master_move: bool) -> list[FieldError]:
    """Pure: why a HostSubnet's egressIPs/egressCIDRs are refused (see the module doc)."""
    name = obj["metadata"]["name"]
    ips, cidrs = list(obj.get("egressIPs") or []), _nets(obj.get("egressCIDRs") or [])
    others = [o for o in others if o["metadata"]["name"] != name]
    errs = []
    for i, ip in enumerate(ips):
        path = f"egressIPs[{i}]"
        if cidrs and not _inside(ip, cidrs):
            errs.append(FieldError(path, f'Invalid value: "{ip}": node {name} has egressCIDRs (automatic '
                                         "assignment); manual and automatic egress IPs cannot be mixed on one node",
                                   "FieldValueForbidden"))
        elif underlay is not None and not _inside(ip, [underlay]):
            errs.append(FieldError(path, f'Invalid value: "{ip}": not in node {name}\'s network {underlay}'))
        elif master_move:
            continue
        elif ip in nips:
            errs.append(FieldError(path, f'Invalid value: "{ip}": is the IP of node {nips[ip]}'))
        elif not cidrs:
            errs += _manual_clashes(path, ip, others)
    for i, net in enumerate(cidrs):
        if underlay is not None and not net.subnet_of(underlay):
            errs.append(FieldError(f"egressCIDRs[{i}]", f'Invalid value: "{net}": not in node {name}\'s network '
                                                        f"{underlay}"))
        manual = sorted(f"{ip} on node {o['metadata']['name']}" for o in others if not o.get("egressCIDRs")
                        for ip in o.get("egressIPs") or [] if _inside(ip, [net]))
        if manual and not master_move:
            errs.append(FieldError(f"egressCIDRs[{i}]", f'Invalid value: "{net}": holds manually assigned egress '
                                   f"IPs ({', '.join(manual)}); a range used manually cannot be automatic",
                                   "FieldValueForbidden"))
    return errs


def _manual_clashes(path: str, ip: str, others: list[Obj]) -> list[FieldError]:
    for o in others:
        other = o["metadata"]["name"]
        if ip in (o.get("egressIPs") or []):
            return [FieldError(path, f'Invalid value: "{ip}": already assigned to node {other}',
                               "FieldValueDuplicate")]
        if _inside(ip, _nets(o.get("egressCIDRs") or [])):
            return [FieldError(path, f'Invalid value: "{ip}": inside egressCIDRs of node {other} (automatic '
                                     "assignment); manual and automatic egress IPs cannot share a range",
                               "FieldValueForbidden")]
    return []


def _egress(obj: Obj | None) -> tuple[Any, Any]:
    return (list((obj or {}).get("egressIPs") or []), list((obj or {}).get("egressCIDRs") or []))


class EgressIPAdmission:
    name = "EgressIPAdmission"

    def admit(self, ctx: AdmissionContext) -> None:
        kind = ctx.info.kind
        if kind not in ("NetNamespace", "HostSubnet") or ctx.operation not in ("CREATE", "UPDATE"):
            return
        if _egress(ctx.obj) == _egress(ctx.old) or _egress(ctx.obj) == ([], []):
            return
        hostsubnets = [o for o, _ in ctx.store.list(HOSTSUBNETS)[0]]
        nodes = [o for o, _ in ctx.store.list(NODES)[0]]
        nips = node_ips(hostsubnets, nodes)
        name = ctx.obj["metadata"]["name"]
        if kind == "NetNamespace":
            errs = netnamespace_problems(ctx.obj, [o for o, _ in ctx.store.list(NETNS)[0]], nips)
        else:
            node = next((n for n in nodes if n["metadata"]["name"] == name), None)
            underlay = underlay_network(node)
            if underlay is None and ctx.obj.get("egressIPs"):
                ctx.warnings.add(f"node {name} has not published its underlay network yet "
                                 f"({IPCONFIG_ANNOTATION}); its agent checks the egress IPs when it adds them")
            cidrs = _nets(ctx.obj.get("egressCIDRs") or [])
            master_move = bool(cidrs) and _egress(ctx.obj)[1] == _egress(ctx.old)[1]
            errs = hostsubnet_problems(ctx.obj, hostsubnets, nips, underlay, master_move)
        if errs:
            raise ValidationError.of(ObjectRef(kind, name, group=ctx.info.group), errs)
