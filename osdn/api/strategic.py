"""Strategic merge patch (application/strategic-merge-patch+json), as kube-apiserver applies it.

Pure. A port of `StrategicMergeMapPatch` of k8s.io/apimachinery/pkg/util/strategicpatch (patch.go)
with its options for applying a patch to an object (parallel lists merged, unmatched nulls ignored):
- maps merge key by key; `null` deletes a key; `$patch: replace` replaces a map, `$patch: delete`
  empties it;
- lists whose field has strategy `merge` (see `osdn.api.patchmeta`) merge: lists of objects by their
  merge key (`{name: c, $patch: delete}` removes an item, `{$patch: replace}` replaces the list),
  lists of scalars as a set; `$deleteFromPrimitiveList/<list>` removes scalars;
  `$setElementOrder/<list>` orders the result; every other list is replaced whole;
- `$retainKeys: [...]` drops the keys of the object that it does not name.
Errors are BadRequestError with upstream's wording. Neither argument is changed.
"""

from __future__ import annotations

import copy
from typing import Any

from osdn.api.patchmeta import Field, Node
from osdn.errors import BadRequestError

Obj = dict[str, Any]

DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
DELETE_PRIMITIVE = "$deleteFromPrimitiveList"
SET_ORDER = "$setElementOrder"


def apply_strategic_patch(original: Obj, patch: Obj, schema: Node) -> Obj:
    """`original` with `patch` applied by the strategies of `schema`."""
    if not isinstance(patch, dict):
        raise BadRequestError("strategic merge patch: the patch must be a JSON object")
    return _merge_map(copy.deepcopy(original), copy.deepcopy(patch), schema)


def _kind(value: Any) -> str:
    """Go's reflect kind of a decoded JSON value (every number is a float64)."""
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "slice"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "null" if value is None else "string"


def _bad(message: str) -> BadRequestError:
    return BadRequestError(f"strategic merge patch: {message}")


def _merge_map(original: Obj | None, patch: Obj, schema: Node) -> Obj:
    if DIRECTIVE in patch:
        if patch[DIRECTIVE] == "replace":
            del patch[DIRECTIVE]
            return patch
        if patch[DIRECTIVE] == "delete":
            return {}
        raise _bad(f"unknown patch type: {patch[DIRECTIVE]} in map: {patch}")
    original = {} if original is None else original
    _retain_keys(original, patch)
    _set_element_orders(original, patch, schema)
    deletions = [k for k in patch if k.startswith(DELETE_PRIMITIVE)]
    for key in deletions + [k for k in patch if not k.startswith(DELETE_PRIMITIVE)]:
        _merge_key(original, key, patch[key], schema)
    return original


def _merge_key(original: Obj, key: str, value: Any, schema: Node) -> None:
    is_delete_list = key.startswith(DELETE_PRIMITIVE)
    if is_delete_list:
        key = _strip_prefix(key, DELETE_PRIMITIVE, "invalid patch format of primitive list")
    if value is None:
        original.pop(key, None)
        return
    if key not in original or _kind(original[key]) != _kind(value):
        if not is_delete_list:
            _discard_nulls(value)
            _put(original, key, value)
        return
    meta = schema.get(key)
    if isinstance(value, dict):
        original[key] = value if meta.replaces else _merge_map(original[key], value, meta.node or Node())
    elif isinstance(value, list):
        original[key] = _merge_slice(original[key], value, meta, is_delete_list) \
            if meta.merges or is_delete_list else value
    else:
        _put(original, key, value)


def _put(original: Obj, key: str, value: Any) -> None:
    cleaned, keep = _remove_directives(value)
    if keep:
        original[key] = cleaned
    else:
        original.pop(key, None)


def _strip_prefix(key: str, prefix: str, problem: str) -> str:
    head, slash, rest = key.partition("/")
    if not slash or head != prefix:
        raise _bad(problem)
    return rest


def _discard_nulls(value: Any) -> None:
    if isinstance(value, dict):
        for k in [k for k, v in value.items() if v is None]:
            del value[k]
        for v in value.values():
            _discard_nulls(v)
    elif isinstance(value, list):
        for v in value:
            _discard_nulls(v)


def _remove_directives(obj: Any) -> tuple[Any, bool]:
    if isinstance(obj, dict):
        if DIRECTIVE in obj:
            return None, False
        for k in list(obj):
            obj[k], keep = _remove_directives(obj[k])
            if not keep:
                del obj[k]
        return obj, True
    if isinstance(obj, list):
        kept = [_remove_directives(v) for v in obj]
        return [v for v, keep in kept if keep], True
    return obj, True


def _retain_keys(original: Obj, patch: Obj) -> None:
    if RETAIN_KEYS not in patch:
        return
    keys = patch.pop(RETAIN_KEYS)
    if not isinstance(keys, list):
        raise _bad("invalid patch format of retainKeys")
    allowed = set(k for k in keys if isinstance(k, str))
    for k, v in patch.items():
        if v is not None and not k.startswith((DELETE_PRIMITIVE, SET_ORDER)) and k not in allowed:
            raise _bad("invalid patch format of retainKeys")
    for k in [k for k in original if k not in allowed]:
        del original[k]


# ---- lists ------------------------------------------------------------------------------------
def _element_kind(*lists: list[Any]) -> str:
    kind = ""
    for items in lists:
        for v in items:
            k = _kind(v)
            if k == "slice":
                raise _bad("lists of lists are not supported")
            if kind and k != kind:
                raise _bad(f"list element types are not identical: {list(lists)}")
            kind = k
    if not kind:
        raise _bad("no elements in any of the given slices")
    return kind


def _merge_slice(original: list[Any], patch: list[Any], meta: Field, is_delete_list: bool) -> list[Any]:
    if not original and not patch:
        return original
    kind = _element_kind(original, patch)
    key = meta.key
    if kind != "map":
        if is_delete_list:
            return [v for v in original if v not in patch]
        merged = _dedupe(original + patch)
        patch_items, server_only = _partition_scalars(merged, patch)
    else:
        if not key:
            raise _bad("cannot merge lists without merge key")
        original, patch = _special_elements(original, patch, key)
        merged = _merge_items(list(original), patch, key, meta.node or Node())
        patch_items, server_only = _partition_maps(merged, patch, key)
    return _normalize_order(patch_items, server_only, patch, original, key, kind)


def _dedupe(items: list[Any]) -> list[Any]:
    """Go's deduplicateScalars, including how it reorders (a later duplicate takes the last item)."""
    s = list(items)
    length = len(s) - 1
    i = 0
    while i < length:
        j = i + 1
        while j <= length:
            if s[i] == s[j]:
                s[j] = s[length]
                s = s[:length]
                length -= 1
                j -= 1
            j += 1
        i += 1
    return s


def _special_elements(original: list[Any], patch: list[Any], key: str) -> tuple[list[Any], list[Any]]:
    plain: list[Any] = []
    replace = False
    for item in patch:
        if DIRECTIVE not in item:
            plain.append(item)
        elif item[DIRECTIVE] == "delete":
            if key not in item:
                raise _bad(f"map: {item} does not contain declared merge key: {key}")
            original = [o for o in original if not (isinstance(o, dict) and o.get(key) == item[key])]
        elif item[DIRECTIVE] == "replace":
            replace = True
        elif item[DIRECTIVE] == "merge":
            raise _bad("merging lists cannot yet be specified in the patch")
        else:
            raise _bad(f"unknown patch type: {item[DIRECTIVE]} in map: {item}")
    return (plain, []) if replace else (original, plain)


def _find(items: list[Any], key: str, value: Any) -> int:
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise _bad(f"value for key {i} is not a map")
        if key in item and item[key] == value:
            return i
    return -1


def _merge_items(original: list[Any], patch: list[Any], key: str, node: Node) -> list[Any]:
    for item in patch:
        if key not in item:
            raise _bad(f"map: {item} does not contain declared merge key: {key}")
        i = _find(original, key, item[key])
        if i >= 0:
            original[i] = _merge_map(original[i], item, node)
        else:
            original.append(item)
    return original


def _partition_scalars(items: list[Any], by: list[Any]) -> tuple[list[Any], list[Any]]:
    return [v for v in items if v in by], [v for v in items if v not in by]


def _partition_maps(items: list[Any], by: list[Any], key: str) -> tuple[list[Any], list[Any]]:
    inside: list[Any] = []
    outside: list[Any] = []
    for item in items:
        if not isinstance(item, dict):
            raise _bad(f"expected a map, but received a {_kind(item)}")
        if key not in item:
            raise _bad(f"map: {item} does not contain declared merge key: {key}")
        (inside if _find(by, key, item[key]) >= 0 else outside).append(item)
    return inside, outside


# ---- order ------------------------------------------------------------------------------------
def _index(items: list[Any], value: Any, key: str, kind: str) -> int:
    def of(item: Any) -> Any:
        if kind == "map":
            return item.get(key) if isinstance(item, dict) else None
        return item
    wanted = of(value)
    for i, item in enumerate(items):
        if of(item) == wanted:
            return i
    return -1


def _sort_by(items: list[Any], order: list[Any], key: str, kind: str) -> list[Any]:
    """Go's insertion sort (sort.SliceStable on short lists) with upstream's partial comparator."""
    to_delete: list[Any] = []
    if kind == "map":
        for item in items + order:
            if not isinstance(item, dict) or key not in item:
                raise _bad(f"map: {item} does not contain declared merge key: {key}")
        to_delete = [v for v in items if v.get(DIRECTIVE) == "delete"]
        items = [v for v in items if v.get(DIRECTIVE) != "delete"]
    s = list(items)

    def less(a: Any, b: Any) -> bool:
        ia, ib = _index(order, a, key, kind), _index(order, b, key, kind)
        return ia < ib if ia >= 0 and ib >= 0 else True

    for i in range(1, len(s)):
        j = i
        while j > 0 and less(s[j], s[j - 1]):
            s[j], s[j - 1] = s[j - 1], s[j]
            j -= 1
    return s + to_delete


def _normalize_order(patch_items: list[Any], server_only: list[Any], patch_order: list[Any],
                     server_order: list[Any], key: str, kind: str) -> list[Any]:
    left = _sort_by(server_only, server_order, key, kind)
    right = _sort_by(patch_items, patch_order, key, kind)
    out: list[Any] = []
    i = j = 0
    while i < len(left) or j < len(right):
        if i >= len(left):
            out.append(right[j])
            j += 1
        elif j >= len(right):
            out.append(left[i])
            i += 1
        else:
            li = _index(server_order, left[i], key, kind)
            ri = _index(server_order, right[j], key, kind)
            if li >= 0 and ri >= 0 and li < ri:
                out.append(left[i])
                i += 1
            else:
                out.append(right[j])
                j += 1
    return out


def _set_element_orders(original: Obj, patch: Obj, schema: Node) -> None:
    for directive in [k for k in patch if k.startswith(SET_ORDER)]:
        order = patch.pop(directive)
        if not isinstance(order, list):
            raise _bad("invalid patch format of setElementOrder list")
        name = _strip_prefix(directive, SET_ORDER, "invalid patch format of setElementOrder list")
        orig_list, patch_list = _list_at(original, name), _list_at(patch, name)
        if orig_list is None and patch_list is None:
            continue
        original[name] = _ordered(orig_list, patch_list, order, schema.get(name))
        patch.pop(name, None)


def _list_at(obj: Obj, name: str) -> list[Any] | None:
    value = obj.get(name)
    if name in obj and not isinstance(value, list):
        raise _bad(f"expected a list at {name}, but received a {_kind(value)}")
    return value


def _ordered(orig_list: list[Any] | None, patch_list: list[Any] | None, order: list[Any], meta: Field) -> list[Any]:
    """The merged list ordered by `$setElementOrder`: its items first in that order, then the rest by
    where they were in the live list."""
    _check_order(patch_list or [], order, meta.key)
    server = orig_list or []
    if orig_list is not None and patch_list is not None:
        merged = _merge_slice(orig_list, patch_list, meta, False) if meta.merges else patch_list
        if meta.merges and meta.key:
            server = _server_view(orig_list, patch_list, meta.key)
    elif patch_list is not None:
        merged = _remove_directives(patch_list)[0]
    else:
        merged = server
    kind = _element_kind(orig_list or [], patch_list or [])
    inside, outside = _partition_maps(merged, order, meta.key) if meta.key else _partition_scalars(merged, order)
    return _normalize_order(inside, outside, order, server, meta.key, kind)


def _server_view(original: list[Any], patch: list[Any], key: str) -> list[Any]:
    """The live list as upstream sees it when it orders by `$setElementOrder`: its Go slice shares
    its array with the merge, so deletions shift items left in place and new items fill the freed
    slots (capacity = length, as for objects converted to maps in kube-apiserver)."""
    if any(isinstance(p, dict) and p.get(DIRECTIVE) == "replace" for p in patch):
        return original
    backing, n = list(original), len(original)
    for item in patch:
        if isinstance(item, dict) and item.get(DIRECTIVE) == "delete":
            while (i := _find(backing[:n], key, item.get(key))) >= 0:
                backing[i:n - 1] = backing[i + 1:n]
                n -= 1
    for item in patch:
        if isinstance(item, dict) and DIRECTIVE not in item and _find(backing[:n], key, item.get(key)) < 0:
            if n == len(original):
                break
            backing[n] = item
            n += 1
    return backing


def _check_order(patch_list: list[Any], order: list[Any], key: str) -> None:
    """Every (non-deleted) item of the patch list is in `order`, in the same relative order."""
    if not order or not patch_list:
        return
    items = [v for v in patch_list if not (isinstance(v, dict) and v.get(DIRECTIVE) == "delete")] \
        if key else patch_list
    p = s = 0
    while p < len(items) and s < len(order):
        if isinstance(items[p], dict) and DIRECTIVE in items[p]:
            p += 1
            continue
        if key:
            for item in (items[p], order[s]):
                if not isinstance(item, dict) or key not in item:
                    raise _bad(f"map: {item} does not contain declared merge key: {key}")
            same = items[p][key] == order[s][key]
        else:
            same = items[p] == order[s]
        p += same
        s += 1
    if p < len(items):
        raise _bad(f"The order in patch list:\n{patch_list}\n doesn't match {SET_ORDER} list:\n{order}\n")
