"""Per-kind hooks: the pydantic model, defaulting and validation of every kind in the registry.

Pure. Each module here exports `HOOKS: dict[kind, Hooks]` (`Kind.group` where two groups share a
kind name); `hooks_for(kind, group)` merges them.
A validator gets the defaulted new object and the stored old one (None on create) and returns
FieldErrors with kube-style paths; it never raises for bad input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from osdn.errors import FieldError

Obj = dict[str, Any]


@dataclass(frozen=True)
class Hooks:
    model: Any = None                                              # pydantic model class (typed access)
    default: Callable[[Obj], None] | None = None                   # in-place defaulting
    validate: Callable[[Obj, Obj | None], list[FieldError]] | None = None


@cache
def _all() -> dict[str, Hooks]:
    from osdn.api.kinds import (
        apps,
        coordination,
        core,
        discovery,
        egressrouter,
        ingressconfig,
        netattach,
        network,
        networking,
        operator,
        project,
        rbac,
        resourcequota,
        route,
        template,
    )

    merged: dict[str, Hooks] = {}
    for module in (core, apps, coordination, networking, discovery, network, operator, rbac, route, template,
                   project, netattach, egressrouter, resourcequota, ingressconfig):
        merged.update(module.HOOKS)
    return merged


def hooks_for(kind: str, group: str = "") -> Hooks:
    """The hooks of `kind`; those under `Kind.group` first (two groups serve an `Ingress`)."""
    hooks = _all()
    return hooks.get(f"{kind}.{group}") or hooks.get(kind, Hooks())
