"""The calling process's own network namespace: for programs that run inside a pod (egress router).

Side effects only. Every entry point first refuses to act when the process is in the host's root
network namespace (the initial one), so `osdn egress-router` started by mistake on a host can never
rewrite the host's addresses, routes or NAT. Netlink runs on the calling thread (no setns needed);
nftables runs through osdn.kernel.nft with `netns=None` (the process's own namespace).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from osdn.errors import KernelError
from osdn.kernel.links import AF_INET, NL, nl_errors
from osdn.kernel.nft import Nft

T = TypeVar("T")
WHERE = "own"
MAIN_TABLE = 254


def in_host_netns() -> bool:
    """True in the initial network namespace: it alone has /proc/sys/net/core/netdev_max_backlog,
    and it is the one of kthreadd (pid 2) and init (pid 1) when their links are readable."""
    if os.path.exists("/proc/sys/net/core/netdev_max_backlog"):
        return True
    try:
        own = os.stat("/proc/self/ns/net")
    except OSError:
        return True
    for pid in (1, 2):
        try:
            st = os.stat(f"/proc/{pid}/ns/net")
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino):
            return True
    return False


def refuse_host(what: str) -> None:
    if in_host_netns():
        raise KernelError(f"refusing to {what} in the host's root network namespace: "
                          "run this inside a pod (its own network namespace)")


def with_own_netlink(fn: Callable[[NL], T], what: str = "change the network") -> T:
    refuse_host(what)
    with IPRoute() as ipr:
        return fn(NL(ipr, WHERE))


def run_own_nft(script: str) -> None:
    """Load one nftables script (one transaction) into this process's namespace."""
    refuse_host("load nftables rules")
    with Nft(None) as nft:
        nft.run(script)


def set_own_sysctl(key: str, value: int) -> None:
    """Write /proc/sys/<key> (dots as slashes) of this process's network namespace."""
    refuse_host(f"set {key}")
    path = "/proc/sys/" + key.replace(".", "/")
    try:
        with open(path, "w") as fh:
            fh.write(f"{value}\n")
    except OSError as exc:
        raise KernelError(f"cannot set {key}={value}: {exc.strerror or exc}") from exc


def route_oif(nl: NL, dst: str) -> int | None:
    """The ifindex `ip route get DST` leaves through, None when unreachable."""
    try:
        return nl.ipr.route("get", dst=dst)[0].get_attr("RTA_OIF")
    except NetlinkError:
        return None


def replace_default_route(nl: NL, ifname: str, gateway: str) -> None:
    """Delete every IPv4 default route of the main table, then add `default via GATEWAY dev IFNAME`."""
    idx = nl.require(ifname)
    for r in nl.ipr.get_routes(family=AF_INET, table=MAIN_TABLE):
        if r["dst_len"] == 0:
            with nl_errors("delete the default route"):
                nl.ipr.route("del", dst="0.0.0.0/0", oif=r.get_attr("RTA_OIF"), table=MAIN_TABLE)
    with nl_errors(f"add default via {gateway} dev {ifname}"):
        nl.ipr.route("add", dst="0.0.0.0/0", gateway=gateway, oif=idx)
