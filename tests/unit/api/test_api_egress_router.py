"""EgressRouter (network.operator.openshift.io/v1): the CRD's defaults and validation, and what the
CNO and the egress-router plugin need, each refusal naming its field."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from osdn.api.kinds import hooks_for

SEED = {"apiVersion": "network.operator.openshift.io/v1", "kind": "EgressRouter",
        "metadata": {"name": "egress-router-redirect", "namespace": "p1"},
        "spec": {"networkInterface": {"macvlan": {"mode": "Bridge"}},
                 "addresses": [{"ip": "192.168.12.99/24", "gateway": "192.168.12.1"}],
                 "mode": "Redirect",
                 "redirect": {"redirectRules": [{"destinationIP": "10.0.0.99", "port": 80, "protocol": "UDP"},
                                                {"destinationIP": "203.0.113.26", "port": 8080, "targetPort": 80,
                                                 "protocol": "TCP"},
                                                {"destinationIP": "203.0.113.27", "port": 8443, "targetPort": 443,
                                                 "protocol": "TCP"}]}}}


def check(obj: dict[str, Any]) -> list[str]:
    hooks = hooks_for("EgressRouter")
    assert hooks.default is not None and hooks.validate is not None
    hooks.default(obj)
    return [str(e) for e in hooks.validate(obj, None)]


def test_the_documented_router_is_valid() -> None:
    assert check(copy.deepcopy(SEED)) == []


def test_defaults() -> None:
    obj = {"metadata": {"name": "r"}, "spec": {"addresses": [{"ip": "10.0.0.2/24", "gateway": "10.0.0.1"}],
                                               "redirect": {"fallbackIP": "10.9.9.9"}}}
    assert check(obj) == []
    assert obj["spec"]["mode"] == "Redirect" and obj["spec"]["networkInterface"] == {"macvlan": {"mode": "Bridge"}}


def spec_with(path: str, value: Any) -> dict[str, Any]:
    obj = copy.deepcopy(SEED)
    where: Any = obj["spec"]
    *parents, last = path.split(".")
    for part in parents:
        where = where[int(part)] if part.isdigit() else where[part]
    if value is None:
        del where[last]
    else:
        where[last] = value
    return obj


@pytest.mark.parametrize("path, value, error", [
    ("mode", "HTTPProxy", 'spec.mode: Unsupported value: "HTTPProxy": supported values: "Redirect"'),
    ("redirect", None, 'spec.redirect: Required value: mode "Redirect" needs the redirect configuration'),
    ("addresses", [], "spec.addresses: Required value"),
    ("addresses.0.ip", "192.168.12.99", 'spec.addresses[0].ip: Invalid value: "192.168.12.99": must be an address '
                                        "with its prefix length"),
    ("addresses.0.ip", "fd00::5/64", "spec.addresses[0].ip: Invalid value: \"fd00::5/64\": IPv6 is not supported"),
    ("addresses.0.gateway", None, "spec.addresses[0].gateway: Required value"),
    ("addresses.0.gateway", "gw", 'spec.addresses[0].gateway: Invalid value: "gw": must be an IP address'),
    ("redirect.redirectRules.0.port", 0, "spec.redirect.redirectRules[0].port: Invalid value: 0: must be between 1"),
    ("redirect.redirectRules.1.targetPort", 70000, "spec.redirect.redirectRules[1].targetPort: Invalid value: 70000"),
    ("redirect.redirectRules.0.protocol", "ICMP", 'spec.redirect.redirectRules[0].protocol: Unsupported value: '
                                                 '"ICMP": supported values: "TCP", "UDP", "SCTP"'),
    ("redirect.redirectRules.0.protocol", None, "spec.redirect.redirectRules[0].protocol: Required value"),
    ("redirect.redirectRules.2.port", 8080, "spec.redirect.redirectRules[2].port: Duplicate value: 8080"),
    ("redirect.redirectRules.0.destinationIP", "10.0.0.0/24",
     'spec.redirect.redirectRules[0].destinationIP: Invalid value: "10.0.0.0/24": must be an IP address'),
    ("redirect.fallbackIP", "x", 'spec.redirect.fallbackIP: Invalid value: "x": must be an IP address'),
    ("networkInterface.macvlan.mode", "bridge", 'spec.networkInterface.macvlan.mode: Unsupported value: "bridge"'),
    ("networkInterface.macvlan.master", "a/b", 'spec.networkInterface.macvlan.master: Invalid value: "a/b"'),
    ("redirect.redirectRules", [{"destinationIP": "1.2.3.4", "port": p, "protocol": "TCP"} for p in range(1, 258)],
     "spec.redirect.redirectRules: Too many: 257: must have at most 256 items"),
    ("redirect.redirectRules.0.port", "80", "spec.redirect.redirectRules[0].port: must be an integer"),
])
def test_refusals_name_the_field(path: str, value: Any, error: str) -> None:
    errors = check(spec_with(path, value))
    assert len(errors) == 1 and errors[0].startswith(error), errors


def test_status_conditions() -> None:
    obj = copy.deepcopy(SEED)
    obj["status"] = {"conditions": [{"type": "Ready", "status": "Yes", "lastTransitionTime": None}]}
    assert [e.split(":")[0] for e in check(obj)] == ["status.conditions[0].type", "status.conditions[0].status"]
