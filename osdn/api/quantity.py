"""Kubernetes `resource.Quantity` parsing ("10M", "1Mi", "1.2k", "500m", "1e3") to an exact value.

Pure. Grammar (k8s.io/apimachinery/pkg/api/resource):
    <quantity> ::= <signedNumber><suffix>
    <suffix>   ::= <binarySI> | <decimalExponent> | <decimalSI>
    binarySI   ::= Ki | Mi | Gi | Ti | Pi | Ei
    decimalSI  ::= n | u | m | "" | k | M | G | T | P | E
    exponent   ::= e<signedNumber> | E<signedNumber>
The amount is kept as a Fraction, so nothing is lost; `value()` rounds up (away from zero) like
`Quantity.Value()`, `milli_value()` likewise for `MilliValue()`; `canonical()` is kube's
`Quantity.String()` (the form its error messages show: "2000m" is "2", "1024Mi" is "1Gi").
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

_FORMAT = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
_NUMBER = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$")
_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
_EXPONENT = re.compile(r"^[eE][+-]?[0-9]+$")
MAX_DIGITS = 1000

_BINARY = {"Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60}
_DECIMAL = {"n": Fraction(1, 10 ** 9), "u": Fraction(1, 10 ** 6), "m": Fraction(1, 1000), "": Fraction(1),
            "k": Fraction(10 ** 3), "M": Fraction(10 ** 6), "G": Fraction(10 ** 9), "T": Fraction(10 ** 12),
            "P": Fraction(10 ** 15), "E": Fraction(10 ** 18)}


_DECIMAL_NAMES = {-9: "n", -6: "u", -3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P", 18: "E"}


class QuantityError(ValueError):
    """A string that is not a Kubernetes quantity; the message says which part is wrong."""


@dataclass(frozen=True)
class Quantity:
    amount: Fraction
    text: str

    def value(self) -> int:
        """The amount as an integer, rounded up (away from zero), like k8s `Quantity.Value()`."""
        return _round_up(self.amount)

    def milli_value(self) -> int:
        return _round_up(self.amount * 1000)

    def canonical(self) -> str:
        """kube's canonical form: the largest suffix of the written format that keeps an integer
        mantissa (binary only for whole numbers of at least 1Ki); nano precision, rounded up."""
        nanos = _round_up(self.amount * 10 ** 9)
        if nanos == 0:
            return "0"
        suffix = _suffix_of(self.text)
        if suffix in _BINARY and nanos % 10 ** 9 == 0 and abs(nanos) >= 1024 * 10 ** 9:
            whole = nanos // 10 ** 9
            for name, size in reversed(_BINARY.items()):
                if whole % size == 0:
                    return f"{whole // size}{name}"
        digits = str(abs(nanos))
        zeros = len(digits) - len(digits.rstrip("0"))
        if suffix[:1] in ("e", "E"):   # any multiple of 3 as the exponent
            power = (zeros - 9) // 3 * 3
            mantissa = nanos // 10 ** (power + 9)
            return f"{mantissa}e{power}" if power else str(mantissa)
        power = min((zeros - 9) // 3 * 3, 18)   # n, u, m, "", k, M, G, T, P, E
        return f"{nanos // 10 ** (power + 9)}{_DECIMAL_NAMES[power]}"

    def __str__(self) -> str:
        return self.text


def _round_up(x: Fraction) -> int:
    return math.ceil(x) if x >= 0 else math.floor(x)


def _suffix_of(text: str) -> str:
    m = _QUANTITY.match(text.strip())
    return m.group(2) if m else ""


def quantity_text(value: object) -> str:
    """A quantity as JSON may carry it (kube's decoder takes numbers too) as the string to parse."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise QuantityError(f"quantity must be a string or a number, got {value!r}")
    return value if isinstance(value, str) else repr(value)


def _multiplier(suffix: str) -> Fraction:
    if suffix in _BINARY:
        return Fraction(_BINARY[suffix])
    if suffix in _DECIMAL:
        return _DECIMAL[suffix]
    if _EXPONENT.match(suffix):
        if len(suffix[1:].lstrip("+-").lstrip("0")) > 4:  # before int(): 5,000 digits would raise
            raise QuantityError("quantity exponent out of range")
        exp = int(suffix[1:])
        if abs(exp) > 1000:
            raise QuantityError("quantity exponent out of range")
        return Fraction(10) ** exp
    raise QuantityError(f"unable to parse quantity's suffix {suffix!r}")


def parse_quantity(text: str) -> Quantity:
    """Parse a quantity string; raises QuantityError (a ValueError) with a clear message."""
    if not isinstance(text, str):
        raise QuantityError(f"quantity must be a string, got {text!r}")
    s = text.strip()
    if not s:
        raise QuantityError("quantities must be non-empty")
    m = _QUANTITY.match(s)
    if not m:
        raise QuantityError(f"quantities must match the regular expression '{_FORMAT}' (got {text!r})")
    number, suffix = m.groups()
    if not _NUMBER.match(number):
        raise QuantityError(f"unable to parse numeric part of quantity {text!r}")
    if len(number) > MAX_DIGITS:  # Python's int() refuses 4,300 digits; no real quantity has 100
        raise QuantityError(f"numeric part of quantity has more than {MAX_DIGITS} characters")
    return Quantity(Fraction(number) * _multiplier(suffix), text)
