"""ExternalIPRanger admission: which Service `spec.externalIPs` may be set (CVE-2020-8554).

A node forwards traffic to every externalIP:port of every Service to that Service's endpoints, from
pods, from the node itself and from outside. So whoever may set an externalIP may intercept the
traffic of any address (another tenant's, a node's, an outside server's) seen by a node. As
OpenShift's ExternalIPRanger (3.x `networkConfig.externalIPNetworkCIDRs`, 4.x `Network cluster`
`spec.externalIP.policy`), the policy of `Network cluster` (`osdn.api.kinds.operator`) decides, on
every create and update of a Service, for every user, cluster admins included:
- no allowedCIDRs (no policy, `policy: {}`, only rejectedCIDRs): no externalIP at all, refused with
  `spec.externalIPs: Forbidden: externalIPs have been disabled`;
- else each address must be inside an allowed CIDR and outside every rejected CIDR (rejected wins),
  refused with `spec.externalIPs[i]: Forbidden: externalIP is not allowed` (and the address).
The refusal is a 422 Invalid naming the Service, as upstream's. Upstream 4.x also lets users who may
`create` `service/externalips` (network.openshift.io) bypass the ranges; osdn has no such escape.
The policy is read from the store at each request, so an edit applies to the next write at once;
stored Services are not re-checked (as upstream).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from osdn.api.kinds.operator import NETWORK_NAME, external_ip_policy
from osdn.api.registry import by_kind
from osdn.apiserver.admission import AdmissionContext
from osdn.apiserver.resources import key_of
from osdn.errors import FieldError, NotFoundError, ObjectRef, ValidationError
from osdn.store import Store

DISABLED = "externalIPs have been disabled"
NOT_ALLOWED = "externalIP is not allowed"


def _nets(cidrs: Sequence[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(c, strict=False) for c in cidrs]


def external_ip_errors(ips: Sequence[str], allowed: Sequence[str], rejected: Sequence[str]) -> list[FieldError]:
    """Pure: the refusals of `ips` (a Service's spec.externalIPs) under the allowed and rejected CIDRs."""
    if not ips:
        return []
    if not allowed:
        return [FieldError("spec.externalIPs", f"Forbidden: {DISABLED}", "FieldValueForbidden")]
    admit, reject = _nets(allowed), _nets(rejected)
    errs = []
    for i, text in enumerate(ips):
        try:
            ip = ipaddress.ip_address(text)
        except ValueError:
            errs.append(FieldError(f"spec.externalIPs[{i}]", "Forbidden: externalIPs must be a valid address",
                                   "FieldValueForbidden"))
            continue
        if any(ip in n for n in reject) or not any(ip in n for n in admit):
            where = ("is in spec.externalIP.policy.rejectedCIDRs" if any(ip in n for n in reject)
                     else "is not in spec.externalIP.policy.allowedCIDRs")
            errs.append(FieldError(f"spec.externalIPs[{i}]", f"Forbidden: {NOT_ALLOWED}: {text} {where} "
                                   f'of Network "{NETWORK_NAME}"', "FieldValueForbidden"))
    return errs


def read_policy(store: Store) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(allowedCIDRs, rejectedCIDRs) of the stored `Network cluster` (none: nothing allowed)."""
    try:
        network = store.get(key_of(by_kind("Network"), "", NETWORK_NAME))
    except NotFoundError:
        return (), ()
    return external_ip_policy(network)


class ExternalIPRanger:
    name = "ExternalIPRanger"

    def admit(self, ctx: AdmissionContext) -> None:
        if ctx.info.kind != "Service" or ctx.operation not in ("CREATE", "UPDATE") or ctx.subresource:
            return
        ips = (ctx.obj.get("spec") or {}).get("externalIPs") or []
        if not isinstance(ips, list) or not ips:
            return
        errs = external_ip_errors([str(ip) for ip in ips], *read_policy(ctx.store))
        if errs:
            meta = ctx.obj.get("metadata") or {}
            ref = ObjectRef("Service", str(meta.get("name") or ""), str(meta.get("namespace") or ""))
            raise ValidationError.of(ref, errs)
