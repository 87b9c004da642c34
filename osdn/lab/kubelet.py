"""The lab kubelet (`osdn lab kubelet --dir DIR`): runs the lab's Pods, one for all lab nodes.

Role: watches Pods (and Nodes, for scheduling). A Pod without spec.nodeName is scheduled onto a lab
node whose labels match its nodeSelector, round-robin, by setting spec.nodeName; when none fits, or
spec.nodeName names no lab node, the pod stays Pending with PodScheduled=False saying why and a
warning event. A Pod on a lab node is started by osdn.lab.runtime (namespace, CNI ADD through that
node's agent, its own resolv.conf/hosts, process) and marked with the annotations
`lab.osdn.io/netns`, `lab.osdn.io/log`, `lab.osdn.io/bin` and `lab.osdn.io/etc` (what `osdn exec`
and `osdn logs` read). A deleted Pod is stopped.

The pod spec is honoured as a kubelet does (the decisions are pure, in osdn.lab.lifecycle, with this
kubelet's injectable `clock`): restartPolicy (restarts with back-off, restartCount), exit codes
(Succeeded/Failed), activeDeadlineSeconds (killed, Failed, reason DeadlineExceeded); status carries
containerStatuses and the Ready condition. A finished pod keeps its network until it is deleted.

Level-triggered: watch events wake the loop, and it runs at least every RESYNC seconds (exits,
back-offs and deadlines are noticed then); each pass compares the Pod cache with what runs. A pod
whose sandbox failed to start is retried with backoff; the error is the container's waiting message
and a FailedCreatePodSandBox event.
"""
from __future__ import annotations

import logging
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from osdn.client import Client, load_config
from osdn.client.informer import Informer
from osdn.errors import NotFoundError, OsdnError
from osdn.kernel import netns
from osdn.lab import lifecycle, multus, runtime
from osdn.lab.cluster import LabInfo, NodeInfo
from osdn.lab.lifecycle import Backoff, ContainerRun
from osdn.lab.podevents import SCHEDULER, PodEvents
from osdn.lab.runtime import PodRuntime, pod_key
from osdn.lab.state import load_state, process_start_time
from osdn.model.multinet import STATUS_ANNOTATION, network_status

log = logging.getLogger(__name__)
Obj = dict[str, Any]
ANNOTATION_NETNS = "lab.osdn.io/netns"
ANNOTATION_LOG = "lab.osdn.io/log"
ANNOTATION_BIN = "lab.osdn.io/bin"
ANNOTATION_ETC = "lab.osdn.io/etc"
RESYNC = 1.0


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
    """A pod whose sandbox (netns + network) exists: its container process and lifecycle."""

    rt: PodRuntime
    pod: Obj
    proc: subprocess.Popen[bytes] | None = None
    run: ContainerRun = field(default_factory=ContainerRun)


@dataclass
class Kubelet:
    lab: LabInfo
    clock: Callable[[], float] = time.time
    backoff: Backoff = field(default_factory=Backoff)
    running: dict[str, Running] = field(default_factory=dict)
    waiting: dict[str, ContainerRun] = field(default_factory=dict)  # accepted, sandbox not made yet
    failures: dict[str, int] = field(default_factory=dict)  # key -> failed sandbox starts in a row
    reported: dict[str, Obj] = field(default_factory=dict)  # key -> the status last sent
    turn: int = 0

    def __post_init__(self) -> None:
        self.config = load_config(self.lab.admin_conf)
        self.client = Client(self.config)
        self.events = PodEvents(self.client, self.clock)
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
        """One pass: schedule, start, watch over and restart what should run, stop what should not."""
        pods = {pod_key(p): p for p in self.pods.items()}
        for key, pod in sorted(pods.items()):
            try:
                self._sync_pod(key, pod)
            except OsdnError as exc:
                log.warning("pod %s: %s", key, exc)
        for key in [k for k, r in self.running.items() if _uid(pods.get(k)) != r.rt.uid]:
            self._stop(key)
        for key in [k for k in {*self.waiting, *self.reported} if k not in pods]:
            self.waiting.pop(key, None)
            self.reported.pop(key, None)
            self.events.forget(*key.split("/", 1))

    def _sync_pod(self, key: str, pod: Obj) -> None:
        spec = pod.get("spec") or {}
        if pod["metadata"].get("deletionTimestamp"):
            return
        if key in self.running:
            self._tend(key, pod)
            return
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return  # a finished pod is never started again
        node_name = spec.get("nodeName") or ""
        if not node_name:
            self._schedule(key, pod)
            return
        node = self.lab.node(node_name)
        if node is None:
            self._node_not_found(pod, node_name)
            return
        self._start(key, pod, node)

    def _start(self, key: str, pod: Obj, node: NodeInfo) -> None:
        now = self.clock()
        run = lifecycle.accepted(self.waiting.get(key, ContainerRun()), now)
        if lifecycle.deadline_passed(pod.get("spec") or {}, run, now):
            run = lifecycle.killed_for_deadline(run, None, now)
            self.events.record(pod, "DeadlineExceeded", lifecycle.DEADLINE_MESSAGE, warning=True)
        elif now >= run.next_start:
            try:
                rt, proc = runtime.start_pod(self.lab, node, pod, multus.resolve(self.client, pod))
            except (runtime.CniError, multus.AttachError, OSError, OsdnError) as exc:
                run = self._start_failed(pod, run, str(getattr(exc, "message", None) or exc), now)
            else:
                self.failures.pop(key, None)
                self.waiting.pop(key, None)
                self.running[key] = Running(rt, pod, proc, lifecycle.started(run, now))
                self._annotate(pod, rt)
                self.events.record(pod, "Started", f"Started container {_container_name(pod)}")
                self._report(pod, self.running[key].run, node.ip, rt.ip)
                return
        self.waiting[key] = run
        self._report(pod, run, node.ip, "")

    def _start_failed(self, pod: Obj, run: ContainerRun, message: str, now: float) -> ContainerRun:
        key = pod_key(pod)
        count = self.failures.get(key, 0) + 1
        self.failures[key] = count
        log.warning("pod %s: start failed (attempt %d): %s", key, count, message)
        self.events.record(pod, "FailedCreatePodSandBox", message[:1000], warning=True)
        return lifecycle.start_failed(run, "ContainerCreating", message[:1000], now + min(30.0, 0.5 * 2 ** count))

    def _tend(self, key: str, pod: Obj) -> None:
        """A pod with a sandbox: notice an exit, restart after back-off, enforce the deadline."""
        r = self.running[key]
        r.pod, now, spec = pod, self.clock(), pod.get("spec") or {}
        run = r.run
        if run.final_phase and key in self.reported:
            return  # finished and said so: its network stays until the pod is deleted
        code = _exit_code(r)
        if code is not None and run.running_since is not None:
            run = lifecycle.exited(run, code, now, spec.get("restartPolicy") or "Always", self.backoff)
            if run.waiting_reason == "CrashLoopBackOff":
                self.events.record(pod, "BackOff", "Back-off restarting failed container", warning=True)
        if lifecycle.deadline_passed(spec, run, now):
            self.events.record(pod, "DeadlineExceeded", lifecycle.DEADLINE_MESSAGE, warning=True)
            runtime.kill_container(r.rt)
            run = lifecycle.killed_for_deadline(run, _exit_code(r), now)
        elif run.running_since is None and not run.final_phase and now >= run.next_start:
            r.proc = runtime.spawn_container(self.lab, pod, r.rt)
            run = lifecycle.restarted(run, now)
            self.events.record(pod, "Started", f"Started container {_container_name(pod)}")
        r.run = run
        node = self.lab.node(r.rt.node)
        self._report(pod, run, node.ip if node else "", r.rt.ip)

    def _schedule(self, key: str, pod: Obj) -> None:
        selector = (pod.get("spec") or {}).get("nodeSelector")
        names = [n.name for n in self.lab.nodes]
        name = pick_node(self.nodes.items(), names, selector, self.turn)
        if name is None:
            why = f"0/{len(names)} nodes are available: {len(names)} node(s) didn't match Pod's node affinity/selector."
            self._pending(pod, "Unschedulable", why, "FailedScheduling")
            return
        self.turn += 1
        ns, pod_name = key.split("/", 1)
        self.client.patch("Pod", pod_name, {"spec": {"nodeName": name}}, namespace=ns)
        self.events.record(pod, "Scheduled", f"Successfully assigned {key} to {name}", source=SCHEDULER)
        log.info("pod %s scheduled to %s", key, name)

    def _node_not_found(self, pod: Obj, node_name: str) -> None:
        nodes = ", ".join(n.name for n in self.lab.nodes)
        why = f'node "{node_name}" does not exist in lab "{self.lab.name}" (its nodes: {nodes})'
        self._pending(pod, "NodeNotFound", why, "NodeNotFound")

    def _pending(self, pod: Obj, reason: str, message: str, event: str) -> None:
        """A pod that cannot be placed: Pending, PodScheduled=False saying why, and a warning event."""
        cond = {"type": "PodScheduled", "status": "False", "reason": reason, "message": message,
                "lastTransitionTime": lifecycle.rfc3339(self.clock())}
        old = [c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") == "PodScheduled"]
        if old and (old[0].get("reason"), old[0].get("message")) == (reason, message):
            return
        self.events.record(pod, event, message, warning=True, source=SCHEDULER)
        self._patch_status(pod, {"phase": "Pending", "conditions": [cond]})
        log.warning("pod %s: %s", pod_key(pod), message)

    def _annotate(self, pod: Obj, rt: PodRuntime) -> None:
        meta = pod["metadata"]
        notes = {ANNOTATION_NETNS: rt.netns, ANNOTATION_LOG: rt.log, ANNOTATION_BIN: self.lab.bin_dir,
                 ANNOTATION_ETC: runtime.pod_etc_dir(self.lab, pod)}
        if rt.secondary:
            notes[STATUS_ANNOTATION] = network_status(rt.ip, rt.secondary)
        self.client.patch("Pod", meta["name"], {"metadata": {"annotations": notes}},
                          namespace=meta.get("namespace", ""))
        log.info("pod %s running in %s (ip %s, pid %d)", rt.key, rt.netns, rt.ip or "?", rt.pid)

    def _report(self, pod: Obj, run: ContainerRun, host_ip: str, pod_ip: str) -> None:
        """Send the pod's status if it differs from what was sent last."""
        current = self.pods.get(pod["metadata"]["name"], pod["metadata"].get("namespace", "")) or pod
        where = lifecycle.Placement(host_ip, pod_ip, current.get("status") or {})
        status = lifecycle.pod_status(pod, run, where, self.clock())
        if self.reported.get(pod_key(pod)) != status:
            self._patch_status(pod, status)

    def _patch_status(self, pod: Obj, status: Obj) -> None:
        meta = pod["metadata"]
        self.client.patch("Pod", meta["name"], {"status": status}, namespace=meta.get("namespace", ""),
                          subresource="status")
        self.reported[pod_key(pod)] = status

    def _stop(self, key: str) -> None:
        r = self.running.pop(key)
        self.reported.pop(key, None)  # a pod of the same name may come next: its status starts afresh
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
            run = lifecycle.from_status(pod.get("status") or {}, self.clock())
            self.running[key] = Running(rt, pod, None, run)
        for pod in self.pods.items():
            self._adopt_finished(pod)

    def _adopt_finished(self, pod: Obj) -> None:
        """A finished pod (no process left) whose network still exists: stopped when it is deleted."""
        key, status = pod_key(pod), pod.get("status") or {}
        ns = (pod["metadata"].get("annotations") or {}).get(ANNOTATION_NETNS, "")
        if key in self.running or status.get("phase") not in ("Succeeded", "Failed") or not ns \
                or not netns.netns_exists(ns):
            return
        rt = PodRuntime(key, _uid(pod), (pod.get("spec") or {}).get("nodeName", ""), ns, "")
        self.running[key] = Running(rt, pod, None, ContainerRun(final_phase=status["phase"]))
        self.reported[key] = status

    def shutdown(self) -> None:
        self.stopping.set()
        self.wake.set()


def _exit_code(r: Running) -> int | None:
    """The container's exit code once it has ended (128+N for signal N), else None."""
    if r.proc is not None:
        rc = r.proc.poll()
        return None if rc is None else (128 - rc if rc < 0 else rc)
    return None if netns.pids_in_netns(r.rt.netns) else 137  # adopted: not our child, code unknown


def _container_name(pod: Obj) -> str:
    return str((((pod.get("spec") or {}).get("containers") or [{}])[0]).get("name", ""))


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
