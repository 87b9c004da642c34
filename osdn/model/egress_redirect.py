"""Redirect mode (`egress-router.sh`): EGRESS_SOURCE / EGRESS_GATEWAY / EGRESS_DESTINATION. Pure.

`parse_router_env` checks in the script's order (EGRESS_SOURCE, EGRESS_GATEWAY, mode) and
`parse_destinations` walks EGRESS_DESTINATION line by line exactly as `gen_nft_rules` does,
returning the rules printed before an error too (the script prints them before it dies).
`render_rules` is the `unit-test` output of the current image (nftables `add rule ip nat ...` lines,
SNAT only out of macvlan0); `nat_rules` is what the router enforces (ports as bash arithmetic reads
them, refused where nft would refuse them) and `render_nft` the same NAT as one nftables table
(`ip egress_router`, replaced atomically) for the router's own namespace. The model
(`osdn.model.egress_router`) answers with `router_config`, so `adm verify`/trace use this grammar too.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from osdn.model.egress_grammar import (
    IP,
    PORT,
    EgressConfigError,
    bash_int,
    big_int,
    check_port,
    is_skip,
    read_numbered,
)

MODES = ("init", "legacy", "http-proxy", "dns-proxy", "unit-test")
NFT_TABLE = "egress_router"
MACVLAN = "macvlan0"  # the router's outside interface: the only one its SNAT applies to
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
    number: int = 0  # the physical line of EGRESS_DESTINATION it starts on (1-based)

    def nft_rule(self) -> str:
        """The line `gen_nft_rules` prints for this entry (ports as written)."""
        if self.port is None:
            return f'add rule ip nat prerouting iifname "eth0" dnat to {self.dest_ip}'
        to = f"{self.dest_ip}:{self.dest_port}" if self.dest_port else self.dest_ip
        return f'add rule ip nat prerouting iifname "eth0" {self.protocol} dport {self.port} dnat to {to}'


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
    """Walk EGRESS_DESTINATION as `gen_nft_rules` does; stops at the first error."""
    out = Parsed()
    if not text:
        out.error = "EGRESS_DESTINATION unspecified"
        return out
    used: set[str] = set()
    try:
        fallback = False
        for number, line in read_numbered(text):
            if is_skip(line):
                continue
            if fallback:
                raise EgressConfigError("EGRESS_DESTINATION fallback IP must be the last line")
            dest = _parse_line(line, number)
            out.destinations.append(dest)
            fallback = dest.port is None
            if dest.port is not None:
                _claim_port(dest.port, used)
    except EgressConfigError as exc:
        out.error = exc.message
    return out


def _parse_line(line: str, number: int) -> Destination:
    if _FALLBACK.fullmatch(line):
        return Destination(line, line, number=number)
    m = _REDIRECT.fullmatch(line)
    if m:
        return Destination(line, m.group(3), m.group(1), m.group(2), number=number)
    m = _REDIRECT_PORT.fullmatch(line)
    if m:
        check_port(m.group(4))
        return Destination(line, m.group(3), m.group(1), m.group(2), m.group(4), number)
    raise EgressConfigError(f"EGRESS_DESTINATION value '{line}' is invalid")


def _claim_port(port: str, used: set[str]) -> None:
    check_port(port)
    if port in used:
        raise EgressConfigError(f"EGRESS_DESTINATION localport {port} is already used, "
                                "must be unique for each destination")
    used.add(port)


def render_rules(parsed: Parsed, source_ip: str) -> str:
    """The `unit-test` output (without the die message): one rule per line, SNAT (out of macvlan0) last."""
    lines = [d.nft_rule() for d in parsed.destinations]
    if parsed.error is None:
        lines.append(f'add rule ip nat postrouting oifname "{MACVLAN}" snat to {source_ip}')
    return "".join(f"{line}\n" for line in lines)


def _nft_port(text: str, what: str) -> int:
    """The port nft installs for `text`: a leading 0 is octal when it can be (`010` is 8), else decimal
    (`080` is 80: bash's check let it through); above 65535 nft refuses it, so do we."""
    value = bash_int(text)
    if value is None:
        value = big_int(text, 10)
    if value > 65535:
        raise EgressConfigError(f"Invalid port: {text}, {what} is not a port nft accepts")
    return value


def _nft_ip(text: str) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(text)
    except ValueError:  # the regex lets 999.1.2.3 or 01.2.3.4 through; nft would refuse or misread it
        raise EgressConfigError(f"Invalid address: {text}, not an IPv4 address nft accepts") from None


@dataclass(frozen=True)
class NatRule:
    """One DNAT the router installs: `port` None is the fallback (every port, kept as it is)."""

    destination: Destination
    protocol: str | None
    port: int | None
    dest_ip: ipaddress.IPv4Address
    dest_port: int | None  # None: the same port


def nat_rules(destinations: list[Destination]) -> list[NatRule]:
    out = []
    for d in destinations:
        port = None if d.port is None else _nft_port(d.port, "local port")
        remote = _nft_port(d.dest_port, "remote port") if d.dest_port else None
        out.append(NatRule(d, d.protocol, port, _nft_ip(d.dest_ip), remote))
    return out


@dataclass(frozen=True)
class RouterConfig:
    """What a redirect-mode router enforces, or `error`: the message it dies with (then nothing)."""

    source_ip: str = ""
    rules: tuple[NatRule, ...] = ()
    error: str | None = None


def router_config(env: Mapping[str, str]) -> RouterConfig:
    """The whole redirect-mode check of `osdn egress-router` (init/legacy), in its order."""
    try:
        cfg = parse_router_env(dict(env))
        parsed = parse_destinations(env.get("EGRESS_DESTINATION"))
        if parsed.error:
            raise EgressConfigError(parsed.error)
        return RouterConfig(cfg.source_ip, tuple(nat_rules(parsed.destinations)))
    except EgressConfigError as exc:
        return RouterConfig(error=exc.message)


def render_nft(destinations: list[Destination], source_ip: str) -> str:
    """One nftables transaction that replaces table `ip egress_router` with the redirect NAT."""
    return render_nat(NFT_TABLE, nat_rules(destinations), source_ip, snat_oif=MACVLAN)


def render_nat(table: str, rules: list[NatRule], source_ip: str, snat_oif: str | None = None) -> str:
    """Table `ip <table>` replaced by the DNAT of `rules` (from eth0) and the SNAT to `source_ip`
    (only out of `snat_oif` when given): the NAT of both the env-var router and the CNI plugin."""
    pre = []
    for r in rules:
        if r.port is None:
            pre.append(f'iifname "eth0" dnat to {r.dest_ip}')
            continue
        to = f"{r.dest_ip}:{r.dest_port}" if r.dest_port is not None else r.dest_ip
        pre.append(f'iifname "eth0" {r.protocol} dport {r.port} dnat to {to}')
    body = "".join(f"    {r}\n" for r in pre)
    oif = f'oifname "{snat_oif}" ' if snat_oif else ""
    return (f"table ip {table}\ndelete table ip {table}\n"
            f"table ip {table} {{\n"
            f"  chain prerouting {{\n    type nat hook prerouting priority dstnat; policy accept;\n{body}  }}\n"
            f"  chain postrouting {{\n    type nat hook postrouting priority srcnat; policy accept;\n"
            f"    {oif}snat to {source_ip}\n  }}\n}}\n")
