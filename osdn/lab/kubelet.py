"""The lab kubelet (`osdn lab kubelet --dir DIR`): runs the lab's Pods, one for all lab nodes.

Role: watches Pods (and Nodes, for scheduling). A Pod without spec.nodeName is scheduled onto a lab
node whose labels match its nodeSelector, round-robin, by setting spec.nodeName. A Pod on a lab node
is started by osdn.lab.runtime (namespace, CNI ADD through that node's agent, process) and marked
with the annotations `lab.osdn.io/netns`, `lab.osdn.io/log` and `lab.osdn.io/bin` (what
`osdn exec` and `osdn logs` read) and status phase/hostIP/podIP. A deleted Pod is stopped.

Level-triggered: watch events only wake the loop; each pass compares the Pod cache with what runs.
A pod whose start failed is retried with backoff; the error goes into `lab.osdn.io/error`.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from osdn.client import Client, load_config
from osdn.client.informer import Informer
from osdn.errors import NotFoundError, OsdnError
from osdn.lab import runtime
from osdn.lab.cluster import LabInfo
from osdn.lab.runtime import PodRuntime, pod_key
from osdn.lab.state import load_state, process_start_time

log = logging.getLogger(__name__)
Obj = dict[str, Any]
ANNOTATION_NETNS = "lab.osdn.io/netns"
ANNOTATION_LOG = "lab.osdn.io/log"
ANNOTATION_BIN = "lab.osdn.io/bin"
ANNOTATION_ERROR = "lab.osdn.io/error"
RESYNC = 2.0


def matches_selector(labels: dict[str, str], selector: dict[str, str] | None) -> bool:
    """nodeSelector semantics: every key=value must be among the node's labels. Pure."""
    return all(labels.get(k) == v for k, v in (selector or {}).items())


def pick_node(nodes: list[Obj], lab_nodes: list[str], selector: dict[str, str] | None, turn: int) -> str | None:
    """The `turn`-th (round-robin) lab node whose labels match `selector`, or None. Pure."""
    by_name = {n["metadata"]["name"]: n for n in nodes}
    fits = [name for name in lab_nodes
            if matches_selector((by_name.get(name, {}).get("metadata") or {}).get("labels") or {}, selector)]
    return fits[turn % len(fits)] if fits else None


@dataclass
class Running:
    rt: PodRuntime
    pod: Obj
    proc: subprocess.Popen[bytes] | None = None


@dataclass
class Kubelet:
    lab: LabInfo
    running: dict[str, Running] = field(default_factory=dict)
    failures: dict[str, tuple[int, float]] = field(default_factory=dict)  # key -> (count, retry at)
    turn: int = 0

    def __post_init__(self) -> None:
        self.config = load_config(self.lab.admin_conf)
        self.client = Client(self.config)
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.pods = Informer(self.config, "Pod", handlers=[lambda *_: self.wake.set()])
        self.nodes = Informer(self.config, "Node")

    def run(self) -> None:
        runtime.ensure_busybox_bin(self.lab)
        self.nodes.start()
        self.pods.start()
        self.pods.wait_synced(30)
        self.nodes.wait_synced(30)
        self._adopt()
        log.info("lab kubelet for %s: %d nodes, %d pods adopted", self.lab.name, len(self.lab.nodes),
                 len(self.running))
        while not self.stopping.is_set():
            self.wake.wait(RESYNC)
            self.wake.clear()
            self.sync()
        self.pods.stop()
        self.nodes.stop()

    def sync(self) -> None:
        """One pass: schedule, start what should run, stop what should not."""
        pods = {pod_key(p): p for p in self.pods.items()}
        for key, pod in sorted(pods.items()):
            try:
                self._sync_pod(key, pod)
            except OsdnError as exc:
                log.warning("pod %s: %s", key, exc)
        for key in [k for k, r in self.running.items() if _uid(pods.get(k)) != r.rt.uid]:
            self._stop(key)
        for r in self.running.values():
            if r.proc is not None:
                r.proc.poll()  # reap an exited pod process

    def _sync_pod(self, key: str, pod: Obj) -> None:
        spec = pod.get("spec") or {}
        if pod["metadata"].get("deletionTimestamp"):
            return
        node_name = spec.get("nodeName") or ""
        if not node_name:
            self._schedule(key, pod)
            return
        node = self.lab.node(node_name)
        if node is None or key in self.running or not self._due(key):
            return
        try:
            rt, proc = runtime.start_pod(self.lab, node, pod)
        except (runtime.CniError, OSError, OsdnError) as exc:
            self._failed(key, pod, str(exc))
            return
        self.running[key] = Running(rt, pod, proc)
        self.failures.pop(key, None)
        self._report(pod, rt, node.ip)

    def _schedule(self, key: str, pod: Obj) -> None:
        selector = (pod.get("spec") or {}).get("nodeSelector")
        name = pick_node(self.nodes.items(), [n.name for n in self.lab.nodes], selector, self.turn)
        if name is None:
            log.warning("pod %s: no lab node matches nodeSelector %s", key, selector)
            return
        self.turn += 1
        ns, pod_name = key.split("/", 1)
        self.client.patch("Pod", pod_name, {"spec": {"nodeName": name}}, namespace=ns)
        log.info("pod %s scheduled to %s", key, name)

    def _report(self, pod: Obj, rt: PodRuntime, host_ip: str) -> None:
        meta = pod["metadata"]
        ns, name = meta.get("namespace", ""), meta["name"]
        notes = {ANNOTATION_NETNS: rt.netns, ANNOTATION_LOG: rt.log, ANNOTATION_BIN: self.lab.bin_dir,
                 ANNOTATION_ERROR: None}
        self.client.patch("Pod", name, {"metadata": {"annotations": notes}}, namespace=ns)
        status: Obj = {"phase": "Running", "hostIP": host_ip}
        current = self.client.get("Pod", name, ns)
        if rt.ip and not (current.get("status") or {}).get("podIP"):
            status["podIP"] = rt.ip
        self.client.patch("Pod", name, {"status": status}, namespace=ns, subresource="status")
        log.info("pod %s running in %s (ip %s, pid %d)", rt.key, rt.netns, rt.ip or "?", rt.pid)

    def _failed(self, key: str, pod: Obj, message: str) -> None:
        count = self.failures.get(key, (0, 0.0))[0] + 1
        self.failures[key] = (count, time.monotonic() + min(30.0, 0.5 * 2 ** count))
        log.warning("pod %s: start failed (attempt %d): %s", key, count, message)
        ns, name = key.split("/", 1)
        try:
            self.client.patch("Pod", name, {"metadata": {"annotations": {ANNOTATION_ERROR: message[:1000]}}},
                              namespace=ns)
        except OsdnError as exc:
            log.warning("pod %s: could not record the error: %s", key, exc)

    def _due(self, key: str) -> bool:
        return time.monotonic() >= self.failures.get(key, (0, 0.0))[1]

    def _stop(self, key: str) -> None:
        r = self.running.pop(key)
        runtime.stop_pod(self.lab, self.lab.node(r.rt.node), r.pod, r.rt)
        if r.proc is not None:
            r.proc.poll()
        log.info("pod %s stopped (%s removed)", key, r.rt.netns)

    def _adopt(self) -> None:
        """Pods started by an earlier kubelet of this lab (from the state file) are running already."""
        state = load_state(self.lab.dir)
        for rec in (state.processes if state else []):
            if not rec.role.startswith("pod:") or process_start_time(rec.pid) != rec.start_time:
                continue
            _, key, uid = rec.role.split(":", 2)
            pod = next((p for p in self.pods.items() if pod_key(p) == key and _uid(p) == uid), None)
            node = (pod.get("spec") or {}).get("nodeName", "") if pod else ""
            if pod is None:  # deleted while no kubelet ran: stop it now
                ns, name = key.split("/", 1)
                pod = {"metadata": {"namespace": ns, "name": name, "uid": uid}}
                rt = PodRuntime(key, uid, "", rec.netns, "", rec.pid)
                runtime.stop_pod(self.lab, None, pod, rt)
                continue
            notes = pod["metadata"].get("annotations") or {}
            rt = PodRuntime(key, uid, node, rec.netns, notes.get(ANNOTATION_LOG, ""), rec.pid)
            self.running[key] = Running(rt, pod)

    def shutdown(self) -> None:
        self.stopping.set()
        self.wake.set()


def _uid(pod: Obj | None) -> str:
    return str((pod or {}).get("metadata", {}).get("uid", "")) if pod else ""


def run_kubelet(lab: LabInfo) -> None:
    """Run until SIGTERM/SIGINT; pods keep running (the lab's `down` removes them)."""
    kubelet = Kubelet(lab)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: kubelet.shutdown())
    try:
        kubelet.run()
    except NotFoundError as exc:
        log.error("lab kubelet: %s", exc)
        raise
