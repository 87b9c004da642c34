"""Kinds of group 'network.openshift.io' (v1): NetNamespace, HostSubnet, EgressNetworkPolicy and
ClusterNetwork (in `kinds/clusternetwork.py`). Models, defaulting and validation. Pure.

Rules and messages follow origin 3.x `pkg/network/apis/network/validation/validation.go`
(see reference/openshift-sdn.md §2, §3, §5).
"""

from __future__ import annotations

from pydantic import Field

from osdn.api import validation as v
from osdn.api.kinds import Hooks
from osdn.api.kinds.clusternetwork import (
    ClusterNetwork,
    ClusterNetworkEntry,
    default_cluster_network,
    validate_cluster_network,
)
from osdn.api.kinds.meta import KubeModel, Obj, TypedObject, parse_strict, set_default, sub
from osdn.errors import FieldError

__all__ = ["ClusterNetwork", "ClusterNetworkEntry", "EgressNetworkPolicy", "EgressNetworkPolicyPeer",
           "EgressNetworkPolicyRule", "EgressNetworkPolicySpec", "HOOKS", "HostSubnet", "NetNamespace"]

GLOBAL_VNID, MIN_VNID, MAX_VNID = 0, 10, 2 ** 24 - 1
MAX_EGRESS_RULES = 50
EGRESS_TYPES = ("Allow", "Deny")
ASSIGN_SUBNET_ANNOTATION = "pod.network.openshift.io/assign-subnet"
FIXED_VNID_HOST_ANNOTATION = "pod.network.openshift.io/fixed-vnid-host"
NODE_UID_ANNOTATION = "pod.network.openshift.io/node-uid"
CHANGE_NETWORK_ANNOTATION = "pod.network.openshift.io/multitenant.change-network"
MULTICAST_ANNOTATION = "netnamespace.network.openshift.io/multicast-enabled"


class NetNamespace(TypedObject):
    netname: str | None = None
    netid: int | None = None
    egress_ips: list[str] | None = Field(None, alias="egressIPs")

    @property
    def multicast_enabled(self) -> bool:
        return (self.metadata.annotations or {}).get(MULTICAST_ANNOTATION) == "true"


class HostSubnet(TypedObject):
    host: str | None = None
    host_ip: str | None = Field(None, alias="hostIP")
    subnet: str | None = None
    egress_ips: list[str] | None = Field(None, alias="egressIPs")
    egress_cidrs: list[str] | None = Field(None, alias="egressCIDRs")


class EgressNetworkPolicyPeer(KubeModel):
    cidr_selector: str | None = None
    dns_name: str | None = None


class EgressNetworkPolicyRule(KubeModel):
    type: str | None = None
    to: EgressNetworkPolicyPeer | None = None


class EgressNetworkPolicySpec(KubeModel):
    egress: list[EgressNetworkPolicyRule] | None = None


class EgressNetworkPolicy(TypedObject):
    spec: EgressNetworkPolicySpec | None = None


# ---- NetNamespace

def default_netnamespace(obj: Obj) -> None:
    meta = sub(obj, "metadata")
    if meta is not None and isinstance(meta.get("name"), str):
        set_default(obj, "netname", meta["name"])


def vnid_problem(netid: int) -> str | None:
    if netid == GLOBAL_VNID:
        return None
    if netid < MIN_VNID:
        return f"VNID must be greater than or equal to {MIN_VNID}"
    if netid > MAX_VNID:
        return f"VNID must be less than or equal to {MAX_VNID}"
    return None


def _ipv4_problem(value: str) -> str | None:
    """The reference's `validateIPv4` wording: "invalid IP address", or "must be an IPv4 address"."""
    ip = v.parse_ip(value)
    if ip is None:
        return "invalid IP address"
    return None if ip.version == 4 else "must be an IPv4 address"


def _validate_ipv4_list(values: list[str] | None, path: str) -> list[FieldError]:
    return [v.invalid(f"{path}[{i}]", ip, problem) for i, ip in enumerate(values or [])
            if (problem := _ipv4_problem(ip))]


def validate_netnamespace(obj: Obj, old: Obj | None) -> list[FieldError]:
    ns, errs = parse_strict(NetNamespace, obj)
    if ns is None:
        return errs
    if ns.netname != ns.metadata.name:
        errs.append(v.invalid("netname", ns.netname, f'must be the same as metadata.name: "{ns.metadata.name}"'))
    problem = vnid_problem(ns.netid) if ns.netid is not None else None
    if problem:
        errs.append(v.invalid("netid", ns.netid, problem))
    return errs + _validate_ipv4_list(ns.egress_ips, "egressIPs")


# ---- HostSubnet

def default_hostsubnet(obj: Obj) -> None:
    meta = sub(obj, "metadata")
    if meta is not None and isinstance(meta.get("name"), str):
        set_default(obj, "host", meta["name"])


def _validate_subnet(hs: HostSubnet, old: Obj | None) -> list[FieldError]:
    if ASSIGN_SUBNET_ANNOTATION in (hs.metadata.annotations or {}) and not hs.subnet:
        return []
    if not hs.subnet:
        return [v.required("subnet", "field cannot be empty")]
    errs = v.validate_cidr(hs.subnet, "subnet")
    before = old.get("subnet") if isinstance(old, dict) else None
    if before and hs.subnet != before:
        errs.append(v.invalid("subnet", hs.subnet, "cannot change the subnet lease midflight."))
    return errs


def validate_hostsubnet(obj: Obj, old: Obj | None) -> list[FieldError]:
    hs, errs = parse_strict(HostSubnet, obj)
    if hs is None:
        return errs
    if hs.host != hs.metadata.name:
        errs.append(v.invalid("host", hs.host, f'must be the same as metadata.name: "{hs.metadata.name}"'))
    errs += _validate_subnet(hs, old)
    if not hs.host_ip:
        errs.append(v.required("hostIP"))
    elif _ipv4_problem(hs.host_ip):
        errs.append(v.invalid("hostIP", hs.host_ip, "invalid IP address"))
    errs += _validate_ipv4_list(hs.egress_ips, "egressIPs")
    for i, cidr in enumerate(hs.egress_cidrs or []):
        errs += v.validate_cidr(cidr, f"egressCIDRs[{i}]")
    return errs


# ---- EgressNetworkPolicy

def _validate_egress_peer(to: EgressNetworkPolicyPeer | None, path: str) -> list[FieldError]:
    """As the reference: 'not both' does not hide a bad cidrSelector or dnsName (each is still checked)."""
    if to is None or (not to.cidr_selector and not to.dns_name):
        return [v.required(path, "must specify cidrSelector or dnsName")]
    errs: list[FieldError] = []
    if to.cidr_selector and to.dns_name:
        errs.append(v.invalid(path, to.to_obj(), "either specify cidrSelector or dnsName but not both"))
    if to.cidr_selector:
        errs += v.validate_cidr(to.cidr_selector, f"{path}.cidrSelector")
    if to.dns_name:
        errs += _validate_dns_name(to.dns_name, f"{path}.dnsName")
    return errs


def _validate_dns_name(dns_name: str, path: str) -> list[FieldError]:
    """As origin: a DNS-1123 subdomain, so `*.example.com` is refused (a final dot is allowed, as the 4.x CRD)."""
    if not v.is_dns1123_subdomain(dns_name.removesuffix(".")):
        return [v.invalid(path, dns_name, "must conform to DNS 952 subdomain conventions")]
    return []


def validate_egress_network_policy(obj: Obj, old: Obj | None) -> list[FieldError]:
    policy, errs = parse_strict(EgressNetworkPolicy, obj)
    if policy is None:
        return errs
    rules = (policy.spec.egress if policy.spec else None) or []
    if len(rules) > MAX_EGRESS_RULES:
        errs.append(v.too_many("spec.egress", f"too many egress rules (max {MAX_EGRESS_RULES})"))
    for i, rule in enumerate(rules):
        if rule.type not in EGRESS_TYPES:
            errs.append(v.invalid(f"spec.egress[{i}].type", rule.type, "invalid policy type"))
        errs += _validate_egress_peer(rule.to, f"spec.egress[{i}].to")
    return errs


HOOKS: dict[str, Hooks] = {
    "ClusterNetwork": Hooks(ClusterNetwork, default_cluster_network, validate_cluster_network),
    "HostSubnet": Hooks(HostSubnet, default_hostsubnet, validate_hostsubnet),
    "NetNamespace": Hooks(NetNamespace, default_netnamespace, validate_netnamespace),
    "EgressNetworkPolicy": Hooks(EgressNetworkPolicy, None, validate_egress_network_policy),
}
