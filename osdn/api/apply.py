"""Server-side apply and field ownership (`metadata.managedFields`), a faithful subset of kube's.

Pure: `now` is an argument. Every write records who owns which fields (`osdn.api.fieldset` paths):
- an Update (create, PUT, a non-apply PATCH) gives its manager the fields it changed and takes them
  from every other manager (updates never conflict);
- an Apply merges the applied configuration into the live object (maps by key, keyed lists by merge
  key, sets by value, the rest replaced); a field another manager owns whose value the apply changes
  is a conflict (409, kube's wording) unless `force`, which takes the field; a field the manager
  applied before and no longer applies is removed when no other manager owns it (or anything under it).
Managers are told apart by name, operation and subresource, as kube does.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

from osdn.api.fieldset import (
    Path,
    Values,
    fields_of,
    from_fields_v1,
    is_missing,
    path_string,
    remove_paths,
    to_fields_v1,
)
from osdn.api.patchmeta import EMPTY, Node, schema_for
from osdn.api.registry import KindInfo, for_object
from osdn.errors import BadRequestError, ConflictError, FieldError

Obj = dict[str, Any]
BEFORE_FIRST_APPLY = "before-first-apply"


@dataclass(frozen=True)
class Manager:
    name: str
    operation: str  # "Apply" or "Update"
    subresource: str = ""
    api_version: str = ""  # part of an Update manager's identity, not of an Apply manager's


@dataclass(frozen=True)
class Scope:
    """What a write is about: the kind's schema, the version written, the time, the subresource, and
    whether the kind has a status (written only through /status)."""

    schema: Node
    api_version: str
    now: str
    subresource: str = ""
    has_status: bool = False

    def fields(self, obj: Obj | None) -> set[Path]:
        if obj is None:
            return set()
        if self.subresource == "status":
            return fields_of(obj, self.schema, only="status")
        return fields_of(obj, self.schema, skip="status" if self.has_status else "")


Owners = dict[Manager, set[Path]]


def owners_of(obj: Obj | None) -> tuple[Owners, dict[Manager, Obj]]:
    """The managers of `obj` and their entries as stored."""
    owners: Owners = {}
    entries: dict[Manager, Obj] = {}
    for entry in ((obj or {}).get("metadata") or {}).get("managedFields") or []:
        if isinstance(entry, dict) and entry.get("manager") is not None:
            op = str(entry.get("operation") or "Update")
            m = Manager(str(entry["manager"]), op, str(entry.get("subresource") or ""),
                        str(entry.get("apiVersion") or "") if op == "Update" else "")
            owners[m] = from_fields_v1(entry.get("fieldsV1"))
            entries[m] = entry
    return owners, entries


def _write(obj: Obj, owners: Owners, entries: dict[Manager, Obj], touched: Manager, scope: Scope) -> Obj:
    out = []
    for m, paths in owners.items():
        if not paths:
            continue
        entry = dict(entries.get(m) or {})
        if m == touched or not entry:
            entry = {"manager": m.name, "operation": m.operation, "apiVersion": scope.api_version,
                     "time": scope.now, "fieldsType": "FieldsV1"}
            if m.subresource:
                entry["subresource"] = m.subresource
        entry["fieldsV1"] = to_fields_v1(paths)
        out.append(entry)
    obj.setdefault("metadata", {})["managedFields"] = out
    return obj


def _changed(old: Values, new: Values, path: Path) -> bool:
    before, after = old.at(path), new.at(path)
    if path[-1].startswith(("k:", "v:")):
        return is_missing(before) != is_missing(after)
    return is_missing(before) or before != after


def record_update(old: Obj | None, new: Obj, manager: str, scope: Scope) -> Obj:
    """`new` with managedFields after an Update by `manager` (old is None on create)."""
    owners, entries = owners_of(old)
    old_set, new_set = scope.fields(old), scope.fields(new)
    before, after = Values(old or {}), Values(new)
    changed = {p for p in new_set if p not in old_set or _changed(before, after, p)}
    gone = old_set - new_set
    me = Manager(manager, "Update", scope.subresource, scope.api_version)
    for m in owners:
        owners[m] -= changed | gone
    owners[me] = (owners.get(me, set()) | changed) - gone
    return _write(new, owners, entries, me, scope)


# ---- apply ------------------------------------------------------------------------------------
def merge_applied(live: Obj, config: Obj, schema: Node) -> Obj:
    """`config` merged into `live` structurally (null removes a field)."""
    out = dict(live)
    for name, value in config.items():
        meta, have = schema.get(name), live.get(name)
        if value is None:
            out.pop(name, None)
        elif isinstance(value, dict) and isinstance(have, dict):
            out[name] = merge_applied(have, value, meta.node or EMPTY)
        elif isinstance(value, list) and isinstance(have, list) and meta.merges:
            out[name] = _merge_list(have, value, meta.key, meta.node or EMPTY)
        else:
            out[name] = copy.deepcopy(value)
    return out


def _merge_list(live: list[Any], applied: list[Any], key: str, node: Node) -> list[Any]:
    """Linear: live items are found by a table of their keys (values), not by a scan per item."""
    if not key:
        have = {_key(v) for v in live}
        return live + [v for v in applied if _key(v) not in have]
    if not all(isinstance(i, dict) and key in i for i in live + applied):
        return copy.deepcopy(applied)
    out, where = list(live), dict[Any, int]()
    for n, item in enumerate(out):
        where.setdefault(_key(item[key]), n)
    for item in applied:
        at = where.get(_key(item[key]), -1)
        if at >= 0:
            out[at] = merge_applied(out[at], item, node)
        else:
            where[_key(item[key])] = len(out)
            out.append(copy.deepcopy(item))
    return out


def _key(value: Any) -> Any:
    """`value` as a table key: itself, or its canonical JSON when it is an object or a list."""
    return ("json", json.dumps(value, sort_keys=True)) if isinstance(value, dict | list) else value


def _who(m: Manager) -> str:
    text = f'"{m.name}"' + (f' with subresource "{m.subresource}"' if m.subresource else "")
    return text + (f" using {m.api_version}" if m.operation == "Update" else "")


def _conflict_error(conflicts: list[tuple[Manager, Path]]) -> ConflictError:
    causes = [FieldError(path_string(p), f"conflict with {_who(m)}", "FieldManagerConflict") for m, p in conflicts]
    if len(conflicts) == 1:
        m, p = conflicts[0]
        return ConflictError(f"Apply failed with 1 conflict: conflict with {_who(m)}: {path_string(p)}",
                             causes=causes)
    lines = []
    for m in sorted({m for m, _ in conflicts}, key=lambda m: (m.name, m.operation)):
        lines.append(f"conflicts with {_who(m)}:")
        lines += [f"- {path_string(p)}" for mm, p in conflicts if mm == m]
    return ConflictError(f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines), causes=causes)


def check_config(config: Any, info: KindInfo, name: str) -> Obj:
    """The applied configuration, checked as kube-apiserver checks it."""
    if not isinstance(config, dict):
        raise BadRequestError("the apply configuration must be an object")
    if for_object(config) != info:
        raise BadRequestError(f'the apply configuration is a {config.get("kind")}, not a {info.kind}')
    meta = config.get("metadata")
    if not isinstance(meta, dict) or meta.get("name") not in (None, name):
        raise BadRequestError(f'the name of the object ({(meta or {}).get("name")}) does not match the name on '
                              f"the URL ({name})")
    if meta.get("managedFields") is not None:
        raise BadRequestError("metadata.managedFields must be nil")
    return config


def apply(live: Obj | None, config: Obj, manager: str, force: bool, scope: Scope) -> Obj:
    """The object after `manager` applies `config` to `live` (None: the object is created)."""
    owners, entries = owners_of(live)
    if live is not None and not owners:   # kube gives unmanaged fields to a manager of their own
        owners[Manager(BEFORE_FIRST_APPLY, "Update", "", scope.api_version)] = scope.fields(live)
    applied = scope.fields(config)
    merged = merge_applied(live or {}, config, scope.schema)
    me = Manager(manager, "Apply", scope.subresource)
    before, after = Values(live or {}), Values(merged)
    conflicts = sorted(((m, p) for m, paths in owners.items() if m != me for p in applied & paths
                        if _changed(before, after, p)), key=lambda c: (c[0].name, c[1]))
    if conflicts and not force:
        raise _conflict_error(conflicts)
    for m, p in conflicts:
        owners[m].discard(p)
    others = {p[:n] for m, paths in owners.items() if m != me for p in paths for n in range(1, len(p) + 1)}
    remove_paths(merged, (p for p in owners.get(me, set()) - applied if p not in others))
    owners[me] = applied
    return _write(merged, owners, entries, me, scope)


def scope_for(info: KindInfo, now: str, subresource: str = "") -> Scope:
    """The Scope of a write of `info` (kinds without patch metadata: every list is atomic)."""
    return Scope(schema_for(info.kind) or EMPTY, info.api_version, now, subresource, info.has_status)
