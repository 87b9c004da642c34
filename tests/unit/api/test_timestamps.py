"""RFC 3339 timestamps without datetime: agree with the standard library on every day of four centuries."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from osdn.api.timestamps import format_time, parse


@given(st.datetimes(min_value=datetime.datetime(1601, 1, 1), max_value=datetime.datetime(2400, 12, 31),
                    timezones=st.just(datetime.UTC)))
def test_round_trips_as_the_standard_library(moment: datetime.datetime) -> None:
    moment = moment.replace(microsecond=0)
    text = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert parse(text) == moment.timestamp()
    assert format_time(moment.timestamp()) == text


@pytest.mark.parametrize("text,expect", [
    ("1970-01-01T00:00:00Z", 0.0),
    ("2024-02-29T12:00:00Z", 1709208000.0),
    ("2026-12-04T13:41:03.25Z", 1796391663.25),
    ("2026-12-04T15:41:03+02:00", 1796391663.0),
    ("2026-12-04T11:41:03-02:00", 1796391663.0),
    ("2026-12-04T13:41:03", 1796391663.0),
], ids=str)
def test_parses_what_kubernetes_writes(text: str, expect: float) -> None:
    assert parse(text) == expect


@pytest.mark.parametrize("text", ["", None, "yesterday", "2023-02-29T00:00:00Z", "2026-13-01T00:00:00Z",
                                  "2026-01-01T24:00:00Z", "2026-01-01T00:00:00Zjunk", 17], ids=str)
def test_refuses_what_is_not_a_time(text: object) -> None:
    assert parse(text) is None
