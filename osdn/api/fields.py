"""Unknown fields of built-in kinds, as Kubernetes' field validation sees them: found and pruned.

Pure. The known fields of a kind are those of its pydantic model (`osdn.api.kinds`, by camelCase
alias), recursively through nested models, lists and maps of models, plus `status` for kinds with a
status. Kubernetes always drops unknown fields of built-in kinds; only their reporting differs
(`?fieldValidation=Strict|Warn|Ignore`, decided by the API server).

osdn models only what it uses of some upstream types. Those models are listed in `_OPEN`: their
unmodelled fields are upstream fields and are kept unchecked (their modelled children still are
checked). `_ALSO_KNOWN` adds the upstream fields a complete model does not carry. Values typed
`dict[str, object]`, `Any` or scalars are opaque: nothing under them is checked.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from functools import cache
from typing import Any, Union, cast

from pydantic import BaseModel

from osdn.api.decode import parse_uint, path_of
from osdn.api.kinds import hooks_for
from osdn.api.kinds.core import Event, NodeSpec, NodeStatus, ReplicationControllerSpec
from osdn.api.kinds.meta import ObjectMeta, OwnerReference
from osdn.api.kinds.networking import IngressRule, IngressSpec
from osdn.api.kinds.operator import (
    ClusterOperatorStatus,
    DefaultNetwork,
    KubeProxyConfig,
    NetworkSpec,
    SDNConfig,
)
from osdn.api.kinds.pod import Container, PodSpec, PodStatus, ResourceFieldSelector, SecurityContext
from osdn.api.kinds.route import RouteSpec, TLSConfig
from osdn.api.kinds.service import EndpointAddress, EndpointPort, ServicePort, ServiceSpec
from osdn.api.registry import KindInfo

Path = tuple[str | int, ...]

# Models that carry only part of their upstream type: other fields are kept, unchecked.
_OPEN: frozenset[type[BaseModel]] = frozenset({
    PodSpec, Container, SecurityContext, PodStatus, ResourceFieldSelector, ServiceSpec, ServicePort,
    EndpointAddress, EndpointPort, NodeSpec, NodeStatus, Event, IngressSpec, IngressRule, NetworkSpec,
    DefaultNetwork, SDNConfig, KubeProxyConfig, ClusterOperatorStatus, RouteSpec, TLSConfig,
})
# Upstream fields a (otherwise complete) model does not carry: known, opaque.
_ALSO_KNOWN: dict[type[BaseModel], tuple[str, ...]] = {
    ObjectMeta: ("selfLink", "deletionGracePeriodSeconds", "managedFields"),
    OwnerReference: ("blockOwnerDeletion",),
    ReplicationControllerSpec: ("minReadySeconds",),
}


@dataclass(frozen=True)
class Shape:
    """What a value should look like: a model's fields, a list or map of shapes, or opaque (None)."""

    fields: dict[str, Shape | None] | None = None    # set for an object with known fields
    open: bool = False                                 # unknown fields of the object are kept
    items: Shape | None = None                         # set for a list or a map (its values)


def _shape_of(annotation: Any) -> Shape | None:
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _shape_of(members[0]) if len(members) == 1 else None
    if origin is list:
        inner = _shape_of(typing.get_args(annotation)[0])
        return Shape(items=inner) if inner else None
    if origin is dict:
        inner = _shape_of(typing.get_args(annotation)[1])
        return Shape(items=inner) if inner else None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return model_shape(annotation)
    return None


@cache
def model_shape(model: type[BaseModel]) -> Shape:
    known: dict[str, Shape | None] = {(f.alias or name): _shape_of(f.annotation)
                                      for name, f in model.model_fields.items()}
    known.update(dict.fromkeys(_ALSO_KNOWN.get(model, ()), None))
    return Shape(known, model in _OPEN)


@cache
def kind_shape(info: KindInfo) -> Shape | None:
    """The shape of a whole object of this kind (None when its kind has no model: all open)."""
    model = hooks_for(info.kind).model
    if model is None:
        return None
    shape = model_shape(model)
    if info.has_status and shape.fields is not None and "status" not in shape.fields:
        return Shape({**shape.fields, "status": None}, shape.open)
    return shape


def _walk(shape: Shape | None, value: Any, path: Path, prune: bool, out: list[str]) -> None:
    if shape is None:
        return
    if shape.fields is not None and isinstance(value, dict):
        for key in list(value):
            if key in shape.fields:
                _walk(shape.fields[key], value[key], (*path, key), prune, out)
            elif not shape.open:
                out.append(path_of((*path, key)))
                if prune:
                    del value[key]
    elif shape.items is not None and isinstance(value, list):
        for i, item in enumerate(value):
            _walk(shape.items, item, (*path, i), prune, out)
    elif shape.items is not None and isinstance(value, dict):
        for key, item in value.items():
            _walk(shape.items, item, (*path, key), prune, out)


def unknown_fields(info: KindInfo, obj: Any) -> list[str]:
    """Paths of the fields of `obj` (or of a merge patch for it) that its kind does not know."""
    out: list[str] = []
    _walk(kind_shape(info), obj, (), False, out)
    return out


def prune_unknown(info: KindInfo, obj: Any) -> list[str]:
    """Drop, in place, every field `unknown_fields` reports; returns their paths."""
    out: list[str] = []
    _walk(kind_shape(info), obj, (), True, out)
    return out


def _step(shape: Shape | None, part: str) -> tuple[Shape | None, bool]:
    """The shape under `part` of a JSON pointer, and whether `part` is a known field there."""
    if shape is None:
        return None, True
    if shape.fields is not None:
        if part in shape.fields:
            return shape.fields[part], True
        return None, shape.open
    return shape.items, True


def unknown_in_json_patch(info: KindInfo, ops: Any) -> list[str]:
    """Unknown fields a JSON patch (RFC 6902) would write: its target paths and the values it adds."""
    out: list[str] = []
    for op in ops if isinstance(ops, list) else []:
        if not (isinstance(op, dict) and op.get("op") in ("add", "replace", "copy", "move")
                and isinstance(op.get("path"), str) and op["path"].startswith("/")):
            continue
        shape, path = kind_shape(info), cast(Path, ())
        for raw in op["path"][1:].split("/"):
            part = raw.replace("~1", "/").replace("~0", "~")
            index = parse_uint(part)
            path = (*path, part if index is None else index)
            shape, known = _step(shape, part)
            if not known:
                out.append(path_of(path))
                break
        else:
            if op["op"] in ("add", "replace"):
                _walk(shape, op.get("value"), path, False, out)
    return out
