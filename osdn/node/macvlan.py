"""CNI ADD for egress router pods: `pod.network.openshift.io/assign-macvlan` gives the pod `macvlan0`.

As openshift-sdn's `maybeAddMacvlan`: the annotation "true" means a macvlan child of the node's
default-route interface (the lab's underlay eth0), any other value except "false" names the parent
interface; the pod needs a privileged container (the API also refuses it otherwise). The child is
created in private mode straight into the pod's namespace with the parent's MTU. Its address and
routes are the egress router's own job (EGRESS_SOURCE, EGRESS_GATEWAY: osdn/egress/netsetup.py);
the cluster interface eth0 stays for cluster traffic. Macvlan children cannot reach their parent's
own addresses: the router reaches the outside world through the underlay's gateway, never the node.
`macvlan_parent` is pure.
"""

from __future__ import annotations

import logging
from typing import Any

from osdn.api.cni import INTERNAL, INVALID_CONFIG, CniError
from osdn.api.kinds.pod import MACVLAN_ANNOTATION, Pod, pod_is_privileged
from osdn.errors import OsdnError
from osdn.kernel import podmacvlan

log = logging.getLogger(__name__)
MACVLAN_IFNAME = "macvlan0"


def macvlan_parent(pod: dict[str, Any]) -> str | None:
    """None: no macvlan; "": the default-route interface; else the named parent. Raises CniError
    for an unprivileged pod. Pure."""
    value = ((pod.get("metadata") or {}).get("annotations") or {}).get(MACVLAN_ANNOTATION)
    if value is None or value == "false":
        return None
    if not pod_is_privileged(Pod.model_validate(pod).spec):
        raise CniError(INVALID_CONFIG, f'pod has "{MACVLAN_ANNOTATION}" annotation but is not privileged')
    return "" if value == "true" else str(value)


def attach_macvlan(node_netns: str, pod: dict[str, Any], pod_netns: str) -> bool:
    """Give the pod its macvlan0 when annotated; False when it has none."""
    parent = macvlan_parent(pod)
    if parent is None:
        return False
    try:
        name = parent or podmacvlan.default_route_ifname(node_netns)
        mtu = podmacvlan.link_mtu(node_netns, name) if name else None
        if not name or mtu is None:
            raise CniError(INVALID_CONFIG, f'pod annotation "{MACVLAN_ANNOTATION}" is neither \'true\' nor the name '
                                           "of a local network interface" if parent else
                           "failed to find default route interface")
        podmacvlan.ensure_pod_macvlan(node_netns, name, pod_netns, MACVLAN_IFNAME, mtu)
    except OsdnError as exc:
        raise CniError(INTERNAL, f"cannot add {MACVLAN_IFNAME} to the pod", exc.message) from exc
    meta = pod.get("metadata") or {}
    log.info("pod %s/%s: %s on %s (mtu %d)", meta.get("namespace"), meta.get("name"), MACVLAN_IFNAME, name, mtu)
    return True
