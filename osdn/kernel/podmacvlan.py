"""A macvlan child of a node interface moved into a pod (the egress router's `macvlan0`).

Side effects: netlink in the node and pod namespaces. `default_route_ifname` is the interface of
the node's IPv4 default route (openshift-sdn's choice for `assign-macvlan: "true"`);
`ensure_pod_macvlan` creates the child in private mode straight into the pod's namespace with the
parent's MTU, idempotently (an existing macvlan of that name is left as it is).
"""

from __future__ import annotations

from osdn.kernel import links
from osdn.kernel.links import AF_INET, NL


def default_route_ifname(netns: str) -> str | None:
    def find(nl: NL) -> str | None:
        for r in nl.ipr.get_routes(family=AF_INET, table=254):
            if r["dst_len"] == 0 and r.get_attr("RTA_OIF"):
                return str(nl.ipr.link("get", index=r.get_attr("RTA_OIF"))[0].get_attr("IFLA_IFNAME"))
        return None

    return links.with_netlink(netns, find)


def link_mtu(netns: str, ifname: str) -> int | None:
    state = links.with_netlink(netns, lambda nl: links.observe_link(nl, ifname))
    return state.mtu if state else None


def ensure_pod_macvlan(node_netns: str, parent: str, pod_netns: str, name: str, mtu: int) -> bool:
    changed = links.ensure_macvlan(node_netns, parent, name, pod_netns, mode="private")
    return links.with_netlink(pod_netns, lambda nl: links.set_link(nl, name, mtu=mtu, up=None)) or changed
