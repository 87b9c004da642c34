"""NetworkPolicy (networking.k8s.io/v1): defaulting, validation, and defaulting idempotence."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from osdn.api.kinds.networking import NetworkPolicy, default_network_policy, validate_network_policy

Problems = Callable[..., list[str]]


def np(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "np"},
            "spec": {"podSelector": {}, **spec}}


def ingress_from(*peers: dict[str, Any], ports: list[Any] | None = None) -> list[dict[str, Any]]:
    rule: dict[str, Any] = {"from": list(peers)}
    if ports is not None:
        rule["ports"] = ports
    return [rule]


IPB = "spec.ingress[0].from[0]"
CASES = [
    ("empty", {}, []),
    ("pod-selector-peer", {"ingress": ingress_from({"podSelector": {"matchLabels": {"role": "client"}}})}, []),
    ("ns-and-pod-selector", {"ingress": ingress_from({"podSelector": {}, "namespaceSelector": {}})}, []),
    ("no-peer", {"ingress": ingress_from({})}, [f"{IPB}: Required value: must specify a peer"]),
    ("ipblock", {"ingress": ingress_from({"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.0.1.0/24"]}})}, []),
    ("ipblock-v6", {"ingress": ingress_from({"ipBlock": {"cidr": "fd00::/48", "except": ["fd00::/64"]}})}, []),
    ("ipblock-and-selector", {"ingress": ingress_from({"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}})},
     [f"{IPB}: Forbidden: may not specify both ipBlock and another peer"]),
    ("ipblock-no-cidr", {"ingress": ingress_from({"ipBlock": {}})}, [f"{IPB}.ipBlock.cidr: Required value"]),
    ("ipblock-bad-cidr", {"ingress": ingress_from({"ipBlock": {"cidr": "10.0.0.0/33"}})},
     [f'{IPB}.ipBlock.cidr: Invalid value: "10.0.0.0/33": must be a valid CIDR (e.g. 10.0.0.0/16)']),
    ("except-outside", {"ingress": ingress_from({"ipBlock": {"cidr": "10.0.0.0/8", "except": ["11.0.0.0/24"]}})},
     [f'{IPB}.ipBlock.except[0]: Invalid value: "11.0.0.0/24": must be a strict subset of `cidr`']),
    ("except-equal", {"ingress": ingress_from({"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.0.0.0/8"]}})},
     [f'{IPB}.ipBlock.except[0]: Invalid value: "10.0.0.0/8": must be a strict subset of `cidr`']),
    ("except-bad", {"ingress": ingress_from({"ipBlock": {"cidr": "10.0.0.0/8", "except": ["x"]}})},
     [f'{IPB}.ipBlock.except[0]: Invalid value: "x": must be a valid CIDR (e.g. 10.0.1.0/24)']),
    ("named-port", {"ingress": [{"ports": [{"port": "http"}]}]}, []),
    ("port-range", {"egress": [{"ports": [{"port": 6000, "endPort": 6100, "protocol": "UDP"}]}]}, []),
    ("sctp", {"ingress": [{"ports": [{"port": 5000, "protocol": "SCTP"}]}]}, []),
    ("port-zero", {"ingress": [{"ports": [{"port": 0}]}]},
     ["spec.ingress[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive"]),
    ("port-too-big", {"ingress": [{"ports": [{"port": 65536}]}]},
     ["spec.ingress[0].ports[0].port: Invalid value: 65536: must be between 1 and 65535, inclusive"]),
    ("port-bad-name", {"ingress": [{"ports": [{"port": "Http"}]}]},
     ['spec.ingress[0].ports[0].port: Invalid value: "Http": must contain only alpha-numeric characters (a-z, '
      "0-9), and hyphens (-)"]),
    ("port-float", {"ingress": [{"ports": [{"port": 1.5}]}]},
     ["spec.ingress[0].ports[0].port: must be an integer or a string, got 1.5"]),
    ("bad-protocol", {"ingress": [{"ports": [{"protocol": "ICMP"}]}]},
     ['spec.ingress[0].ports[0].protocol: Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP"']),
    ("endport-named", {"ingress": [{"ports": [{"port": "http", "endPort": 90}]}]},
     ["spec.ingress[0].ports[0].endPort: Invalid value: 90: may not be specified when `port` is non-numeric"]),
    ("endport-no-port", {"ingress": [{"ports": [{"endPort": 90}]}]},
     ["spec.ingress[0].ports[0].port: Required value: must specify `port` when `endPort` is specified"]),
    ("endport-below", {"ingress": [{"ports": [{"port": 100, "endPort": 90}]}]},
     ["spec.ingress[0].ports[0].endPort: Invalid value: 90: must be greater than or equal to `port`"]),
    ("endport-too-big", {"ingress": [{"ports": [{"port": 100, "endPort": 70000}]}]},
     ["spec.ingress[0].ports[0].endPort: Invalid value: 70000: must be between 1 and 65535, inclusive"]),
    ("policy-types", {"policyTypes": ["Ingress", "Egress"]}, []),
    ("policy-type-bad", {"policyTypes": ["Sideways"]},
     ['spec.policyTypes[0]: Unsupported value: "Sideways": supported values: "Ingress", "Egress"']),
    ("policy-types-three", {"policyTypes": ["Ingress", "Egress", "Ingress"]},
     ['spec.policyTypes: Invalid value: ["Ingress", "Egress", "Ingress"]: may not specify more than two '
      "policyTypes"]),
    ("selector-bad-operator", {"podSelector": {"matchExpressions": [{"key": "a", "operator": "Near"}]}},
     ['spec.podSelector.matchExpressions[0].operator: Unsupported value: "Near": supported values: In, NotIn, '
      "Exists, DoesNotExist"]),
    ("selector-in-no-values", {"podSelector": {"matchExpressions": [{"key": "a", "operator": "In"}]}},
     ["spec.podSelector.matchExpressions[0].values: must be specified when `operator` is 'In' or 'NotIn'"]),
    ("selector-bad-label", {"podSelector": {"matchLabels": {"role": "-x"}}},
     ['spec.podSelector.matchLabels[role]: invalid label value "-x": at most 63 characters, alphanumeric, '
      "'-', '_' or '.', starting and ending alphanumeric"]),
    ("egress-peer-selector", {"egress": [{"to": [{"namespaceSelector": {"matchExpressions": [
        {"key": "a", "operator": "Exists", "values": ["x"]}]}}]}]},
     ["spec.egress[0].to[0].namespaceSelector.matchExpressions[0].values: may not be specified when `operator` "
      "is 'Exists' or 'DoesNotExist'"]),
    ("ingress-not-list", {"ingress": {"from": []}}, ["spec.ingress: must be a list, got dict"]),
]


@pytest.mark.parametrize("spec,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_network_policy(problems: Problems, spec: dict[str, Any], expected: list[str]) -> None:
    assert problems(np(**spec)) == expected


DEFAULTS = [
    ("null-selector", {"podSelector": None}, {"podSelector": {}, "policyTypes": ["Ingress"]}),
    ("egress-rules", {"egress": [{"ports": [{"port": 53}]}]},
     {"podSelector": {}, "egress": [{"ports": [{"port": 53, "protocol": "TCP"}]}],
      "policyTypes": ["Ingress", "Egress"]}),
    ("empty-egress", {"egress": []}, {"podSelector": {}, "egress": [], "policyTypes": ["Ingress"]}),
    ("explicit-types-kept", {"egress": [{}], "policyTypes": ["Egress"]},
     {"podSelector": {}, "egress": [{}], "policyTypes": ["Egress"]}),
    ("udp-kept", {"ingress": [{"ports": [{"protocol": "UDP", "port": 53}]}]},
     {"podSelector": {}, "ingress": [{"ports": [{"protocol": "UDP", "port": 53}]}], "policyTypes": ["Ingress"]}),
]


@pytest.mark.parametrize("spec,expected", [c[1:] for c in DEFAULTS], ids=[c[0] for c in DEFAULTS])
def test_network_policy_defaults(spec: dict[str, Any], expected: dict[str, Any]) -> None:
    obj = {"metadata": {"name": "np"}, "spec": spec}
    default_network_policy(obj)
    assert obj["spec"] == expected


def test_network_policy_model_aliases(created: Callable[..., Any]) -> None:
    stored = created(np(ingress=ingress_from({"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.0.1.0/24"]}},
                                             ports=[{"port": 80}])))
    policy = NetworkPolicy.model_validate(stored)
    assert policy.spec is not None and policy.spec.ingress is not None
    rule = policy.spec.ingress[0]
    assert rule.from_ is not None and rule.from_[0].ip_block is not None
    assert rule.from_[0].ip_block.except_ == ["10.0.1.0/24"]
    assert rule.ports is not None and (rule.ports[0].port, rule.ports[0].protocol) == (80, "TCP")
    assert policy.to_obj() == stored


# ---- properties

_labels = st.dictionaries(st.sampled_from(["app", "role", "tier"]), st.sampled_from(["a", "b", "web"]), max_size=2)
_selector = st.one_of(st.none(), st.builds(dict), st.builds(lambda m: {"matchLabels": m}, _labels))
_port = st.fixed_dictionaries({}, optional={
    "protocol": st.sampled_from(["TCP", "UDP", "SCTP", None]),
    "port": st.one_of(st.integers(0, 70000), st.sampled_from(["http", "dns", "Bad"])),
    "endPort": st.integers(1, 70000)})
_peer = st.fixed_dictionaries({}, optional={
    "podSelector": _selector, "namespaceSelector": _selector,
    "ipBlock": st.fixed_dictionaries({"cidr": st.sampled_from(["10.0.0.0/8", "10.1.0.0/16", "bad"])},
                                     optional={"except": st.lists(st.sampled_from(["10.0.1.0/24", "11.0.0.0/8"]))})})
_ingress = st.fixed_dictionaries({}, optional={"ports": st.lists(_port, max_size=3),
                                               "from": st.lists(_peer, max_size=3)})
_egress = st.fixed_dictionaries({}, optional={"ports": st.lists(_port, max_size=3), "to": st.lists(_peer, max_size=3)})
_spec = st.fixed_dictionaries({}, optional={
    "podSelector": _selector, "ingress": st.one_of(st.none(), st.lists(_ingress, max_size=3)),
    "egress": st.one_of(st.none(), st.lists(_egress, max_size=3)),
    "policyTypes": st.one_of(st.none(), st.lists(st.sampled_from(["Ingress", "Egress", "Other"]), max_size=3))})
_policy = st.builds(lambda spec: {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                                  "metadata": {"name": "np"}, "spec": spec}, _spec)


@settings(max_examples=300, deadline=None)
@given(_policy)
def test_defaulting_is_idempotent(policy: dict[str, Any]) -> None:
    once = copy.deepcopy(policy)
    default_network_policy(once)
    twice = copy.deepcopy(once)
    default_network_policy(twice)
    assert twice == once


@settings(max_examples=300, deadline=None)
@given(_policy)
def test_validation_never_raises_and_only_adds_defaults(policy: dict[str, Any]) -> None:
    obj = copy.deepcopy(policy)
    default_network_policy(obj)
    errs = validate_network_policy(obj, None)
    assert all(e.field.startswith("spec") for e in errs)
    assert obj["spec"]["podSelector"] is not None and obj["spec"]["policyTypes"]


# -- limits: what every node can enforce (docs/node.md "Limits") ------------------------------------

def _peers(n: int) -> list[dict[str, Any]]:
    return [{"podSelector": {"matchLabels": {"n": str(i)}}} for i in range(n)]


LIMIT_CASES = [
    ("100-ingress-rules", {"ingress": [{}] * 100}, []),
    ("101-ingress-rules", {"ingress": [{}] * 101},
     ["spec.ingress: Too many: 101: must have at most 100 items (osdn enforces at most 100 ingress rules per "
      "NetworkPolicy)"]),
    ("200-egress-rules", {"egress": [{}] * 200},
     ["spec.egress: Too many: 200: must have at most 100 items (osdn enforces at most 100 egress rules per "
      "NetworkPolicy)"]),
    ("101-peers", {"ingress": [{"from": _peers(101)}]},
     ["spec.ingress[0].from: Too many: 101: must have at most 100 items (osdn enforces at most 100 from entries "
      "per rule)"]),
    ("101-ports", {"egress": [{"ports": [{"port": 1000 + i} for i in range(101)]}]},
     ["spec.egress[0].ports: Too many: 101: must have at most 100 items (osdn enforces at most 100 ports per rule)"]),
    ("101-excepts", {"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8",
                                                        "except": [f"10.{i}.0.0/16" for i in range(101)]}}]}]},
     ["spec.ingress[0].from[0].ipBlock.except: Too many: 101: must have at most 100 items (osdn enforces at most "
      "100 except entries per ipBlock)"]),
    ("65-selector-terms", {"podSelector": {"matchLabels": {f"k{i}": "v" for i in range(65)}}},
     ["spec.podSelector: Too many: 65: must have at most 64 items (matchLabels and matchExpressions of one "
      "selector together)"]),
    ("257-values", {"ingress": [{"from": [{"namespaceSelector": {"matchExpressions": [
        {"key": "k", "operator": "In", "values": [f"v{i}" for i in range(257)]}]}}]}]},
     ["spec.ingress[0].from[0].namespaceSelector.matchExpressions[0].values: Too many: 257: must have at most 256 "
      "items (osdn enforces at most 256 values per selector expression)"]),
]


@pytest.mark.parametrize("spec,expected", [c[1:] for c in LIMIT_CASES], ids=[c[0] for c in LIMIT_CASES])
def test_network_policy_limits(problems: Problems, spec: dict[str, Any], expected: list[str]) -> None:
    assert problems(np(**spec)) == expected


def test_limit_error_names_policy_field_value_and_limit() -> None:
    """The 422 Status: message names the policy and project, causes carry the field and FieldValueTooMany."""
    from osdn.api import registry
    from osdn.api.objects import prepare_create
    from osdn.errors import ValidationError

    obj = np(ingress=[{"ports": [{"port": 1 + i}]} for i in range(128)])
    with pytest.raises(ValidationError) as e:
        prepare_create(registry.for_object(obj), copy.deepcopy(obj), "t1", "now", "uid")
    assert (e.value.code, e.value.to_status()["reason"]) == (422, "Invalid")
    assert e.value.message == ('NetworkPolicy "np" in project "t1": spec.ingress: Too many: 128: must have at most '
                               "100 items (osdn enforces at most 100 ingress rules per NetworkPolicy)")
    assert [(c.field, c.reason) for c in e.value.causes] == [("spec.ingress", "FieldValueTooMany")]


@pytest.mark.parametrize("spec", ["x", {"ingress": "x"}, {"ingress": [None, 3, {"from": {"a": 1}}]},
                                  {"egress": [{"to": [{"ipBlock": 5, "podSelector": []}]}]}],
                         ids=["str", "ingress-str", "odd-rules", "odd-peer"])
def test_limit_check_reads_any_shape(spec: Any) -> None:
    """The model runs the check on stored objects that never passed validation: it must not raise."""
    from osdn.api.kinds.networking import network_policy_limit_problems
    assert network_policy_limit_problems(spec) == []

