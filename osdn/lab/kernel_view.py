"""The kernel next to the model in online `osdn adm trace`: one real probe, and the counters that moved.

Role: for a traced TCP connection whose source is a local lab pod (or a lab node), read osdn's named
drop counters on every lab node, connect once from inside the source's namespace to the
destination's address and port, read the counters again, and say what the kernel did and whether it
agrees with the model. The probe is the truth; the counters are an explanation only: other traffic
in the lab (another probe, a retransmission) can move them too.

Where things are: a pod's namespace is its `lab.osdn.io/netns` annotation; node namespaces come
from the lab's `lab.json`, found next to the client config (`<lab>/server/admin.conf`) or among the
default lab dirs, and only if its server URL is the one the client talks to. Anything missing makes
the kernel view *unavailable* (with the reason), never an error.

For a connection to a service, the DNAT the kernel took for that very attempt is read from
conntrack on the source's node and shown next to the model's endpoints (osdn.lab.dnat_view).

Pure: `plan_probe`, `render_kernel_view`, `kernel_view_to_dict`. `observe_trace` and
`find_local_lab` read the kernel and the file system.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from osdn.errors import KernelError
from osdn.kernel import netns
from osdn.lab.cluster import LabInfo, load_lab
from osdn.lab.dnat_view import (
    DnatView,
    ModelEndpoint,
    dnat_to_dict,
    observe_dnat,
    plan_dnat_lookup,
    render_dnat,
)
from osdn.lab.observe import (
    REFUSED,
    CounterKey,
    ProbeResult,
    compute_counter_deltas,
    observe_connect,
    observe_counters,
)
from osdn.model.verdict import EXTERNAL, NODE, Connection

Obj = Mapping[str, Any]
ANNOTATION_NETNS = "lab.osdn.io/netns"
LAB_DIR_GLOBS = ("/var/lib/osdn/lab/*", "/tmp/osdn-lab-*")


@dataclass(frozen=True)
class CounterDelta:
    node: str
    family: str
    name: str
    delta: int

    def describe(self) -> str:
        return f"{self.name} on {self.node} {self.delta:+d}"


@dataclass(frozen=True)
class ProbePlan:
    """Where to probe from (a namespace, described for people) and to which address and port."""

    netns: str
    source: str
    ip: str
    port: int


@dataclass(frozen=True)
class KernelView:
    """What the kernel did with one real attempt of the traced connection (or why we could not ask)."""

    model_allowed: bool
    plan: ProbePlan | None = None
    probe: ProbeResult | None = None
    timeout: float = 1.0
    deltas: tuple[CounterDelta, ...] = ()
    counters_read: bool = False
    unavailable: str = ""
    dnat: DnatView | str | None = None  # a service connection: the kernel's DNAT, or why it is unknown
    refused_expected: bool = False      # a service without endpoints: the node must refuse (as adm verify)

    @property
    def agrees(self) -> bool | None:
        if self.probe is None or self.probe.reached is None:
            return None
        if self.refused_expected:
            return self.probe.outcome == REFUSED
        return self.probe.reached == self.model_allowed


def find_local_lab(config_source: str, server: str) -> LabInfo | None:
    """The lab on this machine whose API server is `server`: the one whose `server/admin.conf` is the
    client config, else any lab in the default lab dirs. None if there is none."""
    dirs = []
    if config_source and os.path.isfile(config_source):
        dirs.append(os.path.dirname(os.path.dirname(os.path.abspath(config_source))))
    for pattern in LAB_DIR_GLOBS:
        dirs += sorted(glob.glob(pattern))
    for d in dirs:
        try:
            lab = load_lab(d)
        except (OSError, ValueError, TypeError):
            continue  # not a lab dir (or another version's lab.json)
        if lab is not None and lab.server.rstrip("/") == server.rstrip("/"):
            return lab
    return None


def plan_probe(conn: Connection, pods: Sequence[Obj], node_netns: Mapping[str, str]) -> ProbePlan | str:
    """Pure: the probe for `conn`, or why there is none (a sentence)."""
    if conn.protocol != "TCP":
        return f"probes are TCP only ({conn.protocol} has no handshake to observe)"
    if conn.dst.ip is None:
        return f"{conn.dst.describe()} has no address"
    src = conn.src
    if src.kind == EXTERNAL:
        return f"the source ({src.describe()}) is outside the cluster: no lab namespace to probe from"
    if src.pod:
        pod = next((p for p in pods if _key(p) == src.pod), None)
        ns = (((pod or {}).get("metadata") or {}).get("annotations") or {}).get(ANNOTATION_NETNS, "")
        if ns:
            return ProbePlan(str(ns), f"pod {src.pod}", str(conn.dst.ip), conn.port)
        if src.kind != NODE:
            return f"pod {src.pod} has no {ANNOTATION_NETNS} annotation (not run by a local osdn lab)"
    if src.kind == NODE and src.node and src.node in node_netns:
        return ProbePlan(node_netns[src.node], f"node {src.node}", str(conn.dst.ip), conn.port)
    return f"{src.describe()}: no namespace of a local lab for it"


def _key(pod: Obj) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace') or 'default'}/{meta.get('name', '')}"


def observe_trace(conn: Connection, model_allowed: bool, pods: Sequence[Obj], lab: LabInfo | None,
                  timeout: float = 1.0, endpoints: tuple[ModelEndpoint, ...] = (),
                  refused_expected: bool = False) -> KernelView:
    """Probe `conn` once for real and read the lab nodes' counters around it (and, to a service,
    the DNAT conntrack recorded for the attempt; `endpoints` are the model's)."""
    if os.geteuid() != 0:
        return KernelView(model_allowed, unavailable="entering the lab's namespaces needs root")
    nodes = {n.name: n.netns for n in lab.nodes} if lab else {}
    plan = plan_probe(conn, pods, nodes)
    if isinstance(plan, str):
        return KernelView(model_allowed, unavailable=plan)
    if not netns.netns_exists(plan.netns):
        return KernelView(model_allowed, plan, unavailable=f"{plan.source}: its network namespace "
                          f"{plan.netns!r} is not on this machine")
    before = _counters(nodes)
    result = observe_connect(plan.netns, plan.ip, plan.port, timeout)
    after = _counters(nodes)
    deltas = tuple(CounterDelta(node, fam, name, d) for node in sorted(after)
                   for (fam, name), d in compute_counter_deltas(before.get(node, {}), after[node]).items())
    lookup = plan_dnat_lookup(conn, pods, nodes)
    dnat = lookup if lookup is None or isinstance(lookup, str) else observe_dnat(lookup, conn, result.sport, endpoints)
    return KernelView(model_allowed, plan, result, timeout, deltas, counters_read=bool(after), dnat=dnat,
                      refused_expected=refused_expected)


def _counters(nodes: Mapping[str, str]) -> dict[str, dict[CounterKey, int]]:
    out = {}
    for name, ns in nodes.items():
        try:
            out[name] = observe_counters(ns)
        except KernelError:
            continue  # node namespace gone: no counters from it
    return out


def render_kernel_view(view: KernelView) -> str:
    """Pure: the lines `adm trace` prints under the model's verdict."""
    if view.probe is None or view.plan is None:
        return f"kernel: not probed ({view.unavailable})"
    model = "ALLOWED" if view.model_allowed else "DENIED: no endpoints, refused" if view.refused_expected else "DENIED"
    p = view.plan
    lines = [f"kernel: TCP {p.ip}:{p.port} from inside {p.source} ({view.timeout:g}s timeout): "
             f"{view.probe.describe()}"]
    if view.deltas:
        lines.append("  counters moved: " + ", ".join(d.describe() for d in view.deltas))
    elif view.counters_read:
        lines.append("  counters moved: none of osdn's drop counters")
    else:
        lines.append("  counters: unavailable (the lab's node namespaces were not found)")
    if view.dnat is not None:
        lines += render_dnat(view.dnat)
    verdict = {True: "AGREES with", False: "DISAGREES with", None: "cannot be compared with"}[view.agrees]
    lines.append(f"  {verdict} the model ({model})")
    return "\n".join(lines)


def kernel_view_to_dict(view: KernelView) -> dict[str, Any]:
    """Pure: JSON-ready form (the `kernel` key of `adm trace -o json`)."""
    if view.probe is None or view.plan is None:
        return {"probed": False, "unavailable": view.unavailable}
    return {
        "probed": True, "from": view.plan.source, "netns": view.plan.netns, "to": f"{view.plan.ip}:{view.plan.port}",
        "timeout": view.timeout, "outcome": view.probe.outcome, "reached": view.probe.reached,
        "detail": view.probe.detail,
        "counters": [{"node": d.node, "family": d.family, "name": d.name, "delta": d.delta} for d in view.deltas]
        if view.counters_read else None,
        "dnat": dnat_to_dict(view.dnat) if view.dnat is not None else None,
        "agrees": view.agrees,
    }
