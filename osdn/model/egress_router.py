"""Egress router pods (redirect mode): which external destination a connection to the router becomes.

Pure. A pod is a redirect-mode egress router when one of its containers sets EGRESS_DESTINATION and
its EGRESS_ROUTER_MODE is init, legacy or unset (`unit-test` only prints the rules and exits). The
configuration is read by `osdn.model.egress_redirect.router_config`, the very check `osdn
egress-router` runs before it installs anything, so the model redirects exactly what the router
does: `PORT PROTO IP [PORT2]` lines (ports as bash reads them: a leading 0 is octal), a bare `IP`
last as the fallback for every other port. A configuration the router refuses redirects nothing
(`error` is the router's message). Traffic leaves with EGRESS_SOURCE (without /len) from the
router's macvlan, so it bypasses the egress firewall and egress IPs.
"""

from __future__ import annotations

from dataclasses import dataclass

from osdn.model.egress_redirect import router_config
from osdn.model.objects import IPv4, Pod, parse_ip

REDIRECT_MODES = ("init", "legacy")


@dataclass(frozen=True)
class Redirect:
    line: int  # 1-based line of EGRESS_DESTINATION
    text: str
    port: int | None  # None: fallback (any port)
    protocol: str | None  # TCP or UDP
    dest: IPv4
    dest_port: int | None  # None: same port


@dataclass(frozen=True)
class EgressRouter:
    source: IPv4 | None
    redirects: tuple[Redirect, ...]
    error: str | None = None  # the message the router dies with; then nothing is redirected

    def lookup(self, protocol: str, port: int) -> Redirect | None:
        for r in self.redirects:
            if r.port is None or (r.port == port and r.protocol == protocol):
                return r
        return None


def parse_egress_router(pod: Pod) -> EgressRouter | None:
    """The router config of `pod`, or None when it is not a redirect-mode egress router."""
    if "EGRESS_DESTINATION" not in pod.env or (pod.env.get("EGRESS_ROUTER_MODE") or "legacy") not in REDIRECT_MODES:
        return None
    cfg = router_config(pod.env)
    if cfg.error is not None:
        return EgressRouter(None, (), cfg.error)
    redirects = tuple(Redirect(r.destination.number, r.destination.line, r.port,
                               r.protocol.upper() if r.protocol else None, r.dest_ip, r.dest_port) for r in cfg.rules)
    return EgressRouter(parse_ip(cfg.source_ip), redirects)
