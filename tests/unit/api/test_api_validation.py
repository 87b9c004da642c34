"""Shared field checks (osdn.api.validation) and Kubernetes quantities (osdn.api.quantity)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from osdn.api import validation as v
from osdn.api.quantity import QuantityError, parse_quantity

CIDRS = [
    ("10.1.0.0/16", None),
    ("0.0.0.0/0", None),
    ("1.2.3.4/32", None),
    ("10.1.2.3/16", 'CIDR network specification "10.1.2.3/16" is not in canonical form '
                    "(should be 10.1.0.0/16 or 10.1.2.3/32?)"),
    ("fd00::/64", "must be an IPv4 network"),
    ("10.1.0.0", "invalid CIDR address: 10.1.0.0"),
    ("10.1.0.0/33", "invalid CIDR address: 10.1.0.0/33"),
    ("", 'invalid CIDR address: ""'),
    ("banana/8", "invalid CIDR address: banana/8"),
]


@pytest.mark.parametrize("value,problem", CIDRS, ids=[c[0] or "empty" for c in CIDRS])
def test_cidr_problem(value: str, problem: str | None) -> None:
    assert v.cidr_problem(value) == problem
    errs = v.validate_cidr(value, "spec.x")
    assert [e.field for e in errs] == ([] if problem is None else ["spec.x"])


@pytest.mark.parametrize("value,ok", [("10.0.0.1", True), ("255.255.255.255", True), ("10.0.0", False),
                                      ("10.0.0.256", False), ("::1", False), ("", False), (None, False)],
                         ids=["plain", "broadcast", "short", "octet", "ipv6", "empty", "none"])
def test_ipv4(value: object, ok: bool) -> None:
    assert (v.validate_ipv4(value, "hostIP") == []) is ok


@pytest.mark.parametrize("value,label,subdomain", [
    ("a", True, True), ("web-1", True, True), ("www.foo.com", False, True), ("Web", False, False),
    ("-a", False, False), ("a-", False, False), ("a_b", False, False), ("a" * 63, True, True),
    ("a" * 64, False, True), ("", False, False),
], ids=["one", "dash", "dots", "upper", "lead-dash", "trail-dash", "underscore", "63", "64", "empty"])
def test_dns1123(value: str, label: bool, subdomain: bool) -> None:
    assert v.is_dns1123_label(value) is label
    assert v.is_dns1123_subdomain(value) is subdomain


@pytest.mark.parametrize("value,problem", [
    ("http", None), ("https-alt", None), ("a1", None), ("x" * 15, None),
    ("x" * 16, "must be no more than 15 characters"), ("", "must be no more than 15 characters"),
    ("HTTP", "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"),
    ("a--b", "must not contain consecutive hyphens"), ("8080", "must contain at least one letter (a-z)"),
    ("-http", "must not begin or end with a hyphen"), ("http-", "must not begin or end with a hyphen"),
], ids=["http", "dash", "digit", "15", "16", "empty", "upper", "double-dash", "digits", "lead", "trail"])
def test_iana_svc_name(value: str, problem: str | None) -> None:
    assert v.iana_svc_name_problem(value) == problem


@pytest.mark.parametrize("value,ok", [(1, True), (65535, True), (0, False), (65536, False), (True, False),
                                      ("80", False)], ids=["1", "max", "0", "too-big", "bool", "string"])
def test_port_number(value: object, ok: bool) -> None:
    assert (v.validate_port_number(value, "p") == []) is ok


def test_port_num_or_name() -> None:
    assert v.validate_port_num_or_name("http", "p") == []
    assert v.validate_port_num_or_name(8080, "p") == []
    assert v.validate_port_num_or_name("80", "p")[0].message.startswith('Invalid value: "80"')


def test_error_constructors() -> None:
    assert v.required("spec.x").reason == "FieldValueRequired"
    assert str(v.not_supported("spec.p", "ICMP", v.PROTOCOLS)) == \
        'spec.p: Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP"'
    assert str(v.invalid("netid", 5, "VNID must be greater than or equal to 10")) == \
        "netid: Invalid value: 5: VNID must be greater than or equal to 10"


QUANTITIES = [
    ("10M", Fraction(10_000_000), 10_000_000), ("4M", Fraction(4_000_000), 4_000_000),
    ("1Mi", Fraction(2 ** 20), 2 ** 20), ("1.2k", Fraction(1200), 1200), ("500m", Fraction(1, 2), 1),
    ("1e3", Fraction(1000), 1000), ("1E", Fraction(10 ** 18), 10 ** 18), ("0.5k", Fraction(500), 500),
    ("2P", Fraction(2 * 10 ** 15), 2 * 10 ** 15), ("1.5", Fraction(3, 2), 2), ("-1.5", Fraction(-3, 2), -2),
    (".5Ki", Fraction(512), 512), ("100", Fraction(100), 100), ("+1k", Fraction(1000), 1000),
    ("1n", Fraction(1, 10 ** 9), 1), ("12e-3", Fraction(12, 1000), 1),
]


@pytest.mark.parametrize("text,amount,value", QUANTITIES, ids=[q[0] for q in QUANTITIES])
def test_quantity(text: str, amount: Fraction, value: int) -> None:
    q = parse_quantity(text)
    assert q.amount == amount
    assert q.value() == value
    assert str(q) == text


def test_quantity_milli_value() -> None:
    assert parse_quantity("1.5").milli_value() == 1500
    assert parse_quantity("1u").milli_value() == 1


@pytest.mark.parametrize("text,words", [
    ("foo", "quantities must match the regular expression"), ("", "non-empty"), ("1..2", "numeric part"),
    ("1Qi", "quantities must match"), ("1Kii", "suffix"), ("1e", "suffix"), ("10 M", "quantities must match"),
], ids=["word", "empty", "two-dots", "bad-suffix", "double-suffix", "bare-e", "space"])
def test_quantity_errors(text: str, words: str) -> None:
    with pytest.raises(QuantityError, match=words):
        parse_quantity(text)


# ---- object names per kind (issue 9 item 3)

@pytest.mark.parametrize("kind, name, ok", [
    ("ClusterRoleBinding", "system:node:n1", True),
    ("ClusterRoleBinding", "Mixed Case ok", True),
    ("ClusterRoleBinding", "a/b", False),
    ("ClusterRole", "..", False),
    ("ClusterRole", ".", False),
    ("RoleBinding", "50%", False),
    ("RoleBinding", "two\nlines", False),
    ("RoleBinding", "x" * 253, True),
    ("RoleBinding", "x" * 254, False),
    ("Namespace", "a.b", False),
    ("Namespace", "p1", True),
    ("Project", "p", True),  # the 2-character rule is the project request's (apiserver/projects.py)
    ("Service", "1web", False),
    ("Service", "web-1", True),
    ("ConfigMap", "a.b-c", True),
    ("ConfigMap", "A", False),
], ids=lambda x: repr(x)[:20])
def test_validate_object_name(kind: str, name: str, ok: bool) -> None:
    errs = v.validate_object_name(kind, name)
    assert (errs == []) is ok
    assert all(e.field == "metadata.name" for e in errs)


@pytest.mark.parametrize("value, ok", [("0", True), ("3600", True), ("abc", False), ("-1", False), ("1.5", False)])
def test_deadline_override_annotation(value: str, ok: bool) -> None:
    errs = v.validate_deadline_override({v.ACTIVE_DEADLINE_OVERRIDE: value})
    assert (errs == []) is ok
    assert all(v.ACTIVE_DEADLINE_OVERRIDE in e.field for e in errs)
