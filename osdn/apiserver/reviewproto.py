"""Protobuf request bodies of the review kinds (kubectl's typed clients send them as protobuf).

The `k8s\\x00` envelope holds a runtime.Unknown {1: TypeMeta{1: apiVersion, 2: kind}, 2: raw}; `raw` is
the message, decoded here with the field numbers of upstream's generated.proto (k8s.io/api
authorization/v1 and authentication/v1). Only what the reviews read is decoded (spec; metadata is
skipped); answers go back as JSON, which client-go accepts. Pure.
"""

from __future__ import annotations

from typing import Any

from osdn.errors import BadRequestError

MAGIC = b"k8s\x00"
Schema = dict[int, tuple[str, Any]]        # field number -> (JSON name, "string" | "strings" | Schema)

_RESOURCE_ATTRIBUTES: Schema = {1: ("namespace", "string"), 2: ("verb", "string"), 3: ("group", "string"),
                                4: ("version", "string"), 5: ("resource", "string"),
                                6: ("subresource", "string"), 7: ("name", "string")}
_NON_RESOURCE_ATTRIBUTES: Schema = {1: ("path", "string"), 2: ("verb", "string")}
_ACCESS_SPEC: Schema = {1: ("resourceAttributes", _RESOURCE_ATTRIBUTES),
                        2: ("nonResourceAttributes", _NON_RESOURCE_ATTRIBUTES),
                        3: ("user", "string"), 4: ("groups", "strings"), 6: ("uid", "string")}
MESSAGES: dict[str, Schema] = {
    "SelfSubjectAccessReview": {2: ("spec", _ACCESS_SPEC)},
    "SubjectAccessReview": {2: ("spec", _ACCESS_SPEC)},
    "LocalSubjectAccessReview": {2: ("spec", _ACCESS_SPEC)},
    "SelfSubjectRulesReview": {2: ("spec", {1: ("namespace", "string")})},
    "SelfSubjectReview": {},
}
_TYPE_META: Schema = {1: ("apiVersion", "string"), 2: ("kind", "string")}
_UNKNOWN: Schema = {1: ("typeMeta", _TYPE_META), 2: ("raw", "bytes")}


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise BadRequestError("the protobuf body is truncated or malformed (varint)")
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos, shift = pos + 1, shift + 7
        if not byte & 0x80:
            return value, pos


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            out.append((number, value))
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise BadRequestError("the protobuf body is truncated (length-delimited field)")
            out.append((number, data[pos:pos + length]))
            pos += length
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            raise BadRequestError(f"the protobuf body uses wire type {wire}, which no review field has")
    return out


def decode(data: bytes, schema: Schema) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for number, value in _fields(data):
        if number not in schema or not isinstance(value, bytes):
            continue
        name, kind = schema[number]
        if kind == "string":
            obj[name] = value.decode("utf-8", "replace")
        elif kind == "strings":
            obj.setdefault(name, []).append(value.decode("utf-8", "replace"))
        elif kind == "bytes":
            obj[name] = value
        else:
            obj[name] = decode(value, kind)
    return obj


def decode_review(body: bytes, kind: str) -> dict[str, Any]:
    """The JSON form of a protobuf review request of `kind`."""
    if not body.startswith(MAGIC):
        raise BadRequestError("the protobuf body does not start with the k8s\\x00 envelope")
    unknown = decode(body[len(MAGIC):], _UNKNOWN)
    sent = unknown.get("typeMeta", {}).get("kind", kind)
    if sent != kind:
        raise BadRequestError(f"the request body must be a {kind} object, not {sent}")
    obj = decode(unknown.get("raw", b""), MESSAGES[kind])
    return {"apiVersion": unknown.get("typeMeta", {}).get("apiVersion", ""), "kind": kind, "metadata": {}, **obj}
