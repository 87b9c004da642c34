"""The operator-facing configuration: `Network` (operator.openshift.io/v1, the single object `cluster`)
and `ClusterOperator` (config.openshift.io/v1). Models, defaulting and validation. Pure.

`Network cluster` is what `osdn edit network.operator.openshift.io cluster` edits, as in OpenShift 4.
Its network fields mirror ClusterNetwork `default` (made at bootstrap) and cannot change on a running
cluster; `kubeProxyConfig` can, and every node agent applies it at once:
- `iptablesSyncPeriod`: the longest time between two full resyncs of a node's rules;
- `proxyArguments.iptables-min-sync-period: [D]`: the shortest time between two syncs (changes that
  arrive within it are batched).
`spec.externalIP.policy` (as in OpenShift 4's `config.openshift.io/v1 Network cluster`) says which
Service `spec.externalIPs` the API server admits: `allowedCIDRs` open ranges, `rejectedCIDRs` close
parts of them; no policy, or one without allowedCIDRs, admits none (`osdn.apiserver.plugins.externalips`).
`ClusterOperator network` reports, in its conditions, whether every node has applied the config.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from osdn.api import validation as v
from osdn.api.duration import parse_duration
from osdn.api.kinds import Hooks
from osdn.api.kinds.meta import KubeModel, Obj, TypedObject, parse_strict
from osdn.errors import FieldError

NETWORK_NAME = "cluster"
SDN_TYPE = "OpenShiftSDN"
SDN_MODES = {"Subnet": "subnet", "Multitenant": "multitenant", "NetworkPolicy": "networkpolicy"}
MIN_SYNC_ARG = "iptables-min-sync-period"
PROXY_ARGUMENTS = (MIN_SYNC_ARG,)
IMMUTABLE = ("clusterNetwork", "serviceNetwork", "defaultNetwork")


class ClusterNetworkEntry(KubeModel):
    cidr: str | None = None
    host_prefix: int | None = None


class SDNConfig(KubeModel):
    mode: str | None = None
    vxlan_port: int | None = None
    mtu: int | None = None


class DefaultNetwork(KubeModel):
    type: str | None = None
    openshift_sdn_config: SDNConfig | None = Field(None, alias="openshiftSDNConfig")


class KubeProxyConfig(KubeModel):
    iptables_sync_period: str | None = None
    bind_address: str | None = None
    proxy_arguments: dict[str, list[str]] | None = None


class ExternalIPPolicy(KubeModel):
    allowed_cidrs: list[str] | None = Field(default=None, alias="allowedCIDRs")
    rejected_cidrs: list[str] | None = Field(default=None, alias="rejectedCIDRs")


class ExternalIPConfig(KubeModel):
    policy: ExternalIPPolicy | None = None


class NetworkSpec(KubeModel):
    cluster_network: list[ClusterNetworkEntry] | None = None
    service_network: list[str] | None = None
    default_network: DefaultNetwork | None = None
    kube_proxy_config: KubeProxyConfig | None = None
    external_ip: ExternalIPConfig | None = Field(default=None, alias="externalIP")


class Network(TypedObject):
    spec: NetworkSpec = Field(default_factory=NetworkSpec)
    status: dict[str, Any] | None = None


class Condition(KubeModel):
    type: str | None = None
    status: str | None = None
    reason: str | None = None
    message: str | None = None
    last_transition_time: str | None = None


class ClusterOperatorStatus(KubeModel):
    conditions: list[Condition] | None = None
    versions: list[dict[str, str]] | None = None
    related_objects: list[dict[str, str]] | None = None


class ClusterOperator(TypedObject):
    spec: dict[str, Any] | None = None
    status: ClusterOperatorStatus | None = None


def network_from_cluster_network(cn: Obj) -> Obj:
    """Pure: the `Network cluster` object that mirrors ClusterNetwork `default` (bootstrap)."""
    mode = str(cn.get("pluginName") or "").rpartition("-")[2]
    modes = {short: long for long, short in SDN_MODES.items()}
    return {
        "apiVersion": "operator.openshift.io/v1", "kind": "Network", "metadata": {"name": NETWORK_NAME},
        "spec": {
            "clusterNetwork": [{"cidr": e.get("CIDR"), "hostPrefix": 32 - int(e.get("hostSubnetLength") or 0)}
                               for e in cn.get("clusterNetworks") or []],
            "serviceNetwork": [cn.get("serviceNetwork")],
            "defaultNetwork": {"type": SDN_TYPE, "openshiftSDNConfig": {
                "mode": modes.get(mode, "NetworkPolicy"), "vxlanPort": cn.get("vxlanPort"), "mtu": cn.get("mtu")}},
            "kubeProxyConfig": {},
        },
    }


def proxy_periods(network: Obj | None) -> tuple[float | None, float | None]:
    """Pure: (iptablesSyncPeriod, iptables-min-sync-period) in seconds from a Network object;
    None where unset (or unparsable: validation keeps those out of the store)."""
    kp = ((network or {}).get("spec") or {}).get("kubeProxyConfig") or {}
    args = kp.get("proxyArguments") or {}
    min_arg = args.get(MIN_SYNC_ARG) or [None]
    return parse_duration(kp.get("iptablesSyncPeriod")), parse_duration(min_arg[0])


def external_ip_policy(network: Obj | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Pure: (allowedCIDRs, rejectedCIDRs) of a Network object's `spec.externalIP.policy`; both empty
    when unset (then no externalIP is admitted). Validation keeps invalid CIDRs out of the store."""
    policy = ((((network or {}).get("spec") or {}).get("externalIP") or {}).get("policy")) or {}
    return tuple(policy.get("allowedCIDRs") or ()), tuple(policy.get("rejectedCIDRs") or ())


def _validate_external_ip(cfg: ExternalIPConfig) -> list[FieldError]:
    policy = cfg.policy or ExternalIPPolicy()
    errs: list[FieldError] = []
    for field, cidrs in (("allowedCIDRs", policy.allowed_cidrs), ("rejectedCIDRs", policy.rejected_cidrs)):
        for i, cidr in enumerate(cidrs or []):
            errs += v.validate_cidr(cidr, f"spec.externalIP.policy.{field}[{i}]")
    return errs


def _validate_kube_proxy(kp: KubeProxyConfig) -> list[FieldError]:
    base = "spec.kubeProxyConfig"
    errs: list[FieldError] = []
    sync = min_sync = None
    if kp.iptables_sync_period is not None:
        sync = parse_duration(kp.iptables_sync_period)
        if sync is None or sync <= 0:
            errs.append(v.invalid(f"{base}.iptablesSyncPeriod", kp.iptables_sync_period,
                                  "must be a positive duration such as 30s, 2m or 1h"))
    if kp.bind_address is not None and v.parse_ip(kp.bind_address) is None:
        errs.append(v.invalid(f"{base}.bindAddress", kp.bind_address, "must be a valid IP address"))
    for key, values in sorted((kp.proxy_arguments or {}).items()):
        path = f"{base}.proxyArguments[{key}]"
        if key not in PROXY_ARGUMENTS:
            errs.append(v.not_supported(f"{base}.proxyArguments", key, PROXY_ARGUMENTS))
        elif len(values) != 1:
            errs.append(v.invalid(path, values, "must hold exactly one value"))
        else:
            min_sync = parse_duration(values[0])
            if min_sync is None:
                errs.append(v.invalid(path, values[0], "must be a duration such as 0s, 1s or 500ms"))
    if sync is not None and min_sync is not None and min_sync > sync > 0:
        errs.append(v.invalid(f"{base}.proxyArguments[{MIN_SYNC_ARG}]", kp.proxy_arguments[MIN_SYNC_ARG][0],  # type: ignore[index]
                              f"must not be longer than iptablesSyncPeriod ({kp.iptables_sync_period})"))
    return errs


def _validate_default_network(dn: DefaultNetwork) -> list[FieldError]:
    errs: list[FieldError] = []
    if dn.type != SDN_TYPE:
        errs.append(v.not_supported("spec.defaultNetwork.type", dn.type, (SDN_TYPE,)))
    cfg = dn.openshift_sdn_config
    if cfg is not None and cfg.mode is not None and cfg.mode not in SDN_MODES:
        errs.append(v.not_supported("spec.defaultNetwork.openshiftSDNConfig.mode", cfg.mode, tuple(SDN_MODES)))
    return errs


def validate_network(obj: Obj, old: Obj | None) -> list[FieldError]:
    net, errs = parse_strict(Network, obj)
    if net is None:
        return errs
    if net.metadata.name != NETWORK_NAME:
        errs.append(v.invalid("metadata.name", net.metadata.name, f'must be "{NETWORK_NAME}"'))
    if net.spec.default_network is not None:
        errs += _validate_default_network(net.spec.default_network)
    for i, entry in enumerate(net.spec.cluster_network or []):
        errs += v.validate_cidr(entry.cidr, f"spec.clusterNetwork[{i}].cidr")
    for i, cidr in enumerate(net.spec.service_network or []):
        errs += v.validate_cidr(cidr, f"spec.serviceNetwork[{i}]")
    if net.spec.kube_proxy_config is not None:
        errs += _validate_kube_proxy(net.spec.kube_proxy_config)
    if net.spec.external_ip is not None:
        errs += _validate_external_ip(net.spec.external_ip)
    if old is not None:
        new_spec, old_spec = obj.get("spec") or {}, old.get("spec") or {}
        for key in IMMUTABLE:
            if new_spec.get(key) != old_spec.get(key):
                errs.append(v.forbidden(f"spec.{key}", "cannot be changed on a running cluster (it mirrors "
                                        'ClusterNetwork "default", fixed when the cluster was created)'))
    return errs


def validate_cluster_operator(obj: Obj, old: Obj | None) -> list[FieldError]:
    co, errs = parse_strict(ClusterOperator, obj)
    if co is None:
        return errs
    return errs + v.validate_dns1123_subdomain(co.metadata.name, "metadata.name")


HOOKS: dict[str, Hooks] = {
    "Network": Hooks(Network, None, validate_network),
    "ClusterOperator": Hooks(ClusterOperator, None, validate_cluster_operator),
}
