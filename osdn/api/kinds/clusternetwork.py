"""ClusterNetwork (network.openshift.io/v1): model, defaulting and validation. Pure.

The single object is named "default". The legacy fields `network` / `hostsubnetlength` mirror
`clusterNetworks[0]`; defaulting fills whichever side is missing. Rules and messages follow
origin's `ValidateClusterNetwork` and sdn's `common/validation.go`.
"""

from __future__ import annotations

import ipaddress

from pydantic import Field

from osdn.api import validation as v
from osdn.api.kinds.meta import KubeModel, Obj, TypedObject, items, parse_strict, set_default
from osdn.errors import FieldError

PLUGIN_NAMES = ("redhat/openshift-ovs-subnet", "redhat/openshift-ovs-multitenant",
                "redhat/openshift-ovs-networkpolicy", "subnet", "multitenant", "networkpolicy")
DEFAULT_VXLAN_PORT = 4789
DEFAULT_MTU = 1450


class ClusterNetworkEntry(KubeModel):
    cidr: str | None = Field(None, alias="CIDR")
    host_subnet_length: int | None = None


class ClusterNetwork(TypedObject):
    network: str | None = None
    hostsubnetlength: int | None = None
    service_network: str | None = None
    plugin_name: str | None = None
    cluster_networks: list[ClusterNetworkEntry] | None = None
    vxlan_port: int | None = None
    mtu: int | None = None

    @property
    def plugin(self) -> str:
        """'subnet', 'multitenant' or 'networkpolicy' (the short form of pluginName)."""
        return (self.plugin_name or "").rpartition("-")[2]


def default_cluster_network(obj: Obj) -> None:
    if not isinstance(obj, dict):
        return
    set_default(obj, "vxlanPort", DEFAULT_VXLAN_PORT)
    set_default(obj, "mtu", DEFAULT_MTU)
    entries = items(obj, "clusterNetworks")
    if not obj.get("clusterNetworks") and obj.get("network") is not None:
        obj["clusterNetworks"] = [{"CIDR": obj["network"], "hostSubnetLength": obj.get("hostsubnetlength")}]
    elif entries:
        set_default(obj, "network", entries[0].get("CIDR"))
        set_default(obj, "hostsubnetlength", entries[0].get("hostSubnetLength"))


def _validate_entry(entry: ClusterNetworkEntry, path: str) -> tuple[ipaddress.IPv4Network | None, list[FieldError]]:
    errs = v.validate_cidr(entry.cidr, f"{path}.CIDR")
    net = v.parse_cidr(entry.cidr)
    length = entry.host_subnet_length
    if length is None:
        errs.append(v.required(f"{path}.hostSubnetLength"))
    elif net is not None and length > 32 - net.prefixlen:
        errs.append(v.invalid(f"{path}.hostSubnetLength", length, "subnet length is too large for clusterNetwork "))
    elif length < 2:
        errs.append(v.invalid(f"{path}.hostSubnetLength", length, "subnet length must be at least 2"))
    return net, errs


def _validate_networks(cn: ClusterNetwork) -> list[FieldError]:
    errs: list[FieldError] = []
    nets: list[ipaddress.IPv4Network] = []
    for i, entry in enumerate(cn.cluster_networks or []):
        net, entry_errs = _validate_entry(entry, f"clusterNetworks[{i}]")
        errs += entry_errs
        if net is None:
            continue
        for other in nets:
            if net.overlaps(other):
                errs.append(v.invalid(f"clusterNetworks[{i}].CIDR", entry.cidr,
                                      f'cidr range overlaps with another cidr "{other}"'))
        nets.append(net)
    if cn.service_network is None:
        return errs + [v.required("serviceNetwork")]
    errs += v.validate_cidr(cn.service_network, "serviceNetwork")
    service = v.parse_cidr(cn.service_network)
    for net in nets:
        if service is not None and service.overlaps(net):
            errs.append(v.invalid("serviceNetwork", cn.service_network,
                                  f"service network overlaps with cluster network cidr: {net}"))
    return errs


def _validate_legacy(cn: ClusterNetwork) -> list[FieldError]:
    entries = cn.cluster_networks or []
    if not entries:
        return [v.required("clusterNetworks", "either clusterNetworks or network and hostsubnetlength must be set")]
    first = entries[0]
    errs: list[FieldError] = []
    if cn.network is not None and cn.network != first.cidr:
        errs.append(v.invalid("network", cn.network, "must match clusterNetworks[0].CIDR"))
    if cn.hostsubnetlength is not None and cn.hostsubnetlength != first.host_subnet_length:
        errs.append(v.invalid("hostsubnetlength", cn.hostsubnetlength,
                              "must match clusterNetworks[0].hostSubnetLength"))
    return errs


def validate_cluster_network(obj: Obj, old: Obj | None) -> list[FieldError]:
    cn, errs = parse_strict(ClusterNetwork, obj)
    if cn is None:
        return errs
    if cn.metadata.name != "default":
        errs.append(v.invalid("metadata.name", cn.metadata.name, 'must be "default"'))
    if cn.plugin_name is not None and cn.plugin_name not in PLUGIN_NAMES:
        errs.append(v.not_supported("pluginName", cn.plugin_name, PLUGIN_NAMES))
    if cn.vxlan_port is not None and not 1 <= cn.vxlan_port <= 65535:
        errs.append(v.invalid("vxlanPort", cn.vxlan_port, "must be between 1 and 65535, inclusive"))
    if cn.mtu is not None and not 576 <= cn.mtu <= 65536:
        errs.append(v.invalid("mtu", cn.mtu, "must be between 576 and 65536, inclusive"))
    return errs + _validate_legacy(cn) + _validate_networks(cn)
