"""Pod bandwidth limits: the `kubernetes.io/{ingress,egress}-bandwidth` annotations, kept in tc.

Applied when the pod is attached (CNI ADD, `PodBandwidth.apply`) and kept in step afterwards: a Pod
event whose bandwidth annotations changed marks the pod (`note_event`) and asks for a sync; the
sync (`sync`) changes, adds or removes the limits of marked pods. The first sync looks at every
attached pod (a restarted agent adopts or repairs what the kernel has), and each full sync at every
pod that has or had a limit. Values are bit/s quantities within [1k, 1P] (the API refuses others
with the same words, `osdn.api.kinds.pod.bandwidth_problem`); a stored value that is not (older
data) is refused at ADD and logged, the old limits kept, at a live change.

Side effects: tc in the node namespace (`osdn.kernel.tc`) under `lock`, which ADD and the sync
share; the sync never waits for the CNI server's lock (an ADD awaits a sync while holding it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from osdn.api.kinds.pod import BANDWIDTH_ANNOTATIONS, bandwidth_problem
from osdn.api.quantity import parse_quantity
from osdn.errors import OsdnError
from osdn.kernel import tc
from osdn.node.ipam import Lease

log = logging.getLogger(__name__)
Obj = Mapping[str, Any]


class BandwidthError(ValueError):
    """A bandwidth annotation that cannot be applied; the message names the pod, key and value."""


def wanted(pod: Obj) -> tc.Bandwidth:
    """Pure: the limits `pod`'s annotations ask for (None = unlimited); BandwidthError if invalid."""
    ann = (pod.get("metadata") or {}).get("annotations") or {}
    rates: list[int | None] = []
    for key in BANDWIDTH_ANNOTATIONS:
        text = ann.get(key)
        if not text:
            rates.append(None)
            continue
        problem = bandwidth_problem(str(text))
        if problem:
            meta = pod.get("metadata") or {}
            raise BandwidthError(f"Pod {meta.get('namespace')}/{meta.get('name')}: metadata.annotations[{key}]: "
                                 f"Invalid value: {text!r}: {problem}")
        rates.append(parse_quantity(str(text)).value())
    return tc.Bandwidth(rates[0], rates[1])


def annotations_of(pod: Obj | None) -> tuple[str | None, ...]:
    ann = ((pod or {}).get("metadata") or {}).get("annotations") or {}
    return tuple(ann.get(k) for k in BANDWIDTH_ANNOTATIONS)


class PodBandwidth:
    """The limits of this node's pods. `applied`: host veth -> what osdn last made the kernel hold."""

    def __init__(self, netns: str, node: str) -> None:
        self.netns, self.node = netns, node
        self.lock = threading.Lock()
        self.applied: dict[str, tc.Bandwidth] = {}
        self.dirty: set[str] = set()  # `namespace/name` of pods whose annotations changed
        self.adopted = False

    def apply(self, host_veth: str, want: tc.Bandwidth) -> bool:
        """Make the kernel hold `want` on `host_veth` (idempotent); True if anything changed."""
        with self.lock:
            changed = tc.ensure_bandwidth(self.netns, host_veth, want)
            self.applied[host_veth] = want
            return changed

    def note_event(self, new: Obj | None, old: Obj | None) -> bool:
        """A Pod event: True (and the pod marked) if it is this node's and its limits may differ."""
        pod = new or old or {}
        if (pod.get("spec") or {}).get("nodeName") != self.node or annotations_of(new) == annotations_of(old):
            return False
        meta = pod.get("metadata") or {}
        with self.lock:
            self.dirty.add(f"{meta.get('namespace')}/{meta.get('name')}")
        return True

    def sync(self, leases: Iterable[Lease], pod_of: Callable[[str, str], Obj | None], full: bool) -> int:
        """Bring the marked pods (every pod on the first sync; every limited one if `full`) in step
        with their annotations; the number of pods whose tc changed."""
        leases = list(leases)
        with self.lock:
            dirty, self.dirty = self.dirty, set()
            everything, self.adopted = not self.adopted, True
            for veth in set(self.applied) - {x.host_veth for x in leases}:
                del self.applied[veth]  # the pod is gone with its veth
        changed = 0
        for lease in leases:
            key = f"{lease.namespace}/{lease.pod}"
            limited = self.applied.get(lease.host_veth, tc.Bandwidth()) != tc.Bandwidth()
            pod = pod_of(lease.namespace, lease.pod)
            if pod is None or not (everything or key in dirty or (full and (limited or any(annotations_of(pod))))):
                continue
            changed += self._reconcile(lease, pod)
        return changed

    def _reconcile(self, lease: Lease, pod: Obj) -> int:
        try:
            want = wanted(pod)
            changed = self.apply(lease.host_veth, want)
        except (BandwidthError, OsdnError) as exc:
            log.warning("node %s: bandwidth of pod %s/%s not changed: %s", self.node, lease.namespace, lease.pod,
                        getattr(exc, "message", exc))
            return 0
        if changed:
            log.info("node %s: pod %s/%s bandwidth now ingress=%s egress=%s bit/s", self.node, lease.namespace,
                     lease.pod, want.ingress or "unlimited", want.egress or "unlimited")
        return int(changed)
