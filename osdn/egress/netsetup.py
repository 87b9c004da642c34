"""The router's network inside its own namespace: macvlan0 address and routes, NAT, gratuitous ARP.

Side effects (through osdn.kernel; refused in the host's root namespace). `setup_network` does what
`setup_network()` of egress-router.sh does: unless the route to EGRESS_GATEWAY already leaves through
macvlan0 (a restarted container), put EGRESS_SOURCE (as given, or /32) on macvlan0, bring it up, add
the on-link route to the gateway, replace the default route by one via the gateway on macvlan0; then
announce the address with a gratuitous ARP (reply + request, as `arping -A` / `-U`). The cluster
interface eth0 keeps its cluster routes. `install_redirect` turns on forwarding and replaces the NAT
table in one nftables transaction.
"""

from __future__ import annotations

import logging
import threading
import time

from osdn.errors import KernelError
from osdn.kernel import arp, links, ownnet
from osdn.model.egress_redirect import RouterEnv

log = logging.getLogger(__name__)
MACVLAN = "macvlan0"


def _setup(nl: links.NL, env: RouterEnv) -> str:
    if links.observe_link(nl, MACVLAN) is None:
        raise KernelError(f"no {MACVLAN} interface in this pod: annotate the pod with "
                          '"pod.network.openshift.io/assign-macvlan": "true" (and run it privileged)')
    return configure(nl, MACVLAN, env.source_ifaddr, env.gateway)


def configure(nl: links.NL, ifname: str, ifaddr: str, gateway: str) -> str:
    """`ifaddr` on `ifname`, up, the on-link route to `gateway` and the default route via it, unless
    the gateway is reached through `ifname` already; the interface's MAC. (The CNI plugin's too.)"""
    link = links.observe_link(nl, ifname)
    if link is None:
        raise KernelError(f"no {ifname} interface in the pod's namespace")
    if ownnet.route_oif(nl, gateway) != link.index:
        links.ensure_addresses(nl, ifname, [ifaddr], exclusive=False)
        links.set_link(nl, ifname, up=True)
        links.ensure_routes(nl, ifname, [links.Route(f"{gateway}/32")], exclusive=False)
        ownnet.replace_default_route(nl, ifname, gateway)
        log.info("%s: address %s, default via %s", ifname, ifaddr, gateway)
    return str(link.mac)


def setup_network(env: RouterEnv, later: bool = True) -> None:
    """Address, routes and ARP announcement; `later` repeats the announcement after 2 s in a thread."""
    mac = ownnet.with_own_netlink(lambda nl: _setup(nl, env), f"configure {MACVLAN}")
    frames = arp.garp_frames(mac, env.source_ip)
    arp.send_frames(MACVLAN, frames)
    if later:
        def again() -> None:
            time.sleep(2)
            try:
                arp.send_frames(MACVLAN, frames)
            except KernelError as exc:  # `|| true` upstream
                log.warning("second gratuitous ARP for %s failed: %s", env.source_ip, exc)
        threading.Thread(target=again, daemon=True).start()


def install_redirect(nft_script: str) -> None:
    enable_forwarding()
    ownnet.run_own_nft(nft_script)


def enable_forwarding() -> None:
    ownnet.set_own_sysctl("net.ipv4.ip_forward", 1)


def load_own_nft(nft_script: str) -> None:
    """One nftables transaction in this namespace (DNS proxy mode's table, replaced as names move)."""
    ownnet.run_own_nft(nft_script)
