"""Which route owns which host: the upstream router's host admission, computed from scratch. Pure.

Routes are taken oldest first (creationTimestamp, then namespace/name: the API's RouteHostname
plugin breaks ties of the one-second timestamps the same way, where upstream's `RouteLessThan` uses
the uid), so the oldest claim always wins and the answer does not depend on event order.
A route is admitted unless (upstream `UniqueHost` + `HostAdmitter` messages):
- it has no host (`NoHostValue`), or it is a wildcard route (`wildcardPolicy: Subdomain`) and the
  router does not allow them (`RouteNotAdmitted`);
- an older non-wildcard route holds its host in another project, or in its own project on the same
  path (`HostAlreadyClaimed`); routes of one project share a host on different paths;
- an older wildcard route of another project holds its domain (the host minus its first label), or,
  for a wildcard route, an older route of another project holds a host in that domain
  (`HostAlreadyClaimed`).
A rejection by a route of another project names no route ("a route in another namespace holds
host H"); one by a route of the same project names it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

NO_HOST, NOT_ADMITTED, CLAIMED = "NoHostValue", "RouteNotAdmitted", "HostAlreadyClaimed"


@dataclass(frozen=True)
class Claim:
    """What admission needs to know of one route."""

    namespace: str
    name: str
    host: str
    path: str = ""
    wildcard: bool = False
    created: str = ""  # creationTimestamp (RFC 3339 sorts as text)
    uid: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return self.namespace, self.name

    @property
    def domain(self) -> str:
        return domain_of(self.host)


@dataclass(frozen=True)
class Verdict:
    admitted: bool
    reason: str = ""
    message: str = ""


ADMITTED = Verdict(True)


def domain_of(host: str) -> str:
    """`www.example.com` -> `example.com` (upstream `GetDomainForHost`); a one-label host has none."""
    return host.split(".", 1)[1] if "." in host else ""


@dataclass
class _Claims:
    hosts: dict[str, list[Claim]] = field(default_factory=lambda: defaultdict(list))
    wildcards: dict[str, list[Claim]] = field(default_factory=lambda: defaultdict(list))
    blocked_wildcards: dict[str, list[Claim]] = field(default_factory=lambda: defaultdict(list))


def _same_scope(owner: Claim, route: Claim) -> bool:
    return owner.namespace == route.namespace


def _blocker(claims: _Claims, route: Claim) -> tuple[Claim, str] | None:
    """The older claim that keeps `route` out, with upstream's wording of the conflict."""
    for owner in claims.hosts.get(route.host, ()):
        if _same_scope(owner, route) and (route.wildcard or owner.path != route.path):
            continue
        return owner, f"route {owner.namespace}/{owner.name} has host {owner.host}"
    for owner in claims.wildcards.get(route.domain, ()):
        if _same_scope(owner, route) and (not route.wildcard or owner.path != route.path):
            continue
        return owner, f"wildcard route {owner.namespace}/{owner.name} has host *.{owner.domain}, blocking {route.host}"
    if route.wildcard:
        for owner in claims.blocked_wildcards.get(route.domain, ()):
            if not _same_scope(owner, route):
                return owner, f"route {owner.namespace}/{owner.name} has host {owner.host}, blocking *.{route.domain}"
    return None


def age_key(claim: Claim) -> tuple[str, str, str]:
    return claim.created, claim.namespace, claim.name


def compute_admission(routes: Iterable[Claim], allow_wildcards: bool = False) -> dict[tuple[str, str], Verdict]:
    """Every route's verdict; the oldest claim on a host (or wildcard domain) wins."""
    claims = _Claims()
    verdicts: dict[tuple[str, str], Verdict] = {}
    for route in sorted(routes, key=age_key):
        if not route.host:
            verdicts[route.key] = Verdict(False, NO_HOST, "no host value was defined for the route")
            continue
        if route.wildcard and not allow_wildcards:
            verdicts[route.key] = Verdict(False, NOT_ADMITTED, "wildcard routes are not allowed")
            continue
        blocker = _blocker(claims, route)
        if blocker is not None:
            owner, detail = blocker
            message = detail if owner.namespace == route.namespace else \
                f"a route in another namespace holds host {route.host}"
            verdicts[route.key] = Verdict(False, CLAIMED, message)
            continue
        if route.wildcard:
            claims.wildcards[route.domain].append(route)
        else:
            claims.hosts[route.host].append(route)
            claims.blocked_wildcards[route.domain].append(route)
        verdicts[route.key] = ADMITTED
    return verdicts
