"""Kind of group 'network.operator.openshift.io' (v1): EgressRouter, as openshift/api
`networkoperator/v1/types_egressrouter.go` and its CRD define it. Models, defaulting, validation. Pure.

Defaults as the CRD's: `mode: Redirect`, `networkInterface: {macvlan: {mode: Bridge}}`. Validation
is the CRD schema's (mode Redirect only and then `redirect` required; macvlan mode
Bridge|Private|VEPA|Passthru; rule ports and targetPorts 1..65535; protocol TCP|UDP|SCTP;
destinationIP, fallbackIP and gateway IP addresses; condition types and statuses) plus what the
cluster-network-operator and the egress-router plugin need to make a working router, refused at
`create` instead of failing later: at least one address, `addresses[0].ip` a CIDR (the CNO skips an
address that is not), a gateway, IPv4 (osdn's plugin is IPv4 only), at most MAX_RULES rules, no two
rules on one port and protocol, a master interface name the kernel accepts.
"""

from __future__ import annotations

from pydantic import Field

from osdn.api import validation as v
from osdn.api.kinds import Hooks
from osdn.api.kinds.meta import KubeModel, Obj, TypedObject, parse_strict, set_default, sub
from osdn.errors import FieldError

MODES = ("Redirect",)
MACVLAN_MODES = ("Bridge", "Private", "VEPA", "Passthru")
PROTOCOLS = ("TCP", "UDP", "SCTP")
CONDITION_TYPES = ("Available", "Progressing", "Degraded")
CONDITION_STATUSES = ("True", "False", "Unknown")
MAX_RULES = 256


class L4RedirectRule(KubeModel):
    destination_ip: str | None = Field(None, alias="destinationIP")
    port: int | None = None
    protocol: str | None = None
    target_port: int | None = None


class RedirectConfig(KubeModel):
    redirect_rules: list[L4RedirectRule] | None = None
    fallback_ip: str | None = Field(None, alias="fallbackIP")


class MacvlanConfig(KubeModel):
    mode: str | None = None
    master: str | None = None


class EgressRouterInterface(KubeModel):
    macvlan: MacvlanConfig | None = None


class EgressRouterAddress(KubeModel):
    ip: str | None = None
    gateway: str | None = None


class EgressRouterSpec(KubeModel):
    mode: str | None = None
    redirect: RedirectConfig | None = None
    network_interface: EgressRouterInterface | None = None
    addresses: list[EgressRouterAddress] | None = None


class EgressRouterStatusCondition(KubeModel):
    type: str | None = None
    status: str | None = None
    last_transition_time: str | None = None
    reason: str | None = None
    message: str | None = None


class EgressRouterStatus(KubeModel):
    conditions: list[EgressRouterStatusCondition] | None = None


class EgressRouter(TypedObject):
    spec: EgressRouterSpec | None = None
    status: EgressRouterStatus | None = None


def default_egress_router(obj: Obj) -> None:
    spec = sub(obj, "spec")
    if spec is None:
        return
    set_default(spec, "mode", "Redirect")
    set_default(spec, "networkInterface", {"macvlan": {"mode": "Bridge"}})
    iface = sub(spec, "networkInterface")
    if iface is not None:
        set_default(iface, "macvlan", {"mode": "Bridge"})
        macvlan = sub(iface, "macvlan")
        if macvlan is not None:
            set_default(macvlan, "mode", "Bridge")


def _ip(value: str | None, path: str, required: bool = True) -> list[FieldError]:
    if value is None:
        return [v.required(path)] if required else []
    ip = v.parse_ip(value)
    if ip is None:
        return [v.invalid(path, value, "must be an IP address")]
    if ip.version != 4:
        return [v.invalid(path, value, "IPv6 is not supported by osdn's egress-router plugin")]
    return []


def _port(value: int | None, path: str, required: bool) -> list[FieldError]:
    if value is None:
        return [v.required(path)] if required else []
    return [] if 1 <= value <= 65535 else [v.invalid(path, value, "must be between 1 and 65535, inclusive")]


def _rules(rules: list[L4RedirectRule], path: str) -> list[FieldError]:
    if len(rules) > MAX_RULES:
        return [v.too_many(path, f"Too many: {len(rules)}: must have at most {MAX_RULES} items")]
    errs: list[FieldError] = []
    seen: set[tuple[int | None, str | None]] = set()
    for n, rule in enumerate(rules):
        at = f"{path}[{n}]"
        errs += _ip(rule.destination_ip, f"{at}.destinationIP")
        errs += _port(rule.port, f"{at}.port", True) + _port(rule.target_port, f"{at}.targetPort", False)
        if rule.protocol is None:
            errs.append(v.required(f"{at}.protocol"))
        elif rule.protocol not in PROTOCOLS:
            errs.append(v.not_supported(f"{at}.protocol", rule.protocol, PROTOCOLS))
        if (rule.port, rule.protocol) in seen:
            errs.append(v.duplicate(f"{at}.port", rule.port))
        seen.add((rule.port, rule.protocol))
    return errs


def _addresses(addresses: list[EgressRouterAddress] | None) -> list[FieldError]:
    if not addresses:
        return [v.required("spec.addresses", "the address (CIDR) and gateway of the router's interface")]
    errs: list[FieldError] = []
    for n, addr in enumerate(addresses):
        at = f"spec.addresses[{n}]"
        if addr.ip is None:
            errs.append(v.required(f"{at}.ip"))
        else:
            net = v.parse_cidr_sloppy(addr.ip)
            if net is None or "/" not in addr.ip:
                errs.append(v.invalid(f"{at}.ip", addr.ip, "must be an address with its prefix length, e.g. "
                                                           "192.168.12.99/24"))
            elif net.version != 4:
                errs.append(v.invalid(f"{at}.ip", addr.ip, "IPv6 is not supported by osdn's egress-router plugin"))
        errs += _ip(addr.gateway, f"{at}.gateway")
    return errs


def _interface(iface: EgressRouterInterface | None) -> list[FieldError]:
    macvlan = (iface.macvlan if iface else None) or MacvlanConfig()
    errs: list[FieldError] = []
    if macvlan.mode not in MACVLAN_MODES:
        errs.append(v.not_supported("spec.networkInterface.macvlan.mode", macvlan.mode, MACVLAN_MODES))
    master = macvlan.master
    if master and (len(master) > 15 or any(c in master for c in " /\t\n:") or master in (".", "..")):
        errs.append(v.invalid("spec.networkInterface.macvlan.master", master, "must be a network interface name"))
    return errs


def _status(status: EgressRouterStatus | None) -> list[FieldError]:
    errs: list[FieldError] = []
    for n, cond in enumerate((status.conditions if status else None) or []):
        if cond.type not in CONDITION_TYPES:
            errs.append(v.not_supported(f"status.conditions[{n}].type", cond.type, CONDITION_TYPES))
        if cond.status not in CONDITION_STATUSES:
            errs.append(v.not_supported(f"status.conditions[{n}].status", cond.status, CONDITION_STATUSES))
    return errs


def validate_egress_router(obj: Obj, old: Obj | None) -> list[FieldError]:
    router, errs = parse_strict(EgressRouter, obj)
    if router is None:
        return errs
    spec = router.spec
    if spec is None:
        return [v.required("spec")]
    if spec.mode not in MODES:
        errs.append(v.not_supported("spec.mode", spec.mode, MODES))
    if spec.redirect is None:
        errs.append(v.required("spec.redirect", 'mode "Redirect" needs the redirect configuration'))
    else:
        errs += _rules(spec.redirect.redirect_rules or [], "spec.redirect.redirectRules")
        errs += _ip(spec.redirect.fallback_ip, "spec.redirect.fallbackIP", required=False)
    return errs + _addresses(spec.addresses) + _interface(spec.network_interface) + _status(router.status)


HOOKS: dict[str, Hooks] = {"EgressRouter": Hooks(EgressRouter, default_egress_router, validate_egress_router)}
