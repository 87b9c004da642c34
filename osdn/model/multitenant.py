"""Multitenant isolation: pods talk iff they share a netid or either netid is 0 (global).

Pure. Join, isolate and make-global are just netid changes, so they need no rule of their own.
Traffic from a node (host, netid 0 on the wire) reaches every pod.
"""

from __future__ import annotations

from osdn.model.cluster import ClusterState
from osdn.model.verdict import ALLOW, DENY, Step

STAGE = "multitenant"


def compute_multitenant(state: ClusterState, src_ns: str | None, dst_ns: str) -> tuple[bool, Step]:
    """`src_ns` None means the source is a node/host (or enters through one)."""
    dv = state.netid(dst_ns)
    if src_ns is None:
        return True, Step(STAGE, ALLOW, "", "", f"traffic from the host carries netid 0; reaches netid {dv}")
    sv = state.netid(src_ns)
    refs = f"NetNamespace {src_ns} (netid {sv}), NetNamespace {dst_ns} (netid {dv})"
    if sv == dv:
        return True, Step(STAGE, ALLOW, refs, "netid", "same netid")
    if sv == 0 or dv == 0:
        return True, Step(STAGE, ALLOW, refs, "netid", "a global project (netid 0) talks to every project")
    return False, Step(STAGE, DENY, refs, "netid", "different netids and neither is global (0)")
