"""Redirect mode (`egress-router.sh`): EGRESS_SOURCE / EGRESS_GATEWAY / EGRESS_DESTINATION. Pure.

`parse_router_env` checks in the script's order (EGRESS_SOURCE, EGRESS_GATEWAY, mode) and
`parse_destinations` walks EGRESS_DESTINATION line by line exactly as `gen_iptables_rules` does,
returning the rules printed before an error too (the script prints them before it dies).
`render_iptables` is the `unit-test` output; `render_nft` is the same NAT as one nftables table
(`ip egress_router`, replaced atomically) for the router's own namespace.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from osdn.egress.grammar import IP, PORT, EgressConfigError, bash_int, check_port, is_skip, read_lines

MODES = ("init", "legacy", "http-proxy", "dns-proxy", "unit-test")
NFT_TABLE = "egress_router"
_SOURCE = re.compile(rf"({IP})(/[0-9]+)?")
_GATEWAY = re.compile(IP)
_FALLBACK = re.compile(IP)
_REDIRECT = re.compile(rf"({PORT}) +(tcp|udp) +({IP})")
_REDIRECT_PORT = re.compile(rf"({PORT}) +(tcp|udp) +({IP}) +({PORT})")


@dataclass(frozen=True)
class Destination:
    """One EGRESS_DESTINATION entry; port None is the fallback (every other port, same port)."""

    line: str
    dest_ip: str
    port: str | None = None
    protocol: str | None = None
    dest_port: str | None = None

    def iptables(self) -> str:
        if self.port is None:
            return f"-A PREROUTING -i eth0 -j DNAT --to-destination {self.dest_ip}"
        to = f"{self.dest_ip}:{self.dest_port}" if self.dest_port else self.dest_ip
        return f"-A PREROUTING -i eth0 -p {self.protocol} --dport {self.port} -j DNAT --to-destination {to}"


@dataclass(frozen=True)
class RouterEnv:
    source_ifaddr: str  # the macvlan address: IP/len as given, or IP/32
    source_ip: str  # the SNAT address
    gateway: str
    mode: str
    debug: bool = False


@dataclass
class Parsed:
    """EGRESS_DESTINATION as far as it parsed; `error` is the message the script dies with."""

    destinations: list[Destination] = field(default_factory=list)
    error: str | None = None


def parse_router_env(env: dict[str, str]) -> RouterEnv:
    source = env.get("EGRESS_SOURCE", "")
    m = _SOURCE.fullmatch(source)
    if not m:
        raise EgressConfigError("EGRESS_SOURCE unspecified or invalid")
    if not _GATEWAY.fullmatch(env.get("EGRESS_GATEWAY", "")):
        raise EgressConfigError("EGRESS_GATEWAY unspecified or invalid")
    mode = env.get("EGRESS_ROUTER_MODE") or "legacy"
    if mode not in MODES:
        raise EgressConfigError(f"Unrecognized EGRESS_ROUTER_MODE '{mode}'")
    ifaddr = source if m.group(2) else f"{source}/32"
    return RouterEnv(ifaddr, m.group(1), env["EGRESS_GATEWAY"], mode, bool(env.get("EGRESS_ROUTER_DEBUG")))


def parse_destinations(text: str | None) -> Parsed:
    """Walk EGRESS_DESTINATION as `gen_iptables_rules` does; stops at the first error."""
    out = Parsed()
    if not text:
        out.error = "EGRESS_DESTINATION unspecified"
        return out
    used: set[str] = set()
    try:
        fallback = False
        for line in read_lines(text):
            if is_skip(line):
                continue
            if fallback:
                raise EgressConfigError("EGRESS_DESTINATION fallback IP must be the last line")
            dest = _parse_line(line)
            out.destinations.append(dest)
            fallback = dest.port is None
            if dest.port is not None:
                _claim_port(dest.port, used)
    except EgressConfigError as exc:
        out.error = exc.message
    return out


def _parse_line(line: str) -> Destination:
    if _FALLBACK.fullmatch(line):
        return Destination(line, line)
    m = _REDIRECT.fullmatch(line)
    if m:
        return Destination(line, m.group(3), m.group(1), m.group(2))
    m = _REDIRECT_PORT.fullmatch(line)
    if m:
        check_port(m.group(4))
        return Destination(line, m.group(3), m.group(1), m.group(2), m.group(4))
    raise EgressConfigError(f"EGRESS_DESTINATION value '{line}' is invalid")


def _claim_port(port: str, used: set[str]) -> None:
    check_port(port)
    if port in used:
        raise EgressConfigError(f"EGRESS_DESTINATION localport {port} is already used, "
                                "must be unique for each destination")
    used.add(port)


def render_iptables(parsed: Parsed, source_ip: str) -> str:
    """The `unit-test` output (without the die message): one rule per line, SNAT last."""
    lines = [d.iptables() for d in parsed.destinations]
    if parsed.error is None:
        lines.append(f"-A POSTROUTING -j SNAT --to-source {source_ip}")
    return "".join(f"{line}\n" for line in lines)


def _nft_port(text: str, what: str) -> int:
    value = bash_int(text)
    if value is None:  # bash lets it through; iptables would refuse it, so do we
        raise EgressConfigError(f"Invalid port: {text}, {what} is not a number iptables accepts")
    return value


def render_nft(destinations: list[Destination], source_ip: str) -> str:
    """One nftables transaction that replaces table `ip egress_router` with the redirect NAT."""
    pre = []
    for d in destinations:
        if d.port is None:
            pre.append(f'iifname "eth0" dnat to {d.dest_ip}')
            continue
        to = f"{d.dest_ip}:{_nft_port(d.dest_port, 'remote port')}" if d.dest_port else d.dest_ip
        pre.append(f'iifname "eth0" {d.protocol} dport {_nft_port(d.port, "local port")} dnat to {to}')
    rules = "".join(f"    {r}\n" for r in pre)
    return (f"table ip {NFT_TABLE}\ndelete table ip {NFT_TABLE}\n"
            f"table ip {NFT_TABLE} {{\n"
            f"  chain prerouting {{\n    type nat hook prerouting priority dstnat; policy accept;\n{rules}  }}\n"
            f"  chain postrouting {{\n    type nat hook postrouting priority srcnat; policy accept;\n"
            f"    snat to {source_ip}\n  }}\n}}\n")
