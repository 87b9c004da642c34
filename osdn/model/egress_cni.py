"""The egress-router CNI plugin's network config (seed 004; reference/egress-router.md D). Pure.

A NetworkAttachmentDefinition-style config, redirect mode only:

    {"cniVersion": "0.4.0", "name": "egress-router-cni-nad", "type": "egress-router",
     "interfaceType": "macvlan", "interfaceArgs": {"master": "eth0", "mode": "bridge"},
     "ip": {"addresses": ["192.168.12.99/24"], "gateway": "192.168.12.1",
            "destinations": ["80 tcp 203.0.113.25", "8080 tcp 203.0.113.26 80", "203.0.113.27"]}}

`parse_netconf` checks all of it before anything is touched and answers the NAT as the same
`NatRule`s the env-var router uses (`egress_redirect.render_nat` renders both). `ip.fallbackIP`, which
the cluster-network-operator renders from an EgressRouter's redirect.fallbackIP, is the last
destination (a bare IP: everything no rule matched); upstream's plugin ignores that key. The destination
grammar is the plugin's own, not EGRESS_DESTINATION's: entries split on single spaces into `IP`,
`PORT PROTO IP` or `PORT PROTO IP REMOTEPORT`; PROTO tcp, udp or sctp in any case; ports are Go
`strconv.Atoi` integers 0..65535. Errors are the plugin's (`Invalid destination [..]: ...`), with
clear messages where the upstream plugin would have crashed or passed `<nil>` to nftables (no
addresses, an address that is no IP, IPv6, `ipConfig`, an unknown interfaceType).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from osdn.model.egress_grammar import EgressConfigError
from osdn.model.egress_redirect import Destination, NatRule

PLUGIN_TYPE = "egress-router"
NFT_TABLE = "egress_cni"
MACVLAN_MODES = ("bridge", "private", "vepa", "passthru")
_ATOI = re.compile(r"[+-]?[0-9]+")


@dataclass(frozen=True)
class EgressCniConfig:
    name: str
    address: str  # the interface address, CIDR (ip.addresses[0])
    source_ip: str  # its IP: the SNAT address
    gateway: str
    master: str | None  # None: the interface of the default route
    mode: str  # macvlan mode
    mtu: int | None  # None: the master's
    rules: tuple[NatRule, ...]
    dns: Mapping[str, Any]


def parse_netconf(conf: Mapping[str, Any]) -> EgressCniConfig:
    """The whole config, or EgressConfigError naming the field and the value."""
    if conf.get("type") != PLUGIN_TYPE:
        raise EgressConfigError(f"type: must be \"{PLUGIN_TYPE}\", got {conf.get('type')!r}")
    if "ipConfig" in conf:
        raise EgressConfigError("ipConfig (addresses from a ConfigMap) is not supported by osdn's egress-router "
                                "plugin: give ip.addresses, ip.gateway and ip.destinations in the config")
    kind = conf.get("interfaceType") or "macvlan"
    if kind != "macvlan":
        raise EgressConfigError(f"interfaceType {kind!r} is not supported: osdn's egress-router plugin creates "
                                "macvlan interfaces")
    args = _string_map(conf.get("interfaceArgs"), "interfaceArgs")
    mode = args.get("mode") or "bridge"
    if mode not in MACVLAN_MODES:
        raise EgressConfigError(f'unknown macvlan mode: "{mode}"')
    ip = conf.get("ip")
    if not isinstance(ip, Mapping):
        raise EgressConfigError("ip: required object with addresses, gateway and destinations")
    address, source = _address(ip.get("addresses"))
    gateway = _gateway(ip.get("gateway"))
    dests = ip.get("destinations") or []
    if not isinstance(dests, list) or not all(isinstance(d, str) for d in dests):
        raise EgressConfigError(f"ip.destinations: must be a list of strings, got {dests!r}")
    fallback = ip.get("fallbackIP")
    if fallback is not None and not isinstance(fallback, str):
        raise EgressConfigError(f"ip.fallbackIP: must be a string, got {fallback!r}")
    rules = parse_destinations([*dests, fallback] if fallback else dests)
    dns = conf.get("dns") if isinstance(conf.get("dns"), Mapping) else {}
    return EgressCniConfig(str(conf.get("name") or ""), address, source, gateway, args.get("master") or None, mode,
                           _mtu(args.get("mtu")), rules, dns or {})


def _string_map(value: Any, field: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
        raise EgressConfigError(f"{field}: must be an object of strings, got {value!r}")
    return {str(k): v for k, v in value.items()}


def _mtu(text: str | None) -> int | None:
    if not text:
        return None
    if not text.isdigit() or not 68 <= int(text) <= 65535:
        raise EgressConfigError(f"interfaceArgs.mtu: {text!r} is not an MTU (68 to 65535)")
    return int(text)


def _address(addresses: Any) -> tuple[str, str]:
    if not isinstance(addresses, list) or not addresses or not isinstance(addresses[0], str):
        raise EgressConfigError(f"ip.addresses: must be a non-empty list of CIDR strings, got {addresses!r}")
    text = addresses[0]
    try:
        iface = ipaddress.ip_interface(text)
    except ValueError:
        raise EgressConfigError(f'unable to parse IP address "{text}": invalid CIDR address: {text}') from None
    if not text.partition("/")[2].isdigit():  # Go's ParseCIDR takes a prefix length only
        raise EgressConfigError(f'unable to parse IP address "{text}": invalid CIDR address: {text}')
    if iface.version != 4:
        raise EgressConfigError(f'ip.addresses[0] "{text}": IPv6 is not supported by osdn\'s egress router')
    return str(iface), str(iface.ip)


def _gateway(text: Any) -> str:
    try:
        return str(ipaddress.IPv4Address(text))
    except (ValueError, TypeError):
        raise EgressConfigError(f"ip.gateway: {text!r} is not an IPv4 address") from None


def parse_destinations(entries: list[str]) -> tuple[NatRule, ...]:
    try:
        return tuple(_destination(n, entry) for n, entry in enumerate(entries, 1))
    except EgressConfigError as exc:
        raise EgressConfigError(f"Invalid destination [{' '.join(entries)}]: {exc.message}") from None


def _destination(number: int, entry: str) -> NatRule:
    fields = entry.split(" ")
    if len(fields) == 1:
        dest = _ip(fields[0])
        return NatRule(Destination(entry, str(dest), number=number), None, None, dest, None)
    if len(fields) not in (3, 4):
        raise EgressConfigError(f"Invalid destination provided {entry}")
    port = _port(fields[0])
    proto = fields[1].lower()
    if proto not in ("tcp", "udp", "sctp"):
        raise EgressConfigError(f"Incorrect protocol number provided {proto}")
    dest = _ip(fields[2])
    remote = _port(fields[3]) if len(fields) == 4 else None
    return NatRule(Destination(entry, str(dest), fields[0], proto, fields[3] if remote is not None else None, number),
                   proto, port, dest, remote)


def _port(text: str) -> int:
    """Go's strconv.Atoi, then the plugin's range check (0 is accepted, as upstream)."""
    if not _ATOI.fullmatch(text):
        raise EgressConfigError(f'Incorrect port number provided {text}: strconv.Atoi: parsing "{text}": '
                                "invalid syntax")
    value = int(text)
    if not -(2**63) <= value < 2**63:
        raise EgressConfigError(f'Incorrect port number provided {text}: strconv.Atoi: parsing "{text}": '
                                "value out of range")
    if not 0 <= value <= 65535:
        raise EgressConfigError(f"Incorrect port number provided {text}: Port number out of range {text}")
    return value


def _ip(text: str) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(text)
    except ValueError:  # upstream passes `<nil>` to nftables, which then fails
        raise EgressConfigError(f"Invalid IP address provided {text}: not an IPv4 address") from None
