"""A macvlan child of a node interface moved into a pod (the egress router's `macvlan0`).

Side effects: netlink in the node and pod namespaces. `default_route_ifname` is the interface of
the node's IPv4 default route (openshift-sdn's choice for `assign-macvlan: "true"`);
`ensure_pod_macvlan` creates the child in private mode straight into the pod's namespace with the
parent's MTU, idempotently (an existing macvlan of that name is left as it is).
`add_macvlan_here` is the egress-router CNI plugin's: it runs in the node's namespace (as a runtime
runs a plugin), so the parent is looked up in this process's own namespace.
"""

from __future__ import annotations

from pyroute2 import IPRoute

from osdn.errors import KernelError
from osdn.kernel import links
from osdn.kernel.links import AF_INET, NL


def _default_ifname(nl: NL) -> str | None:
    for r in nl.ipr.get_routes(family=AF_INET, table=254):
        if r["dst_len"] == 0 and r.get_attr("RTA_OIF"):
            return str(nl.ipr.link("get", index=r.get_attr("RTA_OIF"))[0].get_attr("IFLA_IFNAME"))
    return None


def default_route_ifname(netns: str) -> str | None:
    return links.with_netlink(netns, _default_ifname)


def add_macvlan_here(parent: str | None, name: str, target_netns: str, mode: str, mtu: int | None) -> tuple[str, int]:
    """A macvlan child of `parent` (None: the default-route interface) of this process's namespace,
    created into `target_netns` as `name` with `mtu` (None: the parent's); (parent, mtu)."""
    links.check_ifname(name)
    with IPRoute() as ipr:
        nl = NL(ipr, "node")
        parent = parent or _default_ifname(nl)
        state = links.observe_link(nl, parent) if parent else None
        if not parent or state is None:
            raise KernelError(f"no interface {parent!r} in the node's namespace" if parent else
                              "no default route interface found")
        mtu = mtu or state.mtu
        with links.nl_errors(f"create macvlan {name!r} on {parent!r} into {target_netns!r}"):
            ipr.link("add", ifname=name, kind="macvlan", link=nl.require(parent), macvlan_mode=mode,
                     net_ns_fd=links.netns_path(target_netns))
    links.with_netlink(target_netns, lambda pnl: links.set_link(pnl, name, mtu=mtu, up=None))
    return parent, mtu


def link_mtu(netns: str, ifname: str) -> int | None:
    state = links.with_netlink(netns, lambda nl: links.observe_link(nl, ifname))
    return state.mtu if state else None


def ensure_pod_macvlan(node_netns: str, parent: str, pod_netns: str, name: str, mtu: int) -> bool:
    changed = links.ensure_macvlan(node_netns, parent, name, pod_netns, mode="private")
    return links.with_netlink(pod_netns, lambda nl: links.set_link(nl, name, mtu=mtu, up=None)) or changed
