"""Patches: JSON merge patch (RFC 7386), JSON patch (RFC 6902), and the 3-way merge `apply` uses.

Pure. A JSON patch that cannot be applied (a missing path, a failed test, an unknown operation) is a
ValidationError (422 Invalid, as kube-apiserver answers) naming the failing operation; a body that is
not an array of operations is a BadRequestError (400). As kube-apiserver bounds a JSON patch: at most
`MAX_JSON_PATCH_OPS` operations (413), and `copy` operations may add at most `MAX_COPY_BYTES` of JSON
in all (422), so a few dozen copies of a copy cannot double an object into gigabytes.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from osdn.api.decode import parse_uint
from osdn.errors import BadRequestError, RequestEntityTooLargeError, ValidationError

Obj = dict[str, Any]
MAX_JSON_PATCH_OPS = 10_000          # kube-apiserver's maxJSONPatchOperations
MAX_COPY_BYTES = 3 * 1024 * 1024     # kube-apiserver's JSONPatchMaxCopyBytes


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, `null` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str):
        raise ValidationError(f"json patch: invalid path {path!r}: must be a string")
    if path == "":
        return []
    if not path.startswith("/"):
        raise ValidationError(f'json patch: invalid path "{path}": must start with "/"')
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str], path: str) -> tuple[Any, str]:
    if not parts:
        raise ValidationError(f'json patch: path "{path}" names the whole document, which has no parent')
    cur = doc
    for part in parts[:-1]:
        try:
            cur = cur[int(part)] if isinstance(cur, list) else cur[part]
        except (KeyError, IndexError, ValueError, TypeError):
            raise ValidationError(f'json patch: path "{path}" does not exist') from None
    return cur, parts[-1]


def _get(doc: Any, path: str) -> Any:
    cur = doc
    for part in _pointer(path):
        try:
            cur = cur[int(part)] if isinstance(cur, list) else cur[part]
        except (KeyError, IndexError, ValueError, TypeError):
            raise ValidationError(f'json patch: path "{path}" does not exist') from None
    return cur


def _add(doc: Any, path: str, value: Any) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent, last = _parent(doc, parts, path)
    if isinstance(parent, list):
        if last == "-":
            parent.append(value)
        else:
            idx = parse_uint(last)
            idx = -1 if idx is None else idx
            if not 0 <= idx <= len(parent):
                raise ValidationError(f'json patch: index "{last}" out of range in "{path}"')
            parent.insert(idx, value)
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        raise ValidationError(f'json patch: cannot add at "{path}"')
    return doc


def _remove(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    parent, last = _parent(doc, parts, path)
    try:
        if isinstance(parent, list):
            parent.pop(int(last))
        else:
            del parent[last]
    except (KeyError, IndexError, ValueError, TypeError):
        raise ValidationError(f'json patch: cannot remove "{path}": it does not exist') from None
    return doc


def json_patch(doc: Any, ops: Any) -> Any:
    """RFC 6902 operations add, remove, replace, move, copy, test."""
    if not isinstance(ops, list):
        raise BadRequestError("json patch: the patch must be a JSON array of operations")
    if len(ops) > MAX_JSON_PATCH_OPS:
        raise RequestEntityTooLargeError(f"The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPS}, "
                                         f"got {len(ops)}")
    doc, copied = copy.deepcopy(doc), 0
    for i, op in enumerate(ops):
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise ValidationError(f"json patch: operation {i} needs 'op' and 'path'")
        kind, path = op["op"], op["path"]
        if kind in ("add", "replace", "test") and "value" not in op:
            raise ValidationError(f"json patch: operation {i} ({kind} {path}) needs 'value'")
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "remove":
            doc = _remove(doc, path)
        elif kind == "replace":
            _get(doc, path)
            doc = _add(_remove(doc, path), path, copy.deepcopy(op["value"])) if _pointer(path) else op["value"]
        elif kind in ("move", "copy"):
            value = _get(doc, op.get("from", ""))
            if kind == "copy":
                copied += len(json.dumps(value, separators=(",", ":")))
                if copied > MAX_COPY_BYTES:
                    raise ValidationError(f"json patch: operation {i} (copy to {path}): Unable to complete the copy, "
                                          f"the accumulated size increase of copy is {copied}, exceeding the limit "
                                          f"{MAX_COPY_BYTES}")
            value = copy.deepcopy(value)
            if kind == "move":
                doc = _remove(doc, op["from"])
            doc = _add(doc, path, value)
        elif kind == "test":
            if _get(doc, path) != op["value"]:
                raise ValidationError(f'json patch: test failed at "{path}"')
        else:
            raise ValidationError(f'json patch: unknown operation "{kind}"')
    return doc


def three_way_patch(last_applied: Obj | None, desired: Obj) -> Obj:
    """The merge patch `apply` sends: everything the user wants, plus deletions of what they dropped
    since the last apply (fields other writers set, like status or a clusterIP, are left alone)."""
    patch = copy.deepcopy(desired)
    _mark_removed(last_applied or {}, patch)
    return patch


def _mark_removed(old: Obj, patch: Obj) -> None:
    for key, value in old.items():
        if key not in patch:
            patch[key] = None
        elif isinstance(value, dict) and isinstance(patch[key], dict):
            _mark_removed(value, patch[key])
