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
from collections.abc import Iterable
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
    return {p for p in out if p[:1] not in _IGNORED and p[:2] not in _IGNORED   # _IGNORED: 1 or 2 long
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


class Values:
    """Reads the values at paths of one object, which must not change while it is read.

    Each list is indexed once, on its first lookup (by merge key, or by value for a set), so a
    lookup costs the length of the path, not the length of the lists on it: an object with n keyed
    items answers n lookups in O(n), where scanning each list per lookup cost O(n^2). The answers are
    those of a scan (the first item whose key equals the wanted value, by Python's `==`).
    """

    def __init__(self, obj: Any) -> None:
        self.obj = obj
        self._index: dict[tuple[int, str], dict[Any, int]] = {}
        self._at: dict[Path, Any] = {(): obj}   # paths share their prefixes: each is walked once

    def at(self, path: Path) -> Any:
        """The value at `path`, or `MISSING`."""
        found = self._at.get(path, _MISSING)
        if found is _MISSING and path:
            parent = self.at(path[:-1])
            found = _MISSING if parent is _MISSING else self._step(parent, path[-1])
            self._at[path] = found
        return found

    def _step(self, cur: Any, element: str) -> Any:
        if element.startswith("f:"):
            return cur.get(element[2:], _MISSING) if isinstance(cur, dict) else _MISSING
        if not isinstance(cur, list):
            return _MISSING
        at = self.position(cur, element)
        return cur[at] if at >= 0 else _MISSING

    def position(self, items: list[Any], element: str) -> int:
        """Where in `items` the `k:` or `v:` element is (its first match), or -1."""
        try:
            want = json.loads(element[2:])
        except ValueError:
            return -1
        if element.startswith("v:"):
            if not _hashable(want):
                return next((n for n, item in enumerate(items) if item == want), -1)
            return self._indexed(items, "", lambda item: item).get(want, -1)
        if not isinstance(want, dict):
            return -1
        if len(want) != 1 or not _hashable(next(iter(want.values()))):
            return next((n for n, item in enumerate(items) if isinstance(item, dict)
                         and all(item.get(k) == v for k, v in want.items())), -1)
        (key, value), = want.items()
        return self._indexed(items, key, lambda item: item.get(key) if isinstance(item, dict) else _MISSING
                             ).get(value, -1)

    def _indexed(self, items: list[Any], key: str, of: Any) -> dict[Any, int]:
        index = self._index.get((id(items), key))
        if index is None:
            index = {}
            for n, item in enumerate(items):
                value = of(item)
                if value is not _MISSING and _hashable(value):
                    index.setdefault(value, n)
            self._index[(id(items), key)] = index
        return index


def _hashable(value: Any) -> bool:
    return not isinstance(value, dict | list)


def value_at(obj: Any, path: Path) -> Any:
    """The value at `path`, or `MISSING` (one lookup; use `Values` for many)."""
    return Values(obj).at(path)


def is_missing(value: Any) -> bool:
    return value is _MISSING


def remove_paths(obj: Obj, paths: Iterable[Path]) -> None:
    """Remove what each path names (a field, a keyed item, a set value) if it is there, shortest path
    first, so nothing under a removed member is looked for; each list is rebuilt once."""
    values, removed = Values(obj), set[Path]()
    drop: dict[int, tuple[list[Any], set[int]]] = {}
    for path in sorted(paths, key=len):
        if any(path[:n] in removed for n in range(1, len(path))):
            continue
        parent, element = values.at(path[:-1]), path[-1]
        if element.startswith("f:") and isinstance(parent, dict) and element[2:] in parent:
            del parent[element[2:]]
            removed.add(path)
        elif not element.startswith("f:") and isinstance(parent, list):
            at = values.position(parent, element)
            if at >= 0:
                drop.setdefault(id(parent), (parent, set()))[1].add(at)
                removed.add(path)
    for items, positions in drop.values():
        items[:] = [item for n, item in enumerate(items) if n not in positions]


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
