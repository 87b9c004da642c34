"""Hostile quantities (bandwidth annotations, container resources, quotas): thousands of digits in
the number or the exponent are refused with a QuantityError, never Python's own ValueError (whose
"Exceeds the limit (4300 digits)" escaped every `except QuantityError` and crashed validation)."""

from __future__ import annotations

import pytest

from osdn.api.kinds.pod import bandwidth_problem, qos_class
from osdn.api.quantity import QuantityError, parse_quantity
from osdn.api.quota import parse_amount

HOSTILE = ["9" * 5000, "0." + "1" * 5000, "." + "5" * 4400 + "M", "1e" + "9" * 5000, "1E-" + "1" * 4400]


@pytest.mark.parametrize("text", HOSTILE, ids=lambda t: f"{t[:6]}..{len(t)}")
def test_huge_numbers_and_exponents_are_quantity_errors(text: str) -> None:
    with pytest.raises(QuantityError):
        parse_quantity(text)
    with pytest.raises(QuantityError):
        parse_amount(text)
    problem = bandwidth_problem(text)
    assert problem is not None and problem.startswith("failed to parse pod bandwidth")


@pytest.mark.parametrize("text", HOSTILE, ids=lambda t: f"{t[:6]}..{len(t)}")
def test_a_hostile_container_quantity_counts_as_none(text: str) -> None:
    spec = {"containers": [{"name": "c", "resources": {"limits": {"cpu": text}, "requests": {"cpu": text}}}]}
    assert qos_class(spec) == "BestEffort"


def test_ordinary_quantities_still_parse() -> None:
    assert parse_quantity("1" + "0" * 999).value() == 10 ** 999
    assert parse_quantity("1e0003").value() == 1000
    assert parse_quantity("10Gi").value() == 10 * 2 ** 30
    assert bandwidth_problem("10M") is None
