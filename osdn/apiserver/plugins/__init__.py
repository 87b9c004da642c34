"""Admission plugins and the chain built from the master config (`admissionConfig.pluginConfig`).

Always on: RBACEscalation, SecurityContextConstraint, ServiceIPAllocation, NodePortAllocation, ExternalIPRanger, ClusterNetworkMode, EgressFirewallPlacement, RouteHostname, RouteHSTS,
RequiredRouteAnnotations (the required HSTS policies of config.openshift.io Ingress `cluster`),
IngressAdmission (allowHostnameChanges false unless configured), ResourceQuota (last). RunOnceDuration runs only when configured;
ProjectRequestLimit (osdn.apiserver.plugins.projectlimit) is applied by the projects API. Plugin
names are accepted with or without the `openshift.io/` prefix; each entry holds either an inline
`configuration` or a `location` (a YAML file). Unknown plugin names are logged and ignored (a real
master.yaml lists plugins osdn does not have).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import yaml

from osdn.apiserver.admission import Plugin
from osdn.apiserver.plugins.clusternetwork import ClusterNetworkMode
from osdn.apiserver.plugins.egressfirewall import EgressFirewallPlacement
from osdn.apiserver.plugins.egressip import EgressIPAdmission
from osdn.apiserver.plugins.externalips import ExternalIPRanger
from osdn.apiserver.plugins.nodeports import NodePortAllocation
from osdn.apiserver.plugins.quota import ResourceQuotaAdmission
from osdn.apiserver.plugins.rbac_escalation import RBACEscalation
from osdn.apiserver.plugins.requiredroute import RequiredRouteAnnotations
from osdn.apiserver.plugins.routes import IngressAdmission, RouteHostname, RouteHSTS
from osdn.apiserver.plugins.runonce import RunOnceDuration, parse_config
from osdn.apiserver.plugins.scc import SecurityContextConstraint
from osdn.apiserver.plugins.serviceips import ServiceIPAllocation
from osdn.errors import BadRequestError
from osdn.model.nodeports import NodePortRange, parse_range

log = logging.getLogger(__name__)
KNOWN = ("RunOnceDuration", "IngressAdmission", "ProjectRequestLimit")


def plugin_configs(master_config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`admissionConfig.pluginConfig` as {short plugin name: configuration dict}."""
    raw = ((master_config or {}).get("admissionConfig") or {}).get("pluginConfig") or {}
    if not isinstance(raw, dict):
        raise BadRequestError("master config admissionConfig.pluginConfig must be a mapping of plugin names")
    out: dict[str, dict[str, Any]] = {}
    for name, entry in raw.items():
        short = str(name).removeprefix("openshift.io/")
        if short not in KNOWN:
            log.warning("admission plugin %s in the master config is not known to osdn; ignored", name)
            continue
        entry = entry or {}
        config = entry.get("configuration")
        if config is None and entry.get("location"):
            try:
                config = yaml.safe_load(Path(entry["location"]).read_text())
            except (OSError, yaml.YAMLError) as err:
                raise BadRequestError(f"admission plugin {name}: cannot read location {entry['location']}: {err}") \
                    from None
        if not isinstance(config or {}, dict):
            raise BadRequestError(f"admission plugin {name}: configuration must be a mapping")
        out[short] = dict(config or {})
    return out


def node_port_range(master_config: dict[str, Any]) -> NodePortRange:
    """`kubernetesMasterConfig.servicesNodePortRange` (OpenShift 3.x's master config; `osdn server
    --service-node-port-range` sets it), default 30000-32767."""
    text = ((master_config or {}).get("kubernetesMasterConfig") or {}).get("servicesNodePortRange")
    try:
        return parse_range(str(text)) if text else NodePortRange()
    except ValueError as err:
        raise BadRequestError(f"master config kubernetesMasterConfig.servicesNodePortRange: {err}") from None


def build_plugins(master_config: dict[str, Any] | None) -> list[Plugin]:
    configs = plugin_configs(master_config or {})
    plugins: list[Plugin] = [RBACEscalation(), SecurityContextConstraint(), ServiceIPAllocation(),
                             NodePortAllocation(node_port_range(master_config or {})), ExternalIPRanger()]
    if "RunOnceDuration" in configs:
        plugins.append(RunOnceDuration(parse_config(configs["RunOnceDuration"])))
    ingress = configs.get("IngressAdmission", {})
    plugins += [ClusterNetworkMode(), EgressFirewallPlacement(), EgressIPAdmission(), RouteHostname(), RouteHSTS(),
                RequiredRouteAnnotations(), IngressAdmission(bool(ingress.get("allowHostnameChanges", False)))]
    return plugins + [ResourceQuotaAdmission()]   # last, as upstream: charge only what every other plugin let pass
