"""Field sets of server-side apply: which fields of an object a manager owns, in kube's FieldsV1 form.

Pure. A path is a tuple of path elements written as structured-merge-diff writes them: `f:spec`
(a field), `k:{"name":"app"}` (an item of a list merged by key), `v:"finalizer"` (a value of a set).
`fields_of` lists the paths an object sets: every leaf (a scalar, null, an empty map, an atomic list)
and every item of a keyed list or set (its "." member). The subset of structured-merge-diff kept
here: list keys are the strategic merge keys of `osdn.api.patchmeta` (kube adds `protocol` to the key
of ports), every other list is atomic, and maps are never atomic.
"""

from __future__ import annotations

import json
from typing import Any

from osdn.api.patchmeta import EMPTY, Node

Obj = dict[str, Any]
Path = tuple[str, ...]

# Fields no manager owns (kube's stripMeta): system metadata and the type.
_IGNORED: frozenset[Path] = frozenset({("f:apiVersion",), ("f:kind",)} | {
    ("f:metadata", f"f:{k}") for k in ("name", "namespace", "creationTimestamp", "selfLink", "uid",
                                       "generation", "managedFields", "resourceVersion", "deletionTimestamp")})


def _item_element(item: Any, key: str) -> str | None:
    if isinstance(item, dict) and key in item and not isinstance(item[key], dict | list):
        return "k:" + json.dumps({key: item[key]}, separators=(",", ":"))
    return None


def fields_of(obj: Obj, schema: Node, only: str = "", skip: str = "") -> set[Path]:
    """The paths `obj` sets; `only`/`skip` keep or drop one top-level field (`status`)."""
    out: set[Path] = set()
    _walk(obj, schema, (), out)
    return {p for p in out if not any(p[:len(i)] == i for i in _IGNORED)
            and (not only or p[0] == f"f:{only}") and (not skip or p[0] != f"f:{skip}")}


def _walk(obj: Obj, schema: Node, path: Path, out: set[Path]) -> None:
    for name, value in obj.items():
        here, meta = (*path, f"f:{name}"), schema.get(name)
        if isinstance(value, dict) and value:
            _walk(value, meta.node or EMPTY, here, out)
        elif isinstance(value, list) and value and meta.merges:
            _walk_list(value, meta.key, meta.node or EMPTY, here, out)
        else:
            out.add(here)


def _walk_list(items: list[Any], key: str, node: Node, path: Path, out: set[Path]) -> None:
    elements = [_item_element(i, key) for i in items] if key else \
        ["v:" + json.dumps(i) if not isinstance(i, dict | list) else None for i in items]
    if None in elements:   # an item without its key: the list is atomic
        out.add(path)
        return
    for item, element in zip(items, elements, strict=True):
        here = (*path, str(element))
        out.add(here)
        if key:
            _walk(item, node, here, out)


# ---- reading values at paths ------------------------------------------------------------------
_MISSING = object()


def value_at(obj: Any, path: Path) -> Any:
    """The value at `path`, or `MISSING`."""
    cur = obj
    for element in path:
        cur = _step(cur, element)
        if cur is _MISSING:
            break
    return cur


def _step(cur: Any, element: str) -> Any:
    kind, text = element[:2], element[2:]
    if kind == "f:":
        return cur.get(text, _MISSING) if isinstance(cur, dict) else _MISSING
    if not isinstance(cur, list):
        return _MISSING
    if kind == "v:":
        value = json.loads(text)
        return value if value in cur else _MISSING
    want = json.loads(text)
    for item in cur:
        if isinstance(item, dict) and all(item.get(k) == v for k, v in want.items()):
            return item
    return _MISSING


def is_missing(value: Any) -> bool:
    return value is _MISSING


def remove_path(obj: Obj, path: Path) -> None:
    """Remove what `path` names (a field, a keyed item, a set value) if it is there."""
    parent = value_at(obj, path[:-1])
    element = path[-1]
    if element.startswith("f:") and isinstance(parent, dict):
        parent.pop(element[2:], None)
    elif isinstance(parent, list):
        target = value_at(obj, path)
        if not is_missing(target):
            parent.remove(target)


def path_string(path: Path) -> str:
    """`.spec.containers[name="app"].image`, as kube names a field in a conflict."""
    out = ""
    for element in path:
        kind, text = element[:2], element[2:]
        if kind == "f:":
            out += f".{text}"
        elif kind == "k:":
            out += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in json.loads(text).items()) + "]"
        else:
            out += f"[={text}]"
    return out


# ---- FieldsV1 ---------------------------------------------------------------------------------
def to_fields_v1(paths: set[Path]) -> Obj:
    """The nested FieldsV1 form: a member that also has children gets a "." key."""
    root: Obj = {}
    for path in paths:
        node = root
        for element in path:
            node = node.setdefault(element, {})
    for path in paths:
        node = root
        for element in path[:-1]:
            node = node[element]
        if node[path[-1]] and "." not in node[path[-1]]:
            node[path[-1]]["."] = {}
    return _sorted(root)


def _sorted(node: Obj) -> Obj:
    return {k: _sorted(node[k]) for k in sorted(node)}


def from_fields_v1(fields: Any, prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    if not isinstance(fields, dict):
        return out
    for element, child in fields.items():
        if element == ".":
            out.add(prefix)
        elif not child:
            out.add((*prefix, element))
        else:
            out |= from_fields_v1(child, (*prefix, element))
    return out
