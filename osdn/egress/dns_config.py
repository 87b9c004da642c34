"""DNS proxy mode (`egress-dns-proxy.sh`): EGRESS_DNS_PROXY_DESTINATION and its haproxy config. Pure.

`parse_dns_destinations` walks the variable as `generate_haproxy_frontends_backends` does (same
regexes, checks and messages; the first error wins); `render_haproxy_config` is the `unit-test`
output, given the nameservers of /etc/resolv.conf and, per domain target, the number of servers
(`server-template dest N` when N > 1). `parse_dns_servers` reads the unit-test EGRESS_DNS_SERVERS.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from osdn.model.egress_grammar import (
    ALNUM,
    IP,
    PORT,
    EgressConfigError,
    big_int,
    check_port,
    is_skip,
    read_lines,
)

NS_PORT = 53
_DOMAIN = rf"[{ALNUM}][{ALNUM}-]*\.[{ALNUM}.-]+"  # ERE `[[:alnum:]-]+?` is `([[:alnum:]-]+)?`
_FORMS = ((re.compile(rf"({PORT}) +({IP})"), False), (re.compile(rf"({PORT}) +({IP}) +({PORT})"), False),
          (re.compile(rf"({PORT}) +({_DOMAIN})"), True), (re.compile(rf"({PORT}) +({_DOMAIN}) +({PORT})"), True))
DEFAULTS = """
global
    log         127.0.0.1 local2

    pidfile     /var/lib/haproxy/run/haproxy.pid
    maxconn     4000
    user        haproxy
    group       haproxy

defaults
    log                     global
    mode                    tcp
    option                  dontlognull
    option                  tcplog
    option                  redispatch
    retries                 3
    timeout http-request    100s
    timeout queue           1m
    timeout connect         10s
    timeout client          1m
    timeout server          1m
    timeout http-keep-alive 100s
    timeout check           10s

"""


@dataclass(frozen=True)
class DnsDestination:
    number: int  # fe<n> / be<n>
    port: str
    target: str  # an IPv4 address or a name resolved at run time
    target_port: str
    is_name: bool
    line: str

    @property
    def listen_port(self) -> int:
        return _int_port(self.port)

    @functools.cached_property
    def remote_port(self) -> int:  # read for every forwarded connection: parsed once
        return _int_port(self.target_port)


def _int_port(text: str) -> int:
    """The port haproxy reads from `text`: decimal always (`010` is 10, `080` is 80, though bash's check
    read the first as octal and let the second through); above 65535 haproxy refuses it, so do we."""
    value = big_int(text, 10)
    if value > 65535:
        raise EgressConfigError(f"Invalid port: {text}, not a port haproxy accepts")
    return value


def parse_dns_destinations(text: str | None) -> list[DnsDestination]:
    if not text:
        raise EgressConfigError("Must specify EGRESS_DNS_PROXY_DESTINATION")
    out: list[DnsDestination] = []
    used: set[str] = set()
    for line in read_lines(text):
        if is_skip(line):
            continue
        dest = _parse_line(len(out) + 1, line)
        check_port(dest.port)
        check_port(dest.target_port)
        if dest.port in used:
            raise EgressConfigError(f"Proxy port {dest.port} already used, must be unique for each destination")
        used.add(dest.port)
        out.append(dest)
    return out


def _parse_line(n: int, line: str) -> DnsDestination:
    for regex, is_name in _FORMS:
        m = regex.fullmatch(line)
        if m:
            port, target = m.group(1), m.group(2)
            remote = m.group(3) if regex.groups == 3 else port
            return DnsDestination(n, port, target, remote, is_name, line)
    raise EgressConfigError(f"Bad destination '{line}'")


def check_numeric_ports(dests: list[DnsDestination]) -> None:
    """Refuse ports bash lets through but haproxy would not take (`070000`: octal for bash, 70000 for it)."""
    for d in dests:
        _int_port(d.port)
        _int_port(d.target_port)


def parse_dns_servers(text: str) -> dict[str, int]:
    """EGRESS_DNS_SERVERS (`dom:count;dom:count`), as the unit-test mode of the script splits it."""
    out: dict[str, int] = {}
    for entry in text.replace(";", " ").split():
        parts = entry.replace(":", " ").split()
        if len(parts) != 2:
            raise EgressConfigError(f"Invalid server entry in EGRESS_DNS_SERVERS: {entry}")
        out[parts[0]] = big_int(parts[1]) if parts[1].isdigit() else 1
    return out


def nameservers(resolv_conf: str) -> list[str]:
    """`awk '/^nameserver/ {print $2}'` over resolv.conf."""
    out = []
    for line in resolv_conf.splitlines():
        fields = line.split()
        if line.startswith("nameserver") and len(fields) > 1:
            out.append(fields[1])
    return out


def render_haproxy_config(dests: list[DnsDestination], servers: list[str], counts: dict[str, int]) -> str:
    resolvers = "resolvers dns-resolver\n" + "".join(f"    nameserver ns{i} {ns}:{NS_PORT}\n"
                                                     for i, ns in enumerate(servers, 1))
    resolvers += "    resolve_retries      3\n    timeout retry        1s\n    hold valid           10s\n\n"
    blocks = []
    for d in dests:
        count = counts.get(d.target, 1) if d.is_name else 1
        server = f"server-template dest {count}" if count > 1 else "server dest1"
        opts = "resolvers dns-resolver resolve-prefer ipv4" if d.is_name else ""
        blocks.append(f"\nfrontend fe{d.number}\n    bind :{d.port}\n    default_backend be{d.number}\n\n"
                      f"backend be{d.number}\n    {server} {d.target}:{d.target_port} check {opts}\n\n")
    return DEFAULTS + resolvers + "".join(blocks)
