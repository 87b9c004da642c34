"""Secret (core/v1): model, defaulting and validation. Pure.

As kube-apiserver: `stringData` is write-only (merged into `data`, base64, on every write), `type`
defaults to Opaque and cannot change, the typed secrets need their keys (`kubernetes.io/tls`:
tls.crt and tls.key, `kubernetes.io/dockerconfigjson`: .dockerconfigjson, ...), an immutable
Secret's data cannot change, and all data together is at most 1 MiB.
"""

from __future__ import annotations

import base64
import binascii
import re

from osdn.api import validation as v
from osdn.api.kinds.meta import Obj, TypedObject, parse_strict
from osdn.errors import FieldError

MAX_SECRET_BYTES = 1024 * 1024
_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_REQUIRED_KEYS = {
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
}


class Secret(TypedObject):
    data: dict[str, str] | None = None
    string_data: dict[str, str] | None = None
    type: str | None = None
    immutable: bool | None = None


def default_secret(obj: Obj) -> None:
    """type Opaque; stringData merged into data (base64), as kube's conversion does, and dropped."""
    if obj.get("type") in (None, ""):
        obj["type"] = "Opaque"
    string_data = obj.get("stringData")
    if isinstance(string_data, dict) and all(isinstance(x, str) for x in string_data.values()):
        data = obj.get("data")
        obj["data"] = {**(data if isinstance(data, dict) else {}), **{k: base64.b64encode(x.encode()).decode() for k, x in string_data.items()}}
        del obj["stringData"]


def _decoded(key: str, value: str, errs: list[FieldError]) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        errs.append(v.invalid(f"data[{key}]", "<secret value>", "must be base64-encoded"))
        return b""


def validate_secret(obj: Obj, old: Obj | None) -> list[FieldError]:
    secret, errs = parse_strict(Secret, obj)
    if secret is None:
        return errs
    data = secret.data or {}
    size = 0
    for key, value in data.items():
        if len(key) > 253 or not _KEY.match(key):
            errs.append(v.invalid(f"data[{key}]", key, "a valid config key must consist of alphanumeric "
                                  "characters, '-', '_' or '.'"))
        size += len(_decoded(key, value, errs))
    if size > MAX_SECRET_BYTES:
        errs.append(FieldError("data", f"Too long: must have at most {MAX_SECRET_BYTES} bytes"))
    for key in _REQUIRED_KEYS.get(secret.type or "", ()):
        if key not in data:
            errs.append(v.required(f"data[{key}]"))
    if old is not None:
        errs += _validate_update(obj, old)
    return errs


def _validate_update(obj: Obj, old: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    if old.get("type", "Opaque") != obj.get("type", "Opaque"):
        errs.append(v.invalid("type", obj.get("type"), "field is immutable"))
    if old.get("immutable") is True:
        if obj.get("immutable") is not True:
            errs.append(v.forbidden("immutable", "field is immutable when `immutable` is set"))
        if obj.get("data") != old.get("data"):
            errs.append(v.forbidden("data", "field is immutable when `immutable` is set"))
    return errs
