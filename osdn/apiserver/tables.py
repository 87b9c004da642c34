"""Server-side printing: a meta.k8s.io/v1 Table for `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`.

The columns are osdn.api.columns (the same as `osdn get`), priority 1 for the -o wide ones.
`includeObject=None|Metadata|Object` (default Metadata: a PartialObjectMetadata per row), as
kube-apiserver. A Table is offered only when the client asks for it; v1beta1 is answered as v1.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from osdn.api.columns import columns
from osdn.api.registry import KindInfo
from osdn.errors import BadRequestError

Obj = dict[str, Any]
INCLUDE = ("None", "Metadata", "Object")
_NAME_DOC = ("Name must be unique within a namespace. Is required when creating resources, although some "
             "resources may allow a client to request the generation of an appropriate name automatically.")


def wants_table(request: Request) -> bool:
    """True when the Accept header names the Table form (kubectl get sends it first in its list)."""
    for part in request.headers.get("accept", "").split(","):
        params = {k.strip(): v.strip() for k, _, v in (p.partition("=") for p in part.split(";")[1:])}
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io":
            return True
    return False


def _row_object(info: KindInfo, obj: Obj, include: str) -> Obj | None:
    if include == "Object":
        return obj
    if include == "Metadata":
        return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata", {})}
    return None


def table(info: KindInfo, items: list[Obj], resource_version: str, include: str, now: float,
          list_meta: Obj | None = None) -> Obj:
    if include not in INCLUDE:
        raise BadRequestError(f'includeObject "{include}" is not one of {", ".join(INCLUDE)}')
    cols = columns(info, now)
    defs = [{"name": c.name.title() if c.name != "NAME" else "Name", "type": c.type, "format": c.format,
             "description": _NAME_DOC if c.format == "name" else f"{info.kind} {c.name.lower()}",
             "priority": c.priority} for c in cols]
    rows = []
    for obj in items:
        row: Obj = {"cells": [c.cell(obj) for c in cols]}
        if (o := _row_object(info, obj, include)) is not None:
            row["object"] = o
        rows.append(row)
    meta = {**(list_meta or {}), "resourceVersion": resource_version}
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "columnDefinitions": defs,
            "rows": rows}
