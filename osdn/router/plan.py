"""One router snapshot -> the verdict of every route and the HAProxy files. Pure.

Input: the Routes, Ingresses, Services and Endpoints the router's informers hold, the router's
settings and the routes HAProxy refused last time (`rejected`: left out of the configuration, with
the reason). Output: `RouterPlan` (verdicts for the stored routes, whose statuses the controller
writes, and the files of one configuration generation). Routes that fail to parse are rejected
with `RouteNotAdmitted` and never reach the configuration.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pydantic

from osdn.router.admission import NOT_ADMITTED, Verdict, compute_admission
from osdn.router.ingress import ingress_routes
from osdn.router.model import Parsed, RouteDesc, compute_servers, describe_route
from osdn.router.render import Backend, RouterSettings, render_config

Obj = dict[str, Any]
Key = tuple[str, str]
CONFIG_REJECTED = "ConfigurationRejected"


@dataclass(frozen=True)
class Snapshot:
    routes: Mapping[Key, Obj]
    ingresses: Mapping[Key, Obj]
    services: Mapping[Key, Obj]
    endpoints: Mapping[Key, Obj]


@dataclass(frozen=True)
class RouterPlan:
    verdicts: dict[Key, Verdict]  # stored routes only (Ingress-made routes have no status to write)
    files: dict[str, str]
    served: tuple[Key, ...]


def _describe_all(objs: Iterable[Obj], describe: Callable[[Obj], RouteDesc],
                  bad: dict[Key, Verdict]) -> list[RouteDesc]:
    out = []
    for obj in objs:
        try:
            out.append(describe(obj))
        except pydantic.ValidationError as e:
            meta = obj.get("metadata") or {}
            bad[(meta.get("namespace") or "", meta.get("name") or "")] = Verdict(False, NOT_ADMITTED, f"unreadable route: {e}")
    return out


def compute_plan(snapshot: Snapshot, settings: RouterSettings, rejected: Mapping[Key, str] | None = None,
                 allow_wildcards: bool = False, describe: Callable[[Obj], RouteDesc] = describe_route) -> RouterPlan:
    """Admission, then the configuration of the admitted routes (minus those HAProxy refused)."""
    bad: dict[Key, Verdict] = {}
    stored = _describe_all(snapshot.routes.values(), describe, bad)
    made = _describe_all([r for i in snapshot.ingresses.values() for r in ingress_routes(i)], describe, {})
    verdicts = compute_admission([d.claim() for d in stored + made], allow_wildcards)
    rejected = rejected or {}
    for key, message in rejected.items():
        if verdicts.get(key, Verdict(False)).admitted:
            verdicts[key] = Verdict(False, CONFIG_REJECTED, message)
    served = [d for d in stored + made if verdicts[d.key].admitted]
    parsed = Parsed(snapshot.services, snapshot.endpoints)
    backends = [Backend(d, compute_servers(d, parsed)) for d in served]
    stored_keys = {d.key for d in stored}
    return RouterPlan({k: v for k, v in verdicts.items() if k in stored_keys} | bad,
                      render_config(backends, settings), tuple(sorted(d.key for d in served)))
