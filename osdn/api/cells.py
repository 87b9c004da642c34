"""Table cells that follow kubectl's own printers: durations, pods and events. Pure (`now` is passed in).

- `human_duration`: k8s.io/apimachinery's duration.HumanDuration (`45s`, `3m20s`, `5h10m`, `3d4h`).
- `pod_row`: READY, STATUS and RESTARTS as kubectl's printPod computes them from the container
  statuses (`1/1`, `ContainerCreating`, `Completed`, `Error`, `CrashLoopBackOff`, `DeadlineExceeded`,
  `Terminating`, `2 (5m ago)`). Two additions to kubectl's rules: a Failed pod with a pod-level reason
  shows it (`DeadlineExceeded`, not the killed container's `Error`), and a Pending pod whose
  conditions say why shows it: `Pending (Unschedulable)`.
- `event_columns`: `get events` as kubectl prints them (LAST SEEN, TYPE, REASON, OBJECT, MESSAGE;
  -o wide adds SUBOBJECT, SOURCE, FIRST SEEN, COUNT, NAME), and `event_age` for `describe`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from osdn.api import timestamps

Obj = dict[str, Any]
Column = tuple[str, Callable[[Obj], str], int]  # (header, cell, priority: 1 = only with -o wide)
GENERIC_REASONS = ("", "ContainersNotReady", "PodCompleted")


def human_duration(seconds: int) -> str:
    if seconds < -1:
        return "<invalid>"
    seconds = max(seconds, 0)
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 120:
        return f"{seconds}s"
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 192:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 730:
        return f"{days}d"
    years = days // 365
    return f"{years}y{days % 365}d" if years < 8 and days % 365 else f"{years}y"


def age(timestamp: Any, now: float) -> str:
    """How long ago `timestamp` (RFC 3339) was at `now` (epoch seconds)."""
    then = timestamps.parse(timestamp)
    return "<unknown>" if then is None else human_duration(int(now - then))


def _condition(pod: Obj, kind: str) -> Obj:
    return next((c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") == kind), {})


def pending_why(pod: Obj) -> str:
    """Why a pod is still Pending: the reason of its first false condition that says more than
    "containers not ready" (PodScheduled=False Unschedulable, ...), or ""."""
    for kind in ("PodScheduled", "Initialized", "ContainersReady", "Ready"):
        c = _condition(pod, kind)
        if c.get("status") == "False" and c.get("reason") not in GENERIC_REASONS:
            return str(c["reason"])
    return ""


def _terminated_reason(terminated: Obj) -> str:
    if terminated.get("reason"):
        return str(terminated["reason"])
    if terminated.get("signal"):
        return f"Signal:{terminated['signal']}"
    return f"ExitCode:{terminated.get('exitCode', 0)}"


def pod_row(pod: Obj, now: float) -> tuple[str, str, str]:
    """(READY, STATUS, RESTARTS) as kubectl's printPod computes them."""
    status = pod.get("status") or {}
    total = len((pod.get("spec") or {}).get("containers") or [])
    reason = str(status.get("reason") or status.get("phase") or "Pending")
    ready = restarts = 0
    last_restart = ""
    has_running = False
    for cs in reversed(status.get("containerStatuses") or []):
        restarts += int(cs.get("restartCount") or 0)
        last_restart = max(last_restart, str(((cs.get("lastState") or {}).get("terminated") or {})
                                             .get("finishedAt") or ""))
        state = cs.get("state") or {}
        waiting, terminated = state.get("waiting") or {}, state.get("terminated")
        if waiting.get("reason"):
            reason = str(waiting["reason"])
        elif terminated is not None:
            reason = _terminated_reason(terminated)
        elif cs.get("ready") and "running" in state:
            has_running = True
            ready += 1
    if status.get("phase") == "Failed" and status.get("reason"):  # DeadlineExceeded, Evicted: the pod's why
        reason = str(status["reason"])
    if reason == "Completed" and has_running:
        reason = "Running" if _condition(pod, "Ready").get("status") == "True" else "NotReady"
    if (pod.get("metadata") or {}).get("deletionTimestamp") and status.get("phase") not in ("Succeeded", "Failed"):
        reason = "Terminating"
    why = pending_why(pod) if reason == "Pending" else ""
    restarts_text = f"{restarts} ({age(last_restart, now)} ago)" if restarts and last_restart else str(restarts)
    return f"{ready}/{total}", f"Pending ({why})" if why else reason, restarts_text


def pod_columns(now: float) -> list[Column]:
    return [("READY", lambda o: pod_row(o, now)[0], 0), ("STATUS", lambda o: pod_row(o, now)[1], 0),
            ("RESTARTS", lambda o: pod_row(o, now)[2], 0)]


def event_time(event: Obj) -> str:
    """When an event was last seen (for sorting, oldest first)."""
    return str(event.get("lastTimestamp") or event.get("eventTime") or event.get("firstTimestamp")
               or (event.get("metadata") or {}).get("creationTimestamp") or "")


def event_object(event: Obj) -> str:
    ref = event.get("involvedObject") or {}
    kind = str(ref.get("kind") or "").lower()
    return f"{kind}/{ref['name']}" if ref.get("name") else kind


def event_age(event: Obj, now: float) -> str:
    """`describe`'s Age: `5m`, or `5s (x3 over 10m)` for a repeated event."""
    first = event.get("firstTimestamp") or event.get("eventTime") or event_time(event)
    count = int(event.get("count") or 1)
    if count > 1:
        return f"{age(event_time(event), now)} (x{count} over {age(first, now)})"
    return age(first, now)


def event_source(event: Obj) -> str:
    """`From`/SOURCE: the component, and the host when there is one."""
    src = event.get("source") or {}
    return ", ".join(str(x) for x in (src.get("component"), src.get("host")) if x)


def event_columns(now: float) -> list[Column]:
    """kubectl's event table: no AGE, NAME only with -o wide."""
    return [("LAST SEEN", lambda o: age(event_time(o), now), 0),
            ("TYPE", lambda o: str(o.get("type") or ""), 0),
            ("REASON", lambda o: str(o.get("reason") or ""), 0),
            ("OBJECT", event_object, 0),
            ("SUBOBJECT", lambda o: str((o.get("involvedObject") or {}).get("fieldPath") or ""), 1),
            ("SOURCE", event_source, 1),
            ("MESSAGE", lambda o: str(o.get("message") or "").strip(), 0),
            ("FIRST SEEN", lambda o: age(o.get("firstTimestamp") or event_time(o), now), 1),
            ("COUNT", lambda o: str(o.get("count") or 1), 1),
            ("NAME", lambda o: str((o.get("metadata") or {}).get("name") or ""), 1)]
