"""Output formats for `get`: tables with each kind's columns, and -o json|yaml|wide|name.

Pure except for the clock passed in (`now`) to compute AGE. The columns are osdn.api.columns (the
API's Table output uses the same definitions).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from typing import Any

import yaml

from osdn.api.columns import columns
from osdn.api.registry import KindInfo

Obj = dict[str, Any]
Column = tuple[str, Callable[[Obj], str]]


def table(info: KindInfo, items: list[Obj], now: datetime.datetime, wide: bool = False,
          all_namespaces: bool = False, show_labels: bool = False) -> str:
    cols: list[Column] = [(c.name, c.cell) for c in columns(info, now) if wide or c.priority == 0]
    if all_namespaces and info.namespaced:
        cols.insert(0, ("NAMESPACE", lambda o: o["metadata"].get("namespace", "")))
    if show_labels:
        cols.append(("LABELS", lambda o: ",".join(f"{k}={v}" for k, v in sorted(
            (o["metadata"].get("labels") or {}).items())) or "<none>"))
    rows = [[h for h, _ in cols]] + [[fn(o) for _, fn in cols] for o in items]
    widths = [max(len(r[i]) for r in rows) for i in range(len(cols))]
    return "\n".join("   ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def qualified_name(info: KindInfo, name: str) -> str:
    """`pod/x`, `egressnetworkpolicy.network.openshift.io/default` (as oc prints them)."""
    return f"{info.singular}.{info.group}/{name}" if info.group else f"{info.singular}/{name}"


def render(info: KindInfo, items: list[Obj], output: str, now: datetime.datetime, single: bool = False,
           all_namespaces: bool = False, show_labels: bool = False) -> str:
    if output == "json":
        data: Any = items[0] if single and len(items) == 1 else {"apiVersion": "v1", "kind": "List",
                                                                  "items": items}
        return json.dumps(data, indent=4)
    if output == "yaml":
        data = items[0] if single and len(items) == 1 else {"apiVersion": "v1", "kind": "List", "items": items}
        return yaml.safe_dump(data, sort_keys=False).rstrip()
    if output == "name":
        return "\n".join(qualified_name(info, o["metadata"]["name"]) for o in items)
    if output.startswith("jsonpath="):
        return " ".join(_jsonpath(o, output[len("jsonpath="):]) for o in items)
    if not items:
        return ""
    return table(info, items, now, wide=output == "wide", all_namespaces=all_namespaces, show_labels=show_labels)


def _jsonpath(obj: Obj, expr: str) -> str:
    """The simple `{.a.b}` subset of kubectl's jsonpath."""
    expr = expr.strip().strip("{}").lstrip(".")
    cur: Any = obj
    for part in expr.split(".") if expr else []:
        cur = cur.get(part) if isinstance(cur, dict) else None
    if isinstance(cur, (dict, list)):
        return json.dumps(cur)
    return "" if cur is None else str(cur)
