"""The HSTS annotation rules (osdn.api.hsts): which values the upstream router uses, emits, ignores."""

from __future__ import annotations

import pytest

from osdn.api.hsts import hsts_header, ignored_because

USED = [
    "max-age=31536000;includeSubDomains;preload",  # the seed's example
    "max-age=0",
    'max-age="99999"',
    'max-age  =  "99999"',
    "MAX-AGE=1;INCLUDESUBDOMAINS",
    "preload;max-age=1",
    "includeSubDomains ; max-age=5 ; preload",
    "max-age=1;preload;preload",  # upstream's pattern repeats tokens freely
]
IGNORED = [
    ("", "max-age"),
    ("includeSubDomains;preload", "max-age"),
    ("max-age=1;max-age=2", "more than once"),
    ("max-age=abc", "max-age"),
    ("max-age=1;foo", "unknown directive 'foo'"),
    ("max-age=1;", "unknown directive ''"),
    (" max-age=1", "white space"),
    ("max-age=1,preload", "max-age"),
]


@pytest.mark.parametrize("value", USED, ids=USED)
def test_router_sends_values_matching_upstream_pattern_verbatim(value: str) -> None:
    assert hsts_header(value, "edge") == value
    assert hsts_header(value, "reencrypt") == value
    assert ignored_because(value) is None


@pytest.mark.parametrize("value", USED[:2], ids=USED[:2])
@pytest.mark.parametrize("termination", ["", "passthrough", None])
def test_no_header_on_http_or_passthrough_routes(value: str, termination: str | None) -> None:
    assert hsts_header(value, termination) is None


@pytest.mark.parametrize(("value", "why"), IGNORED, ids=[v for v, _ in IGNORED])
def test_values_the_router_ignores_say_why(value: str, why: str) -> None:
    assert hsts_header(value, "edge") is None
    reason = ignored_because(value)
    assert reason is not None and why in reason


def test_no_annotation_no_header() -> None:
    assert hsts_header(None, "edge") is None
