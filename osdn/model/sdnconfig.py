"""The cluster network configuration: `NetworkConfig` parsed from the ClusterNetwork `default` object.

Pure: no I/O, no clock. `parse_network_config` either returns a complete, validated, immutable
`NetworkConfig` or raises `ValidationError` listing every problem (kube-style field paths, messages
as in openshift-sdn's validation). Invariants of a parsed config: every CIDR is canonical IPv4; cluster
networks overlap neither each other nor the service network; each host subnet length is in
[2, 32 - prefixlen]; vxlanPort in [1, 65535]; mtu in [576, 65536].
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from osdn.errors import FieldError, ObjectRef, ValidationError

DEFAULT_VXLAN_PORT = 4789
DEFAULT_MTU = 1450


class Mode(StrEnum):
    """Network plugin mode; the value is the short name, `plugin_name` the ClusterNetwork spelling."""

    SUBNET = "subnet"
    MULTITENANT = "multitenant"
    NETWORKPOLICY = "networkpolicy"

    @property
    def plugin_name(self) -> str:
        return f"redhat/openshift-ovs-{self.value}"

    @property
    def plugin_id(self) -> int:
        return {Mode.SUBNET: 0, Mode.MULTITENANT: 1, Mode.NETWORKPOLICY: 2}[self]


def parse_mode(plugin_name: str) -> Mode | None:
    """`redhat/openshift-ovs-multitenant` or `multitenant` -> Mode.MULTITENANT; unknown -> None."""
    name = plugin_name.strip().lower().removeprefix("redhat/openshift-ovs-")
    try:
        return Mode(name)
    except ValueError:
        return None


@dataclass(frozen=True)
class ClusterNetworkEntry:
    cidr: ipaddress.IPv4Network
    host_subnet_length: int          # bits of the host part: 9 -> each node gets a /23

    @property
    def node_prefixlen(self) -> int:
        return 32 - self.host_subnet_length


@dataclass(frozen=True)
class NetworkConfig:
    mode: Mode
    cluster_networks: tuple[ClusterNetworkEntry, ...]
    service_network: ipaddress.IPv4Network
    vxlan_port: int = DEFAULT_VXLAN_PORT
    mtu: int = DEFAULT_MTU

    @property
    def supports_vnids(self) -> bool:
        """Only multitenant and networkpolicy give namespaces NetIDs (and egress IPs / firewalls)."""
        return self.mode in (Mode.MULTITENANT, Mode.NETWORKPOLICY)

    @property
    def allows_renumbering(self) -> bool:
        """Only multitenant honours the change-network annotation (join / isolate / global)."""
        return self.mode is Mode.MULTITENANT

    def contains_pod_ip(self, ip: str) -> bool:
        addr = ipaddress.IPv4Address(ip)
        return any(addr in entry.cidr for entry in self.cluster_networks)

    def contains_service_ip(self, ip: str) -> bool:
        return ipaddress.IPv4Address(ip) in self.service_network


def check_mode_change(old: NetworkConfig | None, new: NetworkConfig) -> str | None:
    """Error message if a running cluster (old config stored) would switch plugin mode, else None."""
    if old is None or old.mode is new.mode:
        return None
    return ("changing the network plugin of a running cluster is not supported: "
            f"ClusterNetwork \"default\" has pluginName {old.mode.plugin_name!r} ({old.mode.value}), "
            f"the new configuration asks for {new.mode.plugin_name!r} ({new.mode.value}); "
            "restore the old pluginName or rebuild the cluster network")


def parse_network_config(obj: dict[str, Any]) -> NetworkConfig:
    """Parse and validate a kube-style ClusterNetwork dict; raises ValidationError with all causes."""
    errs: list[FieldError] = []
    mode = parse_mode(str(obj.get("pluginName") or ""))
    if mode is None:
        errs.append(FieldError("pluginName", f"unsupported network plugin {obj.get('pluginName')!r} "
                               "(expected subnet, multitenant or networkpolicy, optionally prefixed "
                               "with redhat/openshift-ovs-)", "FieldValueNotSupported"))
    entries = _cluster_networks(obj, errs)
    service = _cidr(obj.get("serviceNetwork"), "serviceNetwork", errs)
    _check_overlaps(entries, service, errs)
    vxlan_port = _int_in(obj, "vxlanPort", DEFAULT_VXLAN_PORT, 1, 65535, errs)
    mtu = _int_in(obj, "mtu", DEFAULT_MTU, 576, 65536, errs)
    if errs or mode is None or service is None:
        ref = ObjectRef("ClusterNetwork", str((obj.get("metadata") or {}).get("name", "default")))
        raise ValidationError.of(ref, errs or [FieldError("serviceNetwork", "required value")])
    return NetworkConfig(mode, tuple(entries), service, vxlan_port, mtu)


def _cluster_networks(obj: dict[str, Any], errs: list[FieldError]) -> list[ClusterNetworkEntry]:
    raw = obj.get("clusterNetworks") or []
    if not raw and obj.get("network"):           # legacy-only object
        raw = [{"CIDR": obj.get("network"), "hostSubnetLength": obj.get("hostsubnetlength")}]
    if not raw:
        errs.append(FieldError("clusterNetworks", "must specify at least one cluster network", "FieldValueRequired"))
    entries: list[ClusterNetworkEntry] = []
    for i, item in enumerate(raw):
        path = f"clusterNetworks[{i}]"
        cidr = _cidr(item.get("CIDR"), f"{path}.CIDR", errs)
        length = item.get("hostSubnetLength")
        if cidr is None:
            continue
        if not isinstance(length, int) or isinstance(length, bool):
            errs.append(FieldError(f"{path}.hostSubnetLength", f"must be an integer, got {length!r}"))
        elif length > 32 - cidr.prefixlen:
            errs.append(FieldError(f"{path}.hostSubnetLength",
                                   f"subnet length is too large for clusterNetwork {cidr} ({length} > {32 - cidr.prefixlen})"))
        elif length < 2:
            errs.append(FieldError(f"{path}.hostSubnetLength", f"subnet length must be at least 2 (got {length})"))
        else:
            entries.append(ClusterNetworkEntry(cidr, length))
    _check_legacy(obj, entries, errs)
    return entries


def _check_legacy(obj: dict[str, Any], entries: list[ClusterNetworkEntry], errs: list[FieldError]) -> None:
    if not entries:
        return
    first = entries[0]
    if obj.get("network") and str(obj["network"]) != str(first.cidr):
        errs.append(FieldError("network", f"must equal clusterNetworks[0].CIDR {first.cidr} (got {obj['network']})"))
    legacy_len = obj.get("hostsubnetlength")
    if legacy_len not in (None, 0) and legacy_len != first.host_subnet_length:
        errs.append(FieldError("hostsubnetlength", "must equal clusterNetworks[0].hostSubnetLength "
                               f"{first.host_subnet_length} (got {legacy_len})"))


def _cidr(value: Any, path: str, errs: list[FieldError]) -> ipaddress.IPv4Network | None:
    if not value:
        errs.append(FieldError(path, "required value", "FieldValueRequired"))
        return None
    try:
        net = ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        errs.append(FieldError(path, f"invalid CIDR address: {value}"))
        return None
    if not isinstance(net, ipaddress.IPv4Network):
        errs.append(FieldError(path, f"must be an IPv4 network (got {value})"))
        return None
    if str(net) != str(value):
        errs.append(FieldError(path, f"CIDR network specification {str(value)!r} is not in canonical form "
                               f"(should be {net.network_address}/{net.prefixlen} or "
                               f"{str(value).split('/')[0]}/{32}?)"))
        return None
    return net


def _check_overlaps(entries: list[ClusterNetworkEntry], service: ipaddress.IPv4Network | None,
                    errs: list[FieldError]) -> None:
    for i, entry in enumerate(entries):
        for other in entries[:i]:
            if entry.cidr.overlaps(other.cidr):
                errs.append(FieldError(f"clusterNetworks[{i}].CIDR",
                                       f"cidr range overlaps with another cidr {str(other.cidr)!r}"))
        if service is not None and entry.cidr.overlaps(service):
            errs.append(FieldError("serviceNetwork",
                                   f"service network overlaps with cluster network cidr: {entry.cidr}"))


def _int_in(obj: dict[str, Any], key: str, default: int, lo: int, hi: int, errs: list[FieldError]) -> int:
    value = obj.get(key)
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        errs.append(FieldError(key, f"must be an integer between {lo} and {hi} (got {value!r})"))
        return default
    return value
