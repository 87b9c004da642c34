"""YAML bodies written as JSON (kubectl's apply patches) are read by the JSON decoder: the same values
as the YAML decoder gives for JSON text, JSON's meaning where YAML 1.1 differs, forty times less CPU;
flow-style YAML that is not JSON still goes to the YAML decoder."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from osdn.api.decode import Limits, decode_yaml
from osdn.apiserver.bodies import _decode_yaml
from osdn.errors import BadRequestError

TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=0xD7FF), max_size=8)
JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | TEXT,
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
                           max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(TEXT, JSON_VALUES, max_size=5))
def test_json_text_reads_as_the_yaml_decoder_reads_it(value: dict[str, Any]) -> None:
    raw = json.dumps(value).encode()
    assert _decode_yaml(raw, Limits()).value == decode_yaml(raw, Limits()).value == value


def test_json_numbers_mean_what_json_says() -> None:
    """`1e3` is a number in JSON (and for kube's decoder); YAML 1.1 read it as the string "1e3"."""
    assert _decode_yaml(b'{"spec": {"replicas": 1e3}}', Limits()).value == {"spec": {"replicas": 1000.0}}


@pytest.mark.parametrize(("raw", "value"), [
    (b"{a: b, c: [1, 2]}", {"a": "b", "c": [1, 2]}),
    (b"  [x, {y: z}]", ["x", {"y": "z"}]),
    (b"kind: ConfigMap\n", {"kind": "ConfigMap"}),
], ids=["flow-map", "flow-list", "block"])
def test_yaml_that_is_not_json_still_reads_as_yaml(raw: bytes, value: Any) -> None:
    assert _decode_yaml(raw, Limits()).value == value


def test_json_duplicates_are_reported_and_limits_still_hold() -> None:
    assert _decode_yaml(b'{"a": 1, "a": 2}', Limits()).duplicates
    with pytest.raises(BadRequestError, match="nested too deeply|depth"):
        _decode_yaml(b"[" * 200 + b"]" * 200, Limits())
