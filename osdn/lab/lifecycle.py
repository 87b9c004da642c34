"""What the lab kubelet does with a pod's container over time, and the status it reports. Pure.

The pod's (first) container is a process. This module decides, from the pod spec, what that process
did and the time `now` (an argument: tests use fake time), what comes next and what the Pod's status
says, the Kubernetes way:
- restartPolicy Always restarts every exit, OnFailure a non-zero exit, Never none. Restarts back off
  as the kubelet's do: the first at once, then 10 s, doubling up to 300 s; a run of 10 minutes
  resets the back-off. While it waits the container is `waiting` with reason CrashLoopBackOff.
- A container that will not restart ends the pod: Succeeded if it exited 0, else Failed.
- activeDeadlineSeconds counts from status.startTime; past it the pod is killed and Failed with
  reason DeadlineExceeded.
- containerStatuses carry state (waiting/running/terminated with reason and exit code), lastState,
  ready, started and restartCount; conditions PodScheduled, Initialized, ContainersReady and Ready
  keep their lastTransitionTime while their status does not change.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field, replace
from typing import Any

Obj = dict[str, Any]
DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline"


@dataclass(frozen=True)
class Backoff:
    """The kubelet's crash-loop back-off: initial, doubling up to cap; reset after a long run."""

    initial: float = 10.0
    cap: float = 300.0
    reset_after: float = 600.0


@dataclass(frozen=True)
class Exit:
    """One finished run of the container."""

    code: int
    started_at: float
    finished_at: float

    @property
    def reason(self) -> str:
        return "Completed" if self.code == 0 else "Error"


@dataclass(frozen=True)
class ContainerRun:
    """The kubelet's memory of one pod's container (replaced, never mutated)."""

    start_time: float | None = None  # the pod's status.startTime (the kubelet accepted it)
    running_since: float | None = None
    last_exit: Exit | None = None  # the most recent exit (state while not running, else lastState)
    restart_count: int = 0
    next_start: float = 0.0  # no start before this time (back-off)
    delay: float = 0.0  # the back-off that the next crash will wait
    waiting_reason: str = "ContainerCreating"
    waiting_message: str = ""
    final_phase: str = ""  # Succeeded / Failed once the pod will not run again
    deadline_exceeded: bool = False


def accepted(run: ContainerRun, now: float) -> ContainerRun:
    """The pod is on this node: its startTime is set once."""
    return run if run.start_time is not None else replace(run, start_time=now)


def started(run: ContainerRun, now: float) -> ContainerRun:
    return replace(run, running_since=now, waiting_reason="", waiting_message="")


def start_failed(run: ContainerRun, reason: str, message: str, retry_at: float) -> ContainerRun:
    return replace(run, waiting_reason=reason, waiting_message=message, next_start=retry_at)


def restarts(policy: str, code: int) -> bool:
    """Whether a container that exited with `code` is started again under `policy`."""
    return policy == "Always" or (policy == "OnFailure" and code != 0)


def exited(run: ContainerRun, code: int, now: float, policy: str, backoff: Backoff = Backoff()) -> ContainerRun:
    """The container exited with `code` at `now`: the next start (after back-off) or the pod's end."""
    began = run.running_since if run.running_since is not None else now
    done = Exit(code, began, now)
    run = replace(run, running_since=None, last_exit=done)
    if not restarts(policy, code):
        return replace(run, final_phase="Succeeded" if code == 0 else "Failed", waiting_reason="")
    delay = 0.0 if now - began >= backoff.reset_after else run.delay
    message = f"back-off {delay:.0f}s restarting failed container"
    return replace(run, next_start=now + delay, delay=min(backoff.cap, max(backoff.initial, 2 * delay)),
                   waiting_reason="CrashLoopBackOff" if delay else "", waiting_message=message if delay else "")


def restarted(run: ContainerRun, now: float) -> ContainerRun:
    return replace(started(run, now), restart_count=run.restart_count + 1)


def deadline_passed(spec: Obj, run: ContainerRun, now: float) -> bool:
    """activeDeadlineSeconds is set and has passed since the pod's startTime."""
    limit = spec.get("activeDeadlineSeconds")
    return limit is not None and run.start_time is not None and not run.final_phase \
        and now - run.start_time >= int(limit)


def killed_for_deadline(run: ContainerRun, code: int | None, now: float) -> ContainerRun:
    """The pod was killed at its deadline (`code` of the killed process, if one ran)."""
    last = run.last_exit
    if run.running_since is not None:
        last = Exit(137 if code is None else code, run.running_since, now)
    return replace(run, running_since=None, last_exit=last, final_phase="Failed", deadline_exceeded=True,
                   waiting_reason="")


def phase(run: ContainerRun) -> str:
    if run.final_phase:
        return run.final_phase
    return "Running" if run.running_since is not None or run.restart_count or run.last_exit else "Pending"


# -- status ---------------------------------------------------------------------------------------

def rfc3339(t: float) -> str:
    return datetime.datetime.fromtimestamp(t, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Placement:
    """Where the pod runs: node address, pod address (either may not be known yet)."""

    host_ip: str = ""
    pod_ip: str = ""
    previous: Obj = field(default_factory=dict)  # the status as it is now (for transition times)


def _exit_state(done: Exit) -> Obj:
    return {"terminated": {"exitCode": done.code, "reason": done.reason, "startedAt": rfc3339(done.started_at),
                           "finishedAt": rfc3339(done.finished_at)}}


def container_status(container: Obj, run: ContainerRun) -> Obj:
    """One entry of status.containerStatuses."""
    last: Obj = {}
    if run.running_since is not None:
        state: Obj = {"running": {"startedAt": rfc3339(run.running_since)}}
        last = _exit_state(run.last_exit) if run.last_exit else {}
    elif run.waiting_reason or run.last_exit is None:
        waiting = {"reason": run.waiting_reason or "ContainerCreating"}
        if run.waiting_message:
            waiting["message"] = run.waiting_message
        state = {"waiting": waiting}
        last = _exit_state(run.last_exit) if run.last_exit else {}
    else:
        state = _exit_state(run.last_exit)
    running = run.running_since is not None
    return {"name": container.get("name", ""), "image": container.get("image", ""), "imageID": "",
            "state": state, "lastState": last, "ready": running, "started": running,
            "restartCount": run.restart_count}


def conditions(run: ContainerRun, container_name: str, now: float, previous: list[Obj]) -> list[Obj]:
    """PodScheduled, Initialized, ContainersReady and Ready, kube's way."""
    ready = run.running_since is not None
    reason = "PodCompleted" if run.final_phase else "" if ready else "ContainersNotReady"
    message = "" if ready or run.final_phase else f"containers with unready status: [{container_name}]"
    want = [("PodScheduled", True, "", ""), ("Initialized", True, reason if run.final_phase else "", ""),
            ("ContainersReady", ready, reason, message), ("Ready", ready, reason, message)]
    before = {c.get("type"): c for c in previous}
    out = []
    for kind, ok, why, text in want:
        status = "True" if ok else "False"
        old = before.get(kind) or {}
        cond: Obj = {"type": kind, "status": status,
                     "lastTransitionTime": old.get("lastTransitionTime") if old.get("status") == status
                     else rfc3339(now)}
        if why:
            cond["reason"] = why
        if text:
            cond["message"] = text
        out.append(cond)
    return out


def pod_status(pod: Obj, run: ContainerRun, where: Placement, now: float) -> Obj:
    """The whole status the kubelet reports for `pod`."""
    spec = pod.get("spec") or {}
    container = (spec.get("containers") or [{}])[0]
    status: Obj = {"phase": phase(run), "conditions": conditions(run, container.get("name", ""), now,
                                                                  where.previous.get("conditions") or [])}
    if run.deadline_exceeded:
        status.update(reason="DeadlineExceeded", message=DEADLINE_MESSAGE)
    if where.host_ip:
        status["hostIP"] = where.host_ip
    pod_ip = where.previous.get("podIP") or where.pod_ip
    if pod_ip:
        status.update(podIP=pod_ip, podIPs=[{"ip": pod_ip}])
    if run.start_time is not None:
        status["startTime"] = rfc3339(run.start_time)
    status["containerStatuses"] = [container_status(container, run)]
    return status


def parse_time(text: str | None) -> float | None:
    if not text:
        return None
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC).timestamp()


def from_status(status: Obj, now: float) -> ContainerRun:
    """What a restarted kubelet knows again about a running pod, from the status it reported."""
    cs = (status.get("containerStatuses") or [{}])[0]
    running = (cs.get("state") or {}).get("running") or {}
    return ContainerRun(start_time=parse_time(status.get("startTime")) or now,
                        running_since=parse_time(running.get("startedAt")) or now,
                        restart_count=int(cs.get("restartCount") or 0))
