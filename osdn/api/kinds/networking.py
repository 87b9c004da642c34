"""Kinds of group 'networking.k8s.io' (v1): NetworkPolicy and Ingress models, defaulting, validation.

Pure. Ingress is kept minimal: the host names of its rules (what IngressAdmission guards).

Validation is the whole upstream `ValidateNetworkPolicySpec`: peers (ipBlock exclusive with
selectors, `except` strictly inside `cidr`), ports (1..65535 or an IANA service name; endPort needs a
numeric port and is >= it), protocols TCP/UDP/SCTP, policyTypes and label selectors.
Defaulting: `podSelector: null` -> {}, port protocol -> TCP, policyTypes -> ["Ingress"] (+ "Egress"
when egress rules are present).

Limits (`network_policy_limit_problems`, beyond upstream): what one policy may hold so that every node
can enforce it at a bounded cost. The node numbers a policy's rules in 8 bits of the packet mark (at
most 127 ingress and 128 egress rules, `osdn.node.render.policy.RULE_CAPACITY`), so more rules cannot
be rendered at all; the other limits bound what one policy costs every node on each sync (set
elements, selector evaluations). The check reads the raw object, whatever its shape, so the model
(and through it the node) applies the same limits to a policy stored before they existed: such a
policy is not enforced and isolates the pods it selects (docs/node.md "Limits").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from osdn.api import validation as v
from osdn.api.kinds import Hooks
from osdn.api.kinds.meta import (
    Int32,
    IntOrString,
    KubeModel,
    LabelSelector,
    Obj,
    TypedObject,
    default_load_balancer_status,
    items,
    parse_strict,
    set_default,
    sub,
    validate_selector,
)
from osdn.errors import FieldError

POLICY_TYPES = ("Ingress", "Egress")


class IPBlock(KubeModel):
    cidr: str | None = None
    except_: list[str] | None = Field(None, alias="except")


class NetworkPolicyPeer(KubeModel):
    pod_selector: LabelSelector | None = None
    namespace_selector: LabelSelector | None = None
    ip_block: IPBlock | None = None


class NetworkPolicyPort(KubeModel):
    protocol: str | None = None
    port: IntOrString | None = None
    end_port: Int32 | None = None


class NetworkPolicyIngressRule(KubeModel):
    ports: list[NetworkPolicyPort] | None = None
    from_: list[NetworkPolicyPeer] | None = Field(None, alias="from")


class NetworkPolicyEgressRule(KubeModel):
    ports: list[NetworkPolicyPort] | None = None
    to: list[NetworkPolicyPeer] | None = None


class NetworkPolicySpec(KubeModel):
    pod_selector: LabelSelector | None = None
    ingress: list[NetworkPolicyIngressRule] | None = None
    egress: list[NetworkPolicyEgressRule] | None = None
    policy_types: list[str] | None = None


class NetworkPolicy(TypedObject):
    spec: NetworkPolicySpec | None = None


# ---- defaulting

def default_network_policy(obj: Obj) -> None:
    if not isinstance(obj, dict):
        return
    set_default(obj, "spec", {})
    spec = sub(obj, "spec")
    if spec is None:
        return
    set_default(spec, "podSelector", {})
    for rule in items(spec, "ingress") + items(spec, "egress"):
        for port in items(rule, "ports"):
            set_default(port, "protocol", "TCP")
    if not spec.get("policyTypes"):
        egress = spec.get("egress")
        spec["policyTypes"] = ["Ingress", "Egress"] if isinstance(egress, list) and egress else ["Ingress"]


# ---- validation

def _strict_subset(inner: v.AnyNetwork, outer: v.AnyNetwork) -> bool:
    if inner.version != outer.version or inner.prefixlen <= outer.prefixlen:
        return False
    return inner.supernet(new_prefix=outer.prefixlen) == outer


def validate_ip_block(block: IPBlock, path: str) -> list[FieldError]:
    if not block.cidr:
        return [v.required(f"{path}.cidr")]
    net = v.parse_cidr_sloppy(block.cidr)
    if net is None:
        return [v.invalid(f"{path}.cidr", block.cidr, "must be a valid CIDR (e.g. 10.0.0.0/16)")]
    errs: list[FieldError] = []
    for i, text in enumerate(block.except_ or []):
        p = f"{path}.except[{i}]"
        exc = v.parse_cidr_sloppy(text)
        if exc is None:
            errs.append(v.invalid(p, text, "must be a valid CIDR (e.g. 10.0.1.0/24)"))
        elif not _strict_subset(exc, net):
            errs.append(v.invalid(p, text, "must be a strict subset of `cidr`"))
    return errs


def validate_peer(peer: NetworkPolicyPeer, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    count = 0
    for field, selector in (("podSelector", peer.pod_selector), ("namespaceSelector", peer.namespace_selector)):
        if selector is not None:
            count += 1
            errs += validate_selector(selector, f"{path}.{field}")
    if peer.ip_block is not None:
        count += 1
        errs += validate_ip_block(peer.ip_block, f"{path}.ipBlock")
    if count == 0:
        errs.append(v.required(path, "must specify a peer"))
    elif count > 1 and peer.ip_block is not None:
        errs.append(v.forbidden(path, "may not specify both ipBlock and another peer"))
    return errs


def validate_np_port(port: NetworkPolicyPort, path: str) -> list[FieldError]:
    errs = v.validate_protocol(port.protocol, f"{path}.protocol")
    if port.port is not None:
        errs += v.validate_port_num_or_name(port.port, f"{path}.port")
    if port.end_port is None:
        return errs
    if port.port is None:
        errs.append(v.required(f"{path}.port", "must specify `port` when `endPort` is specified"))
    elif isinstance(port.port, str):
        errs.append(v.invalid(f"{path}.endPort", port.end_port, "may not be specified when `port` is non-numeric"))
    else:
        errs += v.validate_port_number(port.end_port, f"{path}.endPort")
        if port.end_port < port.port:
            errs.append(v.invalid(f"{path}.endPort", port.end_port, "must be greater than or equal to `port`"))
    return errs


def _validate_rule(ports: list[NetworkPolicyPort] | None, peers: list[NetworkPolicyPeer] | None,
                   path: str, peer_field: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, port in enumerate(ports or []):
        errs += validate_np_port(port, f"{path}.ports[{i}]")
    for i, peer in enumerate(peers or []):
        errs += validate_peer(peer, f"{path}.{peer_field}[{i}]")
    return errs


def validate_policy_types(types: list[str] | None) -> list[FieldError]:
    errs = [v.not_supported(f"spec.policyTypes[{i}]", t, POLICY_TYPES)
            for i, t in enumerate(types or []) if t not in POLICY_TYPES]
    if len(types or []) > 2:
        errs.append(v.invalid("spec.policyTypes", types, "may not specify more than two policyTypes"))
    return errs


def validate_network_policy_spec(spec: NetworkPolicySpec) -> list[FieldError]:
    errs = validate_selector(spec.pod_selector, "spec.podSelector")
    for i, ingress in enumerate(spec.ingress or []):
        errs += _validate_rule(ingress.ports, ingress.from_, f"spec.ingress[{i}]", "from")
    for i, egress in enumerate(spec.egress or []):
        errs += _validate_rule(egress.ports, egress.to, f"spec.egress[{i}]", "to")
    return errs + validate_policy_types(spec.policy_types)


def validate_network_policy(obj: Obj, old: Obj | None) -> list[FieldError]:
    policy, errs = parse_strict(NetworkPolicy, obj)
    if policy is None:
        return errs
    if policy.spec is None:
        return [v.required("spec")]
    return validate_network_policy_spec(policy.spec) + network_policy_limit_problems(obj.get("spec"))


# ---- limits (see the module docstring; documented in docs/node.md)

MAX_RULES = 100            # spec.ingress / spec.egress entries (the node renders at most 127 / 128)
MAX_PEERS = 100            # from / to entries of one rule
MAX_PORTS = 100            # ports of one rule
MAX_EXCEPTS = 100          # ipBlock.except entries (each may split the block into up to 32 CIDRs)
MAX_SELECTOR_TERMS = 64    # matchLabels + matchExpressions of one label selector
MAX_SELECTOR_VALUES = 256  # values of one matchExpression


def _too_many(path: str, count: int, limit: int, what: str) -> FieldError:
    return v.too_many(path, f"Too many: {count}: must have at most {limit} items ({what})")


def _check_selector(sel: Any, path: str, errs: list[FieldError]) -> None:
    if not isinstance(sel, Mapping):
        return
    labels, exprs = sel.get("matchLabels"), sel.get("matchExpressions")
    exprs = exprs if isinstance(exprs, list) else []
    terms = (len(labels) if isinstance(labels, Mapping) else 0) + len(exprs)
    if terms > MAX_SELECTOR_TERMS:
        errs.append(_too_many(path, terms, MAX_SELECTOR_TERMS,
                              "matchLabels and matchExpressions of one selector together"))
    for i, expr in enumerate(exprs[:MAX_SELECTOR_TERMS]):
        values = expr.get("values") if isinstance(expr, Mapping) else None
        if isinstance(values, list) and len(values) > MAX_SELECTOR_VALUES:
            errs.append(_too_many(f"{path}.matchExpressions[{i}].values", len(values), MAX_SELECTOR_VALUES,
                                  f"osdn enforces at most {MAX_SELECTOR_VALUES} values per selector expression"))


def _check_peer(peer: Mapping[str, Any], path: str, errs: list[FieldError]) -> None:
    block = peer.get("ipBlock")
    excepts = block.get("except") if isinstance(block, Mapping) else None
    if isinstance(excepts, list) and len(excepts) > MAX_EXCEPTS:
        errs.append(_too_many(f"{path}.ipBlock.except", len(excepts), MAX_EXCEPTS,
                              f"osdn enforces at most {MAX_EXCEPTS} except entries per ipBlock"))
    for key in ("podSelector", "namespaceSelector"):
        _check_selector(peer.get(key), f"{path}.{key}", errs)


def _check_rule(rule: Mapping[str, Any], path: str, peer_key: str, errs: list[FieldError]) -> None:
    ports = rule.get("ports")
    if isinstance(ports, list) and len(ports) > MAX_PORTS:
        errs.append(_too_many(f"{path}.ports", len(ports), MAX_PORTS,
                              f"osdn enforces at most {MAX_PORTS} ports per rule"))
    peers = rule.get(peer_key)
    if not isinstance(peers, list):
        return
    if len(peers) > MAX_PEERS:
        errs.append(_too_many(f"{path}.{peer_key}", len(peers), MAX_PEERS,
                              f"osdn enforces at most {MAX_PEERS} {peer_key} entries per rule"))
    for j, peer in enumerate(peers[:MAX_PEERS]):
        if isinstance(peer, Mapping):
            _check_peer(peer, f"{path}.{peer_key}[{j}]", errs)


def network_policy_limit_problems(spec: Any) -> list[FieldError]:
    """Pure: every limit that `spec` (a NetworkPolicy's raw spec, any shape) exceeds; [] if none.

    Lists longer than their limit are reported once, and only their first `limit` items are
    examined further, so the answer stays short whatever the input. The model runs it on every
    policy of every node sync: it only looks at list lengths."""
    errs: list[FieldError] = []
    if not isinstance(spec, Mapping):
        return errs
    _check_selector(spec.get("podSelector"), "spec.podSelector", errs)
    for direction, peer_key in (("ingress", "from"), ("egress", "to")):
        rules = spec.get(direction)
        if not isinstance(rules, list):
            continue
        if len(rules) > MAX_RULES:
            errs.append(_too_many(f"spec.{direction}", len(rules), MAX_RULES,
                                  f"osdn enforces at most {MAX_RULES} {direction} rules per NetworkPolicy"))
        for i, rule in enumerate(rules[:MAX_RULES]):
            if isinstance(rule, Mapping):
                _check_rule(rule, f"spec.{direction}[{i}]", peer_key, errs)
    return errs


class IngressRule(KubeModel):
    host: str | None = None


class IngressSpec(KubeModel):
    rules: list[IngressRule] | None = None


class Ingress(TypedObject):
    spec: IngressSpec | None = None


def validate_ingress(obj: Obj, old: Obj | None) -> list[FieldError]:
    ingress, errs = parse_strict(Ingress, obj)
    if ingress is None:
        return errs
    rules = ingress.spec.rules if ingress.spec else None
    return [e for i, rule in enumerate(rules or []) if rule.host
            for e in v.validate_dns1123_subdomain(rule.host, f"spec.rules[{i}].host")]


HOOKS: dict[str, Hooks] = {
    "NetworkPolicy": Hooks(NetworkPolicy, default_network_policy, validate_network_policy),
    "Ingress": Hooks(Ingress, default_load_balancer_status, validate_ingress),
}
