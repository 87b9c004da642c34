"""Multicast: which pods receive a group packet sent by a pod.

Pure. Enabled per NetNamespace by the annotation `netnamespace.network.openshift.io/multicast-enabled:
"true"`. Multitenant: a netid is enabled only if every namespace with that netid is enabled; receivers
are all other pods with the sender's netid (joined projects share one; global projects, netid 0, only
reach each other). Networkpolicy: the sender's namespace only, NetworkPolicy does not apply. Subnet
mode has no multicast. Host-network pods and pods without IP receive nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from osdn.model.cluster import MULTITENANT, NETWORKPOLICY, ClusterState
from osdn.model.objects import MULTICAST_ANNOTATION
from osdn.model.verdict import ALLOW, DENY, INFO, Step

STAGE = "multicast"


@dataclass(frozen=True)
class MulticastResult:
    sender: str
    receivers: tuple[str, ...]
    steps: tuple[Step, ...]


def compute_multicast_receivers(state: ClusterState, sender: str) -> MulticastResult:
    """Receivers of a multicast packet sent by pod `sender` (`ns/name`)."""
    pod = state.pod(sender)
    if pod is None:
        raise KeyError(sender)
    if state.mode not in (MULTITENANT, NETWORKPOLICY):
        return MulticastResult(sender, (), (Step(STAGE, DENY, "ClusterNetwork default", "pluginName",
                                                 "subnet mode has no multicast"),))
    if state.mode == MULTITENANT:
        netid = state.netid(pod.namespace)
        group = state.namespaces_with_netid(netid)
        scope = f"netid {netid} ({', '.join(group)})"
    else:
        group = (pod.namespace,)
        scope = f"namespace {pod.namespace} (NetworkPolicy does not apply to multicast)"
    off = [n for n in group if not state.netnamespaces[n].multicast]
    if off:
        detail = f"multicast not enabled on {scope}: NetNamespace {', '.join(off)} lacks {MULTICAST_ANNOTATION}=true"
        return MulticastResult(sender, (), (Step(STAGE, DENY, f"NetNamespace {off[0]}", "metadata.annotations",
                                                 detail),))
    receivers = tuple(state.pods[i].key for n in group for i in state.pods_by_ns.get(n, ())
                      if state.pods[i].key != sender and state.pods[i].ip is not None
                      and not state.pods[i].host_network)
    steps = (Step(STAGE, INFO, "", "", f"group is {scope}"),
             Step(STAGE, ALLOW, ", ".join(f"NetNamespace {n}" for n in group), "metadata.annotations",
                  f"multicast enabled; delivered to {len(receivers)} pod(s)"))
    return MulticastResult(sender, receivers, steps)
