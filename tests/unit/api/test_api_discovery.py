"""EndpointSlice (discovery.k8s.io/v1) validation and defaulting, as upstream's
pkg/apis/discovery/validation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

Problems = Callable[..., list[str]]


def eps(address_type: Any = "IPv4", endpoints: Any = None, ports: Any = None) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                           "metadata": {"name": "web-abcde"}, "addressType": address_type,
                           "endpoints": [{"addresses": ["10.128.0.5"]}] if endpoints is None else endpoints}
    if ports is not None:
        obj["ports"] = ports
    return obj


CASES = [
    ("ok", eps(ports=[{"name": "http", "port": 80}]), []),
    ("no addressType", eps(address_type=None), ["addressType: Required value"]),
    ("bad addressType", eps(address_type="IP"),
     ['addressType: Unsupported value: "IP": supported values: "FQDN", "IPv4", "IPv6"']),
    ("no addresses", eps(endpoints=[{"addresses": []}]),
     ["endpoints[0].addresses: Required value: must contain at least 1 address"]),
    ("ipv6 in an IPv4 slice", eps(endpoints=[{"addresses": ["fd00::1"]}]),
     ['endpoints[0].addresses[0]: Invalid value: "fd00::1": must be a valid IPv4 address']),
    ("loopback", eps(endpoints=[{"addresses": ["127.0.0.1"]}]),
     ['endpoints[0].addresses[0]: Invalid value: "127.0.0.1": may not be in the loopback range '
      '(127.0.0.0/8, ::1/128)']),
    ("link-local", eps(endpoints=[{"addresses": ["169.254.169.254"]}]),
     ['endpoints[0].addresses[0]: Invalid value: "169.254.169.254": may not be in the link-local range '
      '(169.254.0.0/16, fe80::/10)']),
    ("fqdn", eps(address_type="FQDN", endpoints=[{"addresses": ["db.example.com"]}]), []),
    ("bad hostname", eps(endpoints=[{"addresses": ["10.1.1.1"], "hostname": "Db_0"}]),
     ['endpoints[0].hostname: Invalid value: "Db_0": a DNS-1123 label must consist of lower case alphanumeric '
      "characters or '-', start and end with an alphanumeric character, and be at most 63 characters"]),
    ("too many endpoints", eps(endpoints=[{"addresses": ["10.1.1.1"]}] * 1001),
     ["endpoints: Too many: 1001: must have at most 1000 items"]),
    ("duplicate port names", eps(ports=[{"name": "a", "port": 80}, {"name": "a", "port": 81}]),
     ['ports[1].name: Duplicate value: "a"']),
    ("two unnamed ports", eps(ports=[{"port": 80}, {"port": 81}]), ['ports[1].name: Duplicate value: ""']),
    ("bad protocol", eps(ports=[{"name": "a", "port": 80, "protocol": "ICMP"}]),
     ['ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"']),
    ("bad appProtocol", eps(ports=[{"name": "a", "port": 80, "appProtocol": "not ok!"}]),
     ['ports[0].appProtocol: Invalid value: "not ok!": name part of "not ok!" must consist of alphanumeric '
      'characters, "-", "_" or ".", start and end with an alphanumeric character, and be at most 63 characters']),
    ("wrong type", eps(endpoints=[{"addresses": "10.1.1.1"}]), ["endpoints[0].addresses: must be a list, got '10.1.1.1'"]),
]


@pytest.mark.parametrize(("obj", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_endpoint_slice(problems: Problems, obj: dict[str, Any], expected: list[str]) -> None:
    assert problems(obj) == expected


def test_defaults_and_address_type_immutable(created: Callable[..., Any], problems: Problems) -> None:
    got = created(eps(ports=[{"port": 80}]))
    assert got["ports"] == [{"name": "", "port": 80, "protocol": "TCP"}]
    assert problems(eps(address_type="IPv6", endpoints=[]), eps()) == [
        'addressType: Invalid value: "IPv6": field is immutable']
