"""Bounded decoding (osdn.api.decode): every hostile body is a BadRequestError naming what is wrong,
at a cost bounded by the body's size; well-formed bodies decode to plain JSON values."""

from __future__ import annotations

import contextlib
import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from osdn.api.decode import Limits, decode_json, decode_yaml
from osdn.errors import BadRequestError


def laughs(levels: int) -> bytes:
    """The classic YAML alias bomb: 9 lols expanded 9 times per level (about 450 bytes for 9 levels)."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    names = "abcdefghijklmnop"
    for prev, cur in zip(names, names[1:levels], strict=False):
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines).encode()


def refused(raw: bytes, yaml_body: bool = True) -> str:
    with pytest.raises(BadRequestError) as e:
        (decode_yaml if yaml_body else decode_json)(raw)
    return e.value.message


def test_alias_bomb_is_refused_before_it_expands() -> None:
    raw = laughs(9)
    assert len(raw) < 500
    start = time.perf_counter()
    assert "too many nodes through aliases" in refused(raw)
    assert time.perf_counter() - start < 0.5


def test_modest_aliases_are_fine_and_expanded() -> None:
    value = decode_yaml(b"base: &b {app: web}\nspec: {selector: *b, template: {labels: *b}}").value
    assert value["spec"] == {"selector": {"app": "web"}, "template": {"labels": {"app": "web"}}}


@pytest.mark.parametrize(("raw", "words"), [
    (b"a: &a [*a]", "recursive alias"),
    (b"[" * 2000 + b"]" * 2000, "nested too deeply"),
    (b"a: &x " + b"[" * 60 + b"]" * 60 + b"\nb: " + b"[" * 60 + b"*x" + b"]" * 60, "nested too deeply"),
    (b"x: !!binary aGVsbG8=", "!!binary"),
    (b"x: !!set {a, b}", "!!set"),
    (b"x: !!omap [a: 1]", "!!omap"),
    (b"x: .inf", "not a JSON number"),
    (b"x: .nan", "not a JSON number"),
    (b'x: "\\ud800"', "x: invalid Unicode"),
    (b"? [a]\n: b", "mapping keys must be strings"),
    (b"x: !!python/object:os.system {}", "could not determine a constructor"),
    (b"a: 1\n---\nb: 2", "expected a single document"),
], ids=["recursive", "deep", "deep-through-alias", "binary", "set", "omap", "inf", "nan", "surrogate",
        "complex-key", "python-tag", "two-documents"])
def test_yaml_refusals(raw: bytes, words: str) -> None:
    assert words in refused(raw)


def test_yaml_values_stay_json() -> None:
    value = decode_yaml(b"d: 2001-12-14\nt: 2001-12-14t21:59:43.10-05:00\n1: one\ntrue: yes-key\nn: 0x1f").value
    assert value == {"d": "2001-12-14", "t": "2001-12-14t21:59:43.10-05:00", "1": "one", "true": "yes-key",
                     "n": 31}


@pytest.mark.parametrize(("raw", "words"), [
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b'{"a":' * 150 + b"1" + b"}" * 150, "nested too deeply"),
    (b'{"metadata": {"name": "\\ud800"}}', "metadata.name: invalid Unicode"),
    (b'{"a": NaN}', "NaN is not valid JSON"),
    (b'{"a": -Infinity}', "-Infinity is not valid JSON"),
    (b'{"a": 1e999}', "a: inf is not a JSON number"),
    (b'{"spec": {"n": 9223372036854775808}}', "spec.n: 9223372036854775808 does not fit in a 64-bit integer"),
    (b'[-9223372036854775809]', "[0]: -9223372036854775809 does not fit in a 64-bit integer"),
    (b"\xff\xfe{}", "not valid JSON"),
    (b'{"a": 1', "not valid JSON"),
], ids=["deep-list", "deep-object", "surrogate", "nan", "infinity", "overflow", "int64-overflow", "int64-underflow", "bad-utf8", "truncated"])
def test_json_refusals(raw: bytes, words: str) -> None:
    assert words in refused(raw, yaml_body=False)


def test_yaml_integers_beyond_64_bits_are_refused() -> None:
    assert "spec.n: 18446744073709551616 does not fit in a 64-bit integer" in refused(b"spec: {n: 0x10000000000000000}")
    assert decode_yaml(b"n: 9223372036854775807").value == {"n": 2**63 - 1}


def test_duplicates_are_reported_with_paths() -> None:
    decoded = decode_json(b'{"spec": {"a": 1, "a": 2, "l": [{"k": 1, "k": 2}]}, "x": 1, "x": 2}')
    assert decoded.value == {"spec": {"a": 2, "l": [{"k": 2}]}, "x": 2}
    assert decoded.duplicates == ["spec.a", "spec.l[0].k", "x"]
    assert decode_yaml(b"spec:\n  a: 1\n  a: 2\n").duplicates == ["spec.a"]
    assert decode_yaml(b"base: &b {a: 1}\nm: {<<: *b, a: 2}").duplicates == []   # a merge key is no duplicate


def test_valid_surrogate_pair_is_one_character() -> None:
    assert decode_json(b'"\\ud83d\\ude00"').value == "\U0001f600"


def test_limits_are_configurable() -> None:
    with pytest.raises(BadRequestError):
        decode_json(b"[[[[1]]]]", Limits(max_depth=3))
    with pytest.raises(BadRequestError):
        decode_yaml(b"a: &a [1, 2, 3]\nb: [*a, *a]", Limits(max_alias_nodes=4))


json_values = st.recursive(st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.text(),
                           lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(), kids, max_size=4),
                           max_leaves=20)


@settings(max_examples=150, derandomize=True, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_decode_or_are_a_bad_request(raw: bytes) -> None:
    for decode in (decode_json, decode_yaml):
        with contextlib.suppress(BadRequestError):
            decode(raw)


@settings(max_examples=150, derandomize=True, deadline=None)
@given(json_values)
def test_json_values_round_trip(value: object) -> None:
    assert decode_json(json.dumps(value).encode()).value == value


def test_an_error_that_quotes_a_lone_surrogate_still_renders() -> None:
    """A YAML key `"\\ud800"` is named in the 400's message; the Status must still encode as UTF-8
    (it failed the response with a 500 before)."""
    with pytest.raises(BadRequestError) as err:
        decode_yaml(b'{"\\ud800": 1}')
    status = err.value.to_status()
    assert status["code"] == 400 and "\\ud800" in status["message"]
    json.dumps(status, ensure_ascii=False).encode("utf-8")
