"""The JSON types Go clients decode a stored object with, checked before it is stored.

Pure. osdn models only part of some upstream types (`osdn.api.fields._OPEN`): their other fields are
kept unchecked, so a tenant could store `terminationGracePeriodSeconds: "x"` in a pod template. Every
client that decodes the kind typed (client-go informers, protobuf: osdn's protobuf answers then were
406 for the whole list, in every namespace) would then fail on another tenant's object. The protobuf
table (`osdn.api.protobuf.SCHEMA`, transcribed from upstream's generated.proto) knows the type of each
field it carries; a value of another JSON type is refused here, naming the field. Fields the table
does not carry are not judged.
"""

from __future__ import annotations

from typing import Any

from osdn.api import timestamps
from osdn.api.protobuf import ENCODABLE, SCHEMA, FieldDef
from osdn.errors import FieldError

_INT64 = (-(1 << 63), (1 << 63) - 1)


def _scalar_problem(kind: str, value: Any) -> str | None:
    """Why `value` cannot be a Go value of table type `kind` decoded from JSON (None: it can)."""
    if value is None or kind in ("J", "y"):   # null is the zero value; raw JSON is anything; bytes: checked by kinds
        return None
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if kind == "i":
        return None if is_int and _INT64[0] <= value <= _INT64[1] else "must be an integer"
    if kind == "b":
        return None if isinstance(value, bool) else "must be a boolean"
    if kind == "d" or kind == "Q":   # a Quantity may be written as a number, as kube's decoder takes it
        number = (is_int or isinstance(value, float)) and not isinstance(value, bool)
        return None if number or (kind == "Q" and isinstance(value, str)) else "must be a number" \
            if kind == "d" else "must be a quantity (a string or a number)"
    if kind == "I":
        return None if is_int or isinstance(value, str) else "must be an integer or a string"
    if kind == "T":
        return None if isinstance(value, str) and timestamps.parse(value) is not None else \
            "must be an RFC 3339 time (e.g. 2026-01-02T03:04:05Z)"
    return None if isinstance(value, str) else "must be a string"


def _field(fd: FieldDef, value: Any, path: str, out: list[FieldError]) -> None:
    if value is None:
        return
    if fd.map:
        if not isinstance(value, dict):
            out.append(FieldError(path, "must be an object"))
            return
        for key, item in value.items():
            _one(fd.type, item, f"{path}[{key}]", out)
    elif fd.repeated:
        if not isinstance(value, list):
            out.append(FieldError(path, "must be a list"))
            return
        for i, item in enumerate(value):
            _one(fd.type, item, f"{path}[{i}]", out)
    else:
        _one(fd.type, value, path, out)


def _one(kind: str, value: Any, path: str, out: list[FieldError]) -> None:
    if kind in SCHEMA:
        if value is not None and not isinstance(value, dict):
            out.append(FieldError(path, "must be an object"))
        elif value:
            _message(kind, value, path, out)
    elif (problem := _scalar_problem(kind, value)) is not None:
        out.append(FieldError(path, f"Invalid value: {value!r:.80}: {problem}"))


def _message(message: str, obj: dict[str, Any], where: str, out: list[FieldError]) -> None:
    for fd in SCHEMA[message].values():
        if fd.inline:
            _message(fd.type, obj, where, out)
        elif fd.name in obj:
            _field(fd, obj[fd.name], f"{where}.{fd.name}".lstrip("."), out)


def type_errors(obj: dict[str, Any]) -> list[FieldError]:
    """Fields of `obj` (a kind of the protobuf table) whose JSON type a Go client could not decode."""
    message = ENCODABLE.get((obj.get("apiVersion", ""), obj.get("kind", "")))
    out: list[FieldError] = []
    if message is not None:
        _message(message, obj, "", out)
    return out
