"""The lab's outside world at run time: more web-server addresses (`osdn lab outside add`).

Side effects: an address on the `web` namespace's eth0 (on the lab's external network
203.0.113.0/24). The web server listens on 0.0.0.0:80 there, so each added address answers HTTP
with "you are <client ip>:<port>" at once. Addresses die with the namespace (`lab down`).
"""

from __future__ import annotations

import ipaddress

from osdn.kernel import links
from osdn.lab.cluster import LabInfo
from osdn.lab.topology import EXTERNAL_CIDR, plan_lab

RESERVED = {1: "the router", 53: "the DNS server"}


def check_outside_ip(ip: str) -> str:
    """Pure: `ip` canonical, inside the external network and not a reserved host address."""
    addr = ipaddress.IPv4Address(ip.strip())
    net = ipaddress.IPv4Network(EXTERNAL_CIDR)
    if addr not in net or addr in (net.network_address, net.broadcast_address):
        raise ValueError(f"outside address {ip}: must be a host address of the lab's outside network {EXTERNAL_CIDR}")
    used = RESERVED.get(int(addr) - int(net.network_address))
    if used:
        raise ValueError(f"outside address {ip} is {used}'s address")
    return str(addr)


def add_outside(lab: LabInfo, ip: str) -> bool:
    """Add `ip` to the outside web server; False if it already had it."""
    ip = check_outside_ip(ip)
    topo = plan_lab(lab.name, max(1, len(lab.nodes)))
    plen = ipaddress.IPv4Network(EXTERNAL_CIDR).prefixlen
    return bool(links.with_netlink(topo.web_netns,
                                   lambda nl: links.ensure_addresses(nl, "eth0", [f"{ip}/{plen}"], exclusive=False)))
