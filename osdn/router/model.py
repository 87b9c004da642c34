"""What the router serves: each admitted route with its TLS settings and weighted servers. Pure.

`describe_route` reads a Route object once (typed, via osdn.api.kinds.route); `compute_servers`
resolves its services (`spec.to` and `spec.alternateBackends`, with weights) to endpoint
addresses the way the upstream router does: `spec.port.targetPort` picks the endpoint port by name,
or by number (an endpoint port with that number, else the service port with that number's
targetPort); without `spec.port` the first endpoint port is used. A service's weight is split
evenly over its endpoints; weights are scaled so the largest server weight is 256 (HAProxy's
maximum), then divided by their greatest common divisor (equal weights become 1: HAProxy's `random`
balancing builds a tree whose size grows with the weights), and a service of weight 0 gets servers
of weight 0 (kept, never chosen).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from osdn.api.hsts import ANNOTATION as HSTS_ANNOTATION
from osdn.api.hsts import hsts_header
from osdn.api.kinds.route import Route
from osdn.api.kinds.service import Endpoints, Service
from osdn.router.admission import Claim

Obj = dict[str, Any]
BALANCE_ANNOTATION = "haproxy.router.openshift.io/balance"
TIMEOUT_ANNOTATION = "haproxy.router.openshift.io/timeout"
BALANCE_ALGORITHMS = ("roundrobin", "leastconn", "source", "random")
_TIMEOUT = re.compile(r"\A[1-9][0-9]{0,8}(?:us|ms|s|m|h|d)?\Z")
MAX_WEIGHT = 256


@dataclass(frozen=True)
class Target:
    service: str
    weight: int


@dataclass(frozen=True)
class RouteDesc:
    """One route as the router reads it (before admission and endpoints)."""

    namespace: str
    name: str
    host: str
    path: str
    wildcard: bool
    created: str
    uid: str
    targets: tuple[Target, ...]
    target_port: int | str | None
    termination: str  # "" (plain HTTP), edge, passthrough, reencrypt
    insecure_policy: str  # None, Allow, Redirect ("" means None)
    certificate: str  # certificate + key + CA chain (PEM), "" for the default certificate
    destination_ca: str
    hsts: str | None  # the Strict-Transport-Security value to send, None for none
    balance: str | None
    timeout: str | None

    @property
    def key(self) -> tuple[str, str]:
        return self.namespace, self.name

    def claim(self) -> Claim:
        return Claim(self.namespace, self.name, self.host, self.path, self.wildcard, self.created, self.uid)


@dataclass(frozen=True)
class Server:
    name: str
    ip: str
    port: int
    weight: int


def describe_route(obj: Obj) -> RouteDesc:
    """The router's reading of a Route object (already validated by the API)."""
    route = Route.model_validate(obj)
    meta, spec = route.metadata, route.spec
    annotations = meta.annotations or {}
    tls = spec.tls if spec is not None else None
    termination = (tls.termination or "") if tls is not None else ""
    to = spec.to if spec is not None else None
    targets = [Target(to.name or "", 100 if to.weight is None else to.weight)] if to is not None else []
    targets += [Target(b.name or "", 100 if b.weight is None else b.weight)
                for b in (spec.alternate_backends or [] if spec is not None else [])]
    cert = "".join(_pem(p) for p in (tls.certificate, tls.key, tls.ca_certificate)) if tls is not None else ""
    balance = annotations.get(BALANCE_ANNOTATION)
    timeout = annotations.get(TIMEOUT_ANNOTATION)
    return RouteDesc(
        namespace=meta.namespace or "", name=meta.name or "", host=(spec.host or "") if spec else "",
        path=(spec.path or "") if spec else "", wildcard=bool(spec and spec.wildcard_policy == "Subdomain"),
        created=str(meta.creation_timestamp or ""), uid=meta.uid or "", targets=tuple(targets),
        target_port=spec.port.target_port if spec is not None and spec.port is not None else None,
        termination=termination,
        insecure_policy=(tls.insecure_edge_termination_policy or "None") if tls is not None else "",
        certificate=cert if termination in ("edge", "reencrypt") and tls and tls.certificate and tls.key else "",
        destination_ca=_pem(tls.destination_ca_certificate) if tls is not None else "",
        hsts=hsts_header(annotations.get(HSTS_ANNOTATION), termination),
        balance=balance if balance in BALANCE_ALGORITHMS else None,
        timeout=timeout if timeout is not None and _TIMEOUT.match(timeout) else None)


def _pem(text: str | None) -> str:
    return "" if not text else text if text.endswith("\n") else text + "\n"


def _endpoint_port(endpoints: Endpoints, service: Service | None, target: int | str | None) -> int | None:
    ports = [p for s in endpoints.subsets or [] for p in s.ports or [] if p.port]
    if not ports:
        return None
    if target is None:
        return ports[0].port
    if isinstance(target, str):
        return next((p.port for p in ports if p.name == target), None)
    if any(p.port == target for p in ports):
        return target
    for sp in (service.spec.ports or []) if service is not None and service.spec is not None else []:
        if sp.port == target:
            tp = sp.target_port if sp.target_port is not None else sp.port
            return tp if isinstance(tp, int) else next((p.port for p in ports if p.name == tp), None)
    return None


def _addresses(endpoints: Endpoints) -> list[str]:
    return sorted({a.ip for s in endpoints.subsets or [] for a in s.addresses or [] if a.ip})


class Parsed:
    """Services and Endpoints objects read once (typed) however many routes use them."""

    def __init__(self, services: Mapping[tuple[str, str], Obj], endpoints: Mapping[tuple[str, str], Obj]) -> None:
        self._objs = {"svc": services, "ep": endpoints}
        self._cache: dict[tuple[str, tuple[str, str]], Service | Endpoints | None] = {}

    def _get(self, kind: str, key: tuple[str, str]) -> Service | Endpoints | None:
        if (kind, key) not in self._cache:
            obj = self._objs[kind].get(key)
            model = Service if kind == "svc" else Endpoints
            self._cache[(kind, key)] = model.model_validate(obj) if obj is not None else None
        return self._cache[(kind, key)]

    def service(self, key: tuple[str, str]) -> Service | None:
        found = self._get("svc", key)
        return found if isinstance(found, Service) else None

    def endpoints(self, key: tuple[str, str]) -> Endpoints | None:
        found = self._get("ep", key)
        return found if isinstance(found, Endpoints) else None


def compute_servers(route: RouteDesc, parsed: Parsed) -> tuple[Server, ...]:
    """The route's servers (ip, port, weight), from its services' endpoints."""
    per_service: list[tuple[Target, list[tuple[str, int]]]] = []
    for target in route.targets:
        ep = parsed.endpoints((route.namespace, target.service))
        if ep is None:
            continue
        svc = parsed.service((route.namespace, target.service))
        port = _endpoint_port(ep, svc, route.target_port)
        if port is not None:
            per_service.append((target, [(ip, port) for ip in _addresses(ep)]))
    shares = [(t, addrs, t.weight / len(addrs)) for t, addrs in per_service if addrs]
    top = max((s for _, _, s in shares), default=0.0)
    weights = [(target, addrs, max(1, round(share * MAX_WEIGHT / top)) if share > 0 else 0)
               for target, addrs, share in shares]
    divisor = math.gcd(*(w for _, _, w in weights)) or 1  # 256/256 -> 1/1: HAProxy's `random` costs per weight unit
    return tuple(Server(f"pod:{target.service}:{ip}:{port}", ip, port, w // divisor)
                 for target, addrs, w in weights for ip, port in addrs)
