"""HTTP proxy mode (`egress-http-proxy.sh`): EGRESS_HTTP_PROXY_DESTINATION and its squid ACLs. Pure.

`parse_http_destinations` walks the variable as `generate_acls` does (same skips, numbering, errors);
`render_squid_acls` is the `unit-test` output and `render_squid_conf` the whole squid.conf the image
writes. `decide` answers what squid decides with those rules (http_access in order, first match wins):
- `dst` (IP or CIDR): matches when any address of the request's host is inside; for a host name the
  proxy resolves it first (`addresses`), as squid does; an unresolvable name matches no `dst` rule.
- `dstdomain .example.com` matches example.com and every name below it; `dstdomain www.example.com`
  matches that name only; case-insensitive, a trailing dot ignored. A request by IP literal is
  compared as text (squid would also try a reverse lookup of the IP; this proxy does not).
- no rule matched: `http_access allow all` when the last line is `*`, else `deny all`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from osdn.model.egress_grammar import ALNUM, EgressConfigError, read_lines

SQUID_HEADER = "http_port 8080\ncache deny all\naccess_log none all\ndebug_options ALL,0\nshutdown_lifetime 0\n"
# The script's `[0-9A-Fa-f.:]*[.:][0-9A-Fa-f.:]+(/[0-9]+)?`, written so that matching is linear: that
# form backtracks quadratically (a 20,000-character line took 8 s); same language (tested).
_IPADDR = re.compile(r"(?=[0-9A-Fa-f.:]*[.:][0-9A-Fa-f.:])[0-9A-Fa-f.:]++(?:/[0-9]++)?+")
_HOSTNAME = re.compile(rf"[{ALNUM}][{ALNUM}.-]+")
_DOMAIN = re.compile(rf"\*\.[{ALNUM}][{ALNUM}.-]+")
_SKIP = re.compile(r"w*")  # `^\w*$` inside [[ =~ ]] is `^w*$` (reference B, DERIVED quirk)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class AclRule:
    number: int  # the n of acl dest<n>
    allow: bool
    kind: str  # "dst" or "dstdomain"
    value: str  # as written in squid.conf (".example.com" for *.example.com)
    line: str  # the line as read

    @property
    def network(self) -> Network | None:
        """The CIDR of a `dst` rule, None when squid would take the value as a host name."""
        try:
            return ipaddress.ip_network(self.value, strict=False)
        except ValueError:
            return None


@dataclass(frozen=True)
class HttpAcl:
    rules: tuple[AclRule, ...]
    allow_all: bool  # the last line was `*`

    @property
    def has_dst(self) -> bool:
        """Whether a decision may need the addresses of the request's host."""
        return any(r.kind == "dst" for r in self.rules)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    rule: AclRule | None  # None: the final allow all / deny all


def parse_http_destinations(text: str | None) -> HttpAcl:
    if not text:
        raise EgressConfigError("No EGRESS_HTTP_PROXY_DESTINATION specified")
    rules: list[AclRule] = []
    n, wildcard = 0, False
    for line in read_lines(text):
        if _SKIP.fullmatch(line) or line.startswith("#"):
            continue
        n += 1
        if line == "*":
            wildcard = True
            continue
        if wildcard:
            raise EgressConfigError("Wildcard must be last rule, if present")
        allow, dest = (False, line[1:]) if line.startswith("!") else (True, line)
        rules.append(_rule(n, allow, dest, line))
    return HttpAcl(tuple(rules), wildcard)


def _rule(n: int, allow: bool, dest: str, line: str) -> AclRule:
    if _IPADDR.fullmatch(dest):
        return AclRule(n, allow, "dst", dest, line)
    if _DOMAIN.fullmatch(dest):
        return AclRule(n, allow, "dstdomain", dest[1:], line)
    if _HOSTNAME.fullmatch(dest):
        return AclRule(n, allow, "dstdomain", dest, line)
    raise EgressConfigError(f"Bad destination '{dest}'")


def render_squid_acls(acl: HttpAcl) -> str:
    """The `unit-test` output of egress-http-proxy.sh."""
    out = []
    for r in acl.rules:
        out.append(f"\nacl dest{r.number} {r.kind} {r.value}\nhttp_access {'allow' if r.allow else 'deny'} "
                   f"dest{r.number}\n")
    out.append("\nhttp_access allow all\n" if acl.allow_all else "\nhttp_access deny all\n")
    return "".join(out)


def render_squid_conf(acl: HttpAcl) -> str:
    return SQUID_HEADER + render_squid_acls(acl)


def normalize_host(host: str) -> str:
    host = host.strip().lower().rstrip(".")
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def domain_matches(value: str, host: str) -> bool:
    value = value.lower().rstrip(".")
    if value.startswith("."):
        return host == value[1:] or host.endswith(value)
    return host == value


def _dst_matches(rule: AclRule, addresses: tuple[str, ...], resolved: dict[str, tuple[str, ...]]) -> bool:
    net = rule.network
    targets = [net] if net is not None else [ipaddress.ip_network(a) for a in resolved.get(rule.value, ())]
    for a in addresses:
        ip = ipaddress.ip_address(a)
        if any(ip.version == t.version and ip in t for t in targets):
            return True
    return False


def decide(acl: HttpAcl, host: str, addresses: tuple[str, ...],
           resolved: dict[str, tuple[str, ...]] | None = None) -> Decision:
    """squid's http_access verdict for a request to `host` whose addresses are `addresses`.

    `resolved` gives the addresses of `dst` values that are host names (squid resolves them when it
    loads its configuration)."""
    name = normalize_host(host)
    for rule in acl.rules:
        hit = domain_matches(rule.value, name) if rule.kind == "dstdomain" else \
            _dst_matches(rule, addresses, resolved or {})
        if hit:
            return Decision(rule.allow, rule)
    return Decision(acl.allow_all, None)
