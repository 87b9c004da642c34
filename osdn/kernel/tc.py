"""Per-pod bandwidth limits with tc: ensure/delete/observe.

Role: kernel layer, traffic control. For a pod whose host-side veth is `host_veth` (in the node
namespace):
- ingress to the pod is *shaped*: TBF as the root qdisc of the host veth (its egress is the pod's
  ingress), a queue of `LATENCY`;
- egress from the pod is *nearly policed*: `ingress` qdisc on the host veth + u32 match-all filter +
  mirred redirect to an IFB device (`ifb_name(host_veth)`) whose root TBF has a short queue
  (`egress_limit`: half a bucket, at least 48 KiB), so traffic above the rate is dropped after a
  few milliseconds instead of waiting. This kernel has no act_police/act_gact (RECIPES), so a true
  policer is not an option; mirred is.

osdn's qdiscs carry the handle `OSDN_HANDLE`: a root qdisc with another handle (the reference CNI
`bandwidth` plugin uses 1:) is never counted as osdn's and never removed; osdn replaces it only when
the pod's annotations ask for a limit (the annotations win).

Invariants: ensure_bandwidth is idempotent (returns False when nothing changed); a limit of None
removes what osdn put there for that direction, including the IFB. The `tc` binary is run inside
the namespace (setns, no `ip netns exec`): tc changes are rare, so a process per change is fine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from osdn.kernel.links import NL, check_ifname, delete_link, ifb_name, set_link, with_netlink
from osdn.kernel.netns import run_cmd

INGRESS_HANDLE = "ffff:"
OSDN_HANDLE = "5d:"
MIN_EGRESS_LIMIT = 48 * 1024
MIN_BURST = 64 * 1024  # TBF segments GSO packets itself; smaller bursts starve TCP (RECIPES §4)
MAX_BURST = 2 ** 32 - 1  # tc's burst is a u32: 10 ms at the API's 1 Pbit/s would be 1.25e12 bytes
LATENCY = "50ms"


@dataclass(frozen=True)
class Bandwidth:
    """Limits in bit/s; None = unlimited. `ingress` is traffic to the pod, `egress` from it."""

    ingress: int | None = None
    egress: int | None = None


def burst_for(rate_bps: int) -> int:
    """TBF bucket: 10 ms worth of traffic, at least 64 KiB, at most 4 GiB (from ~3.4 Tbit/s up)."""
    return min(MAX_BURST, max(MIN_BURST, rate_bps // 8 // 100))


def egress_limit(rate_bps: int) -> int:
    """The egress TBF's queue in bytes: half a bucket, at least 48 KiB (see module doc)."""
    return max(MIN_EGRESS_LIMIT, burst_for(rate_bps) // 2)


def observe_bandwidth(netns: str, host_veth: str) -> Bandwidth:
    """The limits osdn's qdiscs on `host_veth` (and its IFB) enforce now."""
    ingress = _tbf_rate(_qdiscs(netns, host_veth))
    egress = None
    if _has_redirect(netns, host_veth, ifb_name(host_veth)):
        egress = _tbf_rate(_qdiscs(netns, ifb_name(host_veth)))
    return Bandwidth(ingress, egress)


def ensure_bandwidth(netns: str, host_veth: str, want: Bandwidth) -> bool:
    """Make the limits on `host_veth` equal `want`; True if anything changed."""
    check_ifname(host_veth)
    have = observe_bandwidth(netns, host_veth)
    changed = False
    if want.ingress != have.ingress:
        _set_root_tbf(netns, host_veth, want.ingress)
        changed = True
    if want.egress != have.egress:
        _set_egress(netns, host_veth, want.egress)
        changed = True
    return changed


def delete_bandwidth(netns: str, host_veth: str) -> bool:
    return ensure_bandwidth(netns, host_veth, Bandwidth())


# -- helpers -----------------------------------------------------------------------------------------

def _tc(netns: str, *args: str, check: bool = True) -> str:
    return run_cmd(netns, ["tc", *args], check=check).stdout


def _qdiscs(netns: str, dev: str) -> list[dict[str, Any]]:
    out = _tc(netns, "-j", "qdisc", "show", "dev", dev, check=False)
    return json.loads(out) if out.strip() else []


def _tbf_rate(qdiscs: list[dict[str, Any]]) -> int | None:
    for q in qdiscs:
        if q.get("kind") == "tbf" and q.get("root") and q.get("handle") == OSDN_HANDLE:
            return int(q["options"]["rate"]) * 8
    return None


def _has_redirect(netns: str, dev: str, ifb: str) -> bool:
    if not any(q.get("kind") == "ingress" for q in _qdiscs(netns, dev)):
        return False
    out = _tc(netns, "-j", "filter", "show", "dev", dev, "parent", INGRESS_HANDLE, check=False)
    for flt in json.loads(out) if out.strip() else []:
        for act in flt.get("options", {}).get("actions", []):
            if act.get("kind") == "mirred" and act.get("to_dev") == ifb:
                return True
    return False


def _set_root_tbf(netns: str, dev: str, rate: int | None, limit: int | None = None) -> None:
    if rate is None:
        if _tbf_rate(_qdiscs(netns, dev)) is not None:
            _tc(netns, "qdisc", "del", "dev", dev, "root")
        return
    queue = ["latency", LATENCY] if limit is None else ["limit", str(limit)]
    _tc(netns, "qdisc", "replace", "dev", dev, "root", "handle", OSDN_HANDLE, "tbf", "rate", f"{rate}bit",
        "burst", str(burst_for(rate)), *queue)


def _set_egress(netns: str, host_veth: str, rate: int | None) -> None:
    ifb = ifb_name(host_veth)
    if rate is None:
        if any(q.get("kind") == "ingress" for q in _qdiscs(netns, host_veth)):
            _tc(netns, "qdisc", "del", "dev", host_veth, "handle", INGRESS_HANDLE, "ingress")
        with_netlink(netns, lambda nl: delete_link(nl, ifb))
        return
    with_netlink(netns, lambda nl: _ensure_ifb(nl, ifb))
    _set_root_tbf(netns, ifb, rate, egress_limit(rate))
    if not _has_redirect(netns, host_veth, ifb):
        _tc(netns, "qdisc", "replace", "dev", host_veth, "handle", INGRESS_HANDLE, "ingress")
        _tc(netns, "filter", "replace", "dev", host_veth, "parent", INGRESS_HANDLE, "protocol", "all",
            "prio", "1", "u32", "match", "u32", "0", "0",
            "action", "mirred", "egress", "redirect", "dev", ifb)


def _ensure_ifb(nl: NL, ifb: str) -> bool:
    changed = False
    if nl.index(ifb) is None:
        nl.ipr.link("add", ifname=ifb, kind="ifb")
        changed = nl.note(f"create ifb {ifb}")
    return set_link(nl, ifb, up=True) or changed
