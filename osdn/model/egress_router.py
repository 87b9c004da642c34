"""Egress router pods (redirect mode): which external destination a connection to the router becomes.

Pure. A pod is an egress router when one of its containers sets EGRESS_DESTINATION and its
EGRESS_ROUTER_MODE is init, legacy or unset. EGRESS_DESTINATION lines (see
reference/egress-router.md A.3): `PORT PROTO IP [PORT2]` redirects, a bare `IP` is the fallback for
everything else; blank and `#` lines are skipped. Traffic leaves with EGRESS_SOURCE (without /len)
from the router's macvlan, so it bypasses the egress firewall and egress IPs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from osdn.model.objects import IPv4, Pod, parse_ip

_REDIRECT = re.compile(r"^(\d+)\s+(tcp|udp)\s+(\d+\.\d+\.\d+\.\d+)(?:\s+(\d+))?$")
_FALLBACK = re.compile(r"^(\d+\.\d+\.\d+\.\d+)$")


@dataclass(frozen=True)
class Redirect:
    line: int  # 1-based line of EGRESS_DESTINATION
    text: str
    port: int | None  # None: fallback (any port)
    protocol: str | None
    dest: IPv4
    dest_port: int | None  # None: same port


@dataclass(frozen=True)
class EgressRouter:
    source: IPv4 | None
    redirects: tuple[Redirect, ...]

    def lookup(self, protocol: str, port: int) -> Redirect | None:
        for r in self.redirects:
            if r.port is None or (r.port == port and r.protocol == protocol):
                return r
        return None


def parse_egress_router(pod: Pod) -> EgressRouter | None:
    """The router config of `pod`, or None when it is not a redirect-mode egress router."""
    text = pod.env.get("EGRESS_DESTINATION")
    if text is None or pod.env.get("EGRESS_ROUTER_MODE", "legacy") not in ("init", "legacy", "unit-test"):
        return None
    redirects = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _REDIRECT.match(line)
        fb = _FALLBACK.match(line)
        if m and parse_ip(m.group(3)):
            redirects.append(Redirect(n, line, int(m.group(1)), m.group(2).upper(), parse_ip(m.group(3)),  # type: ignore[arg-type]
                                      int(m.group(4)) if m.group(4) else None))
        elif fb and parse_ip(fb.group(1)):
            redirects.append(Redirect(n, line, None, None, parse_ip(fb.group(1)), None))  # type: ignore[arg-type]
    source = parse_ip(pod.env.get("EGRESS_SOURCE", "").split("/")[0])
    return EgressRouter(source, tuple(redirects))
