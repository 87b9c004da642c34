"""Deployment rollout decisions, pure: kube's deployment controller (pkg/controller/deployment) as functions.

A step of a rollout is a set of ReplicaSet scale targets: `plan_rolling` is kube's
reconcileNewReplicaSet (scale the new RS up within `replicas + maxSurge` pods, or down to
`replicas`) then, when that did nothing, reconcileOldReplicaSets (scale old RSs down, the unhealthy
replicas first, keeping `replicas - maxUnavailable` available pods); `plan_recreate` scales every
old RS to 0, waits for their pods to be gone, then brings up the new one. `template_hash` names the
new RS (`<deployment>-<hash>`, label `pod-template-hash`); `deployment_status` is kube's
calculateStatus plus the Available and Progressing conditions (ProgressDeadlineExceeded after
`progressDeadlineSeconds` without progress); `cleanup` picks the old RSs beyond
`revisionHistoryLimit`. Times are given (seconds since the epoch), never read.

Scaling is kube's sync.go `scale()`: every RS the controller scales carries the Deployment's size
(`deployment.kubernetes.io/desired-replicas`) and `replicas + maxSurge`
(`deployment.kubernetes.io/max-replicas`) of that moment; an active RS whose desired-replicas is not
the Deployment's `replicas` makes a sync a scaling event (`is_scaling_event`), and `plan_scale` then
gives the one active RS (or the newest) the whole size, or, with several active ones, spreads the
change over them in proportion to their share of the old max-replicas (`proportion`, kube's
GetProportion), the leftover of the rounding to the first (largest; newest on scale up, oldest on
scale down). `replica_failure` mirrors a ReplicaSet's ReplicaFailure condition (pod creates refused,
osdn.master.replicafailure) into the Deployment's conditions, as kube's syncRolloutStatus does.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from osdn.api.timestamps import format_time, parse

Obj = dict[str, Any]
HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
DESIRED = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
REPLICA_FAILURE = "ReplicaFailure"   # a ReplicaSet condition the Deployment mirrors
_SAFE = "bcdfghjklmnpqrstvwxz2456789"  # apimachinery's rand.SafeEncodeString alphabet


@dataclass(frozen=True)
class RSView:
    """What a rollout reads of a ReplicaSet."""
    name: str
    replicas: int            # spec.replicas
    available: int = 0       # status.availableReplicas
    ready: int = 0
    current: int = 0         # status.replicas
    revision: int = 0
    created: str = ""
    settled: bool = True     # status.observedGeneration >= metadata.generation
    desired: int | None = None       # the desired-replicas annotation (None: absent or not a number)
    max_replicas: int | None = None  # the max-replicas annotation

    @classmethod
    def of(cls, rs: Mapping[str, Any]) -> RSView:
        meta, spec, status = rs.get("metadata") or {}, rs.get("spec") or {}, rs.get("status") or {}
        notes = meta.get("annotations") or {}
        return cls(str(meta.get("name")), int(spec.get("replicas", 1)), int(status.get("availableReplicas") or 0),
                   int(status.get("readyReplicas") or 0), int(status.get("replicas") or 0),
                   revision_of(rs), str(meta.get("creationTimestamp") or ""),
                   int(status.get("observedGeneration") or 0) >= int(meta.get("generation") or 1),
                   _int_note(notes.get(DESIRED)), _int_note(notes.get(MAX_REPLICAS)))


@dataclass(frozen=True)
class Strategy:
    type: str
    replicas: int
    max_surge: int
    max_unavailable: int


def _int_note(value: Any) -> int | None:
    """An annotation as kube's strconv.ParseInt(value, 10, 32) reads it; None when it does not parse."""
    text = str(value) if value is not None else ""
    body = text[1:] if text[:1] in "+-" else text
    if not body.isascii() or not body.isdigit() or not -2**31 <= int(text) < 2**31:
        return None
    return int(text)


def revision_of(obj: Mapping[str, Any]) -> int:
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION, "0")
    return int(value) if str(value).isdigit() else 0


def scaled_value(value: int | str | None, total: int, round_up: bool) -> int:
    """An IntOrString of the strategy: an int, or a percentage of `total` (intstr.GetScaledValueFromIntOrPercent)."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    if not value.endswith("%"):
        return int(value)
    product = total * int(value[:-1])
    return -(-product // 100) if round_up else product // 100


def strategy_of(deployment: Mapping[str, Any]) -> Strategy:
    """Kube's ResolveFenceposts and MaxUnavailable: surge rounds up, unavailable down, never both 0."""
    spec = deployment.get("spec") or {}
    replicas = int(spec.get("replicas", 1))
    strategy = spec.get("strategy") or {}
    kind = strategy.get("type") or "RollingUpdate"
    if kind != "RollingUpdate":
        return Strategy(kind, replicas, 0, 0)
    rolling = strategy.get("rollingUpdate") or {}
    surge = scaled_value(rolling.get("maxSurge", "25%"), replicas, True)
    unavailable = scaled_value(rolling.get("maxUnavailable", "25%"), replicas, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return Strategy(kind, replicas, surge, 0 if replicas == 0 else min(unavailable, replicas))


def template_hash(template: Mapping[str, Any], collision_count: int = 0) -> str:
    """fnv-1a (32 bit) of the template without its hash label, encoded as kube's ComputeHash encodes it."""
    digest = 0x811C9DC5
    data = json.dumps(without_hash(template), sort_keys=True, separators=(",", ":")).encode()
    if collision_count:
        data += collision_count.to_bytes(4, "little")
    for byte in data:
        digest = ((digest ^ byte) * 0x01000193) & 0xFFFFFFFF
    return "".join(_SAFE[ord(c) % len(_SAFE)] for c in str(digest))


def without_hash(template: Mapping[str, Any]) -> Obj:
    """The template with no `pod-template-hash` label, in the form kube's EqualIgnoreHash compares:
    Go zero values (null, {}, []) are absent (`kubectl rollout undo` writes `resources: {}`,
    `creationTimestamp: null`)."""
    out = json.loads(json.dumps(template))
    labels = (out.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH_LABEL, None)
    return dict(_semantic(out))


def _semantic(value: Any) -> Any:
    if isinstance(value, Mapping):
        kept = {k: _semantic(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_semantic(v) for v in value]
    return value


def _by_age(rss: Sequence[RSView]) -> list[RSView]:
    return sorted(rss, key=lambda r: (r.created, r.name))


def plan_rolling(s: Strategy, new: RSView, old: Sequence[RSView]) -> dict[str, int]:
    """One step of a rolling update: RS name -> new spec.replicas (empty: nothing to scale now)."""
    everything = [new, *old]
    if new.replicas > s.replicas:
        return {new.name: s.replicas}
    total = sum(r.replicas for r in everything)
    if new.replicas < s.replicas and total < s.replicas + s.max_surge:
        return {new.name: new.replicas + min(s.replicas + s.max_surge - total, s.replicas - new.replicas)}
    active = _by_age([r for r in old if r.replicas > 0])
    min_available = s.replicas - s.max_unavailable
    budget = total - min_available - (new.replicas - new.available)
    if not active or budget <= 0:
        return {}
    targets: dict[str, int] = {}
    cleaned = 0
    for rs in active:  # the unhealthy replicas first (cleanupUnhealthyReplicas)
        unhealthy = rs.replicas - rs.available
        if cleaned < budget and unhealthy > 0:
            targets[rs.name] = rs.replicas - min(budget - cleaned, unhealthy)
            cleaned += rs.replicas - targets[rs.name]
    excess = sum(r.available for r in everything) - min_available
    for rs in active:  # then available ones, oldest first (scaleDownOldReplicaSetsForRollingUpdate)
        have = targets.get(rs.name, rs.replicas)
        if excess > 0 and have > 0:
            down = min(have, excess)
            targets[rs.name], excess = have - down, excess - down
    return targets


def plan_recreate(s: Strategy, new: RSView, old: Sequence[RSView]) -> dict[str, int]:
    """One step of Recreate: old RSs to 0; once their pods are gone, the new one to `replicas`."""
    if any(r.replicas > 0 for r in old):
        return {r.name: 0 for r in old if r.replicas > 0}
    if any(r.current > 0 or not r.settled for r in old):
        return {}
    return {new.name: s.replicas} if new.replicas != s.replicas else {}


def plan(s: Strategy, new: RSView, old: Sequence[RSView]) -> dict[str, int]:
    return plan_rolling(s, new, old) if s.type == "RollingUpdate" else plan_recreate(s, new, old)


def replicas_annotations(s: Strategy) -> dict[str, str]:
    """The annotations every RS the controller scales gets (kube's SetReplicasAnnotations)."""
    return {DESIRED: str(s.replicas), MAX_REPLICAS: str(s.replicas + s.max_surge)}


def annotated(s: Strategy, rs: RSView) -> bool:
    return (rs.desired, rs.max_replicas) == (s.replicas, s.replicas + s.max_surge)


def _active(rss: Sequence[RSView | None]) -> list[RSView]:
    return [r for r in rss if r is not None and r.replicas > 0]


def is_scaling_event(s: Strategy, new: RSView | None, old: Sequence[RSView]) -> bool:
    """Kube's isScalingEvent: an active RS was sized for another `replicas` than the Deployment's."""
    return any(r.desired is not None and r.desired != s.replicas for r in _active([*old, new]))


def _active_or_latest(new: RSView | None, old: Sequence[RSView]) -> RSView | None:
    """Kube's FindActiveOrLatest: the one active RS; with none, the new one or else the newest old one."""
    active = _active([*old, new])
    if len(active) == 1:
        return active[0]
    if active or (new is None and not old):
        return None
    return new if new is not None else _by_age(old)[-1]


def saturated(s: Strategy, new: RSView | None) -> bool:
    """Kube's IsSaturated: the new RS is sized, annotated and available at the Deployment's `replicas`."""
    return new is not None and new.desired == s.replicas == new.replicas == new.available


def _sized(up: bool) -> Any:
    """Kube's ReplicaSetsBySizeNewer (`up`) / BySizeOlder: the largest first; among equals the newest
    (scaling up) or the oldest (scaling down) first; equal creation times by name."""
    def compare(a: RSView, b: RSView) -> int:
        if a.replicas != b.replicas:
            return b.replicas - a.replicas
        older = -1 if (a.created, a.name) < (b.created, b.name) else 1
        return -older if up else older
    return functools.cmp_to_key(compare)


def _fraction(rs: RSView, s: Strategy, status_replicas: int) -> int:
    """Kube's getReplicaSetFraction: how many replicas `rs` gains (or loses) for its share of the new
    max size (replicas + maxSurge) against the one it was sized for (its max-replicas annotation, or
    else the Deployment's status.replicas)."""
    if s.replicas == 0:
        return -rs.replicas
    before = rs.max_replicas or status_replicas
    if before <= 0:
        return 0
    product = rs.replicas * (s.replicas + s.max_surge)
    return (2 * product + before) // (2 * before) - rs.replicas   # math.Round of product / before


def proportion(rs: RSView, s: Strategy, status_replicas: int, to_add: int, added: int) -> int:
    """Kube's GetProportion: `rs`'s share of `to_add`, never past what is left of it after `added`."""
    if rs.replicas == 0 or to_add == 0 or to_add == added:
        return 0
    fraction, allowed = _fraction(rs, s, status_replicas), to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def plan_scale(s: Strategy, status_replicas: int, new: RSView | None, old: Sequence[RSView]) -> dict[str, int]:
    """Kube's scale() (a scaling event, or any sync of a paused Deployment): RS name -> spec.replicas
    for every RS it sizes (the controller also refreshes their replicas annotations). One active RS
    (or none: the newest) gets `replicas`; a saturated new RS leaves the old ones at 0; otherwise, in
    a rolling update, the change to `replicas + maxSurge` is spread proportionally over the active RSs."""
    if (only := _active_or_latest(new, old)) is not None:
        return {only.name: s.replicas}
    if saturated(s, new):
        return {r.name: 0 for r in _active(old)}
    if s.type != "RollingUpdate":
        return {}
    active = _active([*old, new])
    to_add = (s.replicas + s.max_surge if s.replicas > 0 else 0) - sum(r.replicas for r in active)
    if not active or to_add == 0:   # no RS at all (a paused Deployment that never rolled out)
        return {r.name: r.replicas for r in active}
    active.sort(key=_sized(to_add > 0))
    sizes, added = {}, 0
    for rs in active:
        share = proportion(rs, s, status_replicas, to_add, added)
        sizes[rs.name], added = rs.replicas + share, added + share
    sizes[active[0].name] = max(0, sizes[active[0].name] + to_add - added)   # the leftover to the first
    return sizes


def complete(s: Strategy, status: Mapping[str, Any]) -> bool:
    """Kube's DeploymentComplete: every replica updated, available, and no old one left."""
    return all(int(status.get(k) or 0) == s.replicas for k in ("updatedReplicas", "replicas", "availableReplicas"))


def cleanup(old: Sequence[RSView], limit: int) -> list[str]:
    """Old RSs to delete beyond `revisionHistoryLimit`, lowest revision first, only the empty settled ones."""
    ordered = sorted(old, key=lambda r: (r.revision, r.created, r.name))
    extra = ordered[:max(0, len(ordered) - limit)]
    return [r.name for r in extra if r.replicas == 0 and r.current == 0 and r.settled]


def _progressed(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """Kube's DeploymentProgressing: more updated, ready or available replicas, or fewer old ones."""
    def old_of(status: Mapping[str, Any]) -> int:
        return int(status.get("replicas") or 0) - int(status.get("updatedReplicas") or 0)
    return any(int(after.get(k) or 0) > int(before.get(k) or 0)
               for k in ("updatedReplicas", "readyReplicas", "availableReplicas")) or old_of(after) < old_of(before)


def _condition(kind: str, status: str, reason: str, message: str, now: str, prev: Mapping[str, Any] | None) -> Obj:
    same = prev is not None and prev.get("status") == status
    if same and prev is not None and prev.get("reason") == reason:
        return dict(prev)   # SetDeploymentCondition: the same status and reason change nothing
    return {"type": kind, "status": status, "lastUpdateTime": now,
            "lastTransitionTime": (prev or {}).get("lastTransitionTime", now) if same else now,
            "reason": reason, "message": message}


def deployment_status(deployment: Mapping[str, Any], s: Strategy, new: RSView | None, old: Sequence[RSView],
                      now: float, created_new: bool = False) -> Obj:
    """The status a sync writes: counts from the RSs, Available and Progressing conditions."""
    everything = ([new] if new else []) + list(old)
    prev = deployment.get("status") or {}
    available = sum(r.available for r in everything)
    status: Obj = {"observedGeneration": (deployment.get("metadata") or {}).get("generation") or 1,
                   "replicas": sum(r.current for r in everything), "updatedReplicas": new.current if new else 0,
                   "readyReplicas": sum(r.ready for r in everything), "availableReplicas": available,
                   "unavailableReplicas": max(0, sum(r.replicas for r in everything) - available)}
    conds = {c.get("type"): c for c in prev.get("conditions") or []}
    stamp = format_time(now)
    status["conditions"] = [
        _condition("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.", stamp,
                   conds.get("Available")) if available >= s.replicas - s.max_unavailable else
        _condition("Available", "False", "MinimumReplicasUnavailable",
                   "Deployment does not have minimum availability.", stamp, conds.get("Available")),
        _progressing(deployment, s, new, status, conds.get("Progressing"), now, created_new)]
    return status


def _progressing(deployment: Mapping[str, Any], s: Strategy, new: RSView | None, status: Obj,
                 prev: Mapping[str, Any] | None, now: float, created_new: bool) -> Obj:
    name, stamp = new.name if new else "", format_time(now)
    reason = (prev or {}).get("reason")
    if (deployment.get("spec") or {}).get("paused"):   # kube's checkPausedConditions
        if reason in ("ProgressDeadlineExceeded", "DeploymentPaused") and prev is not None:
            return dict(prev)
        return _condition("Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", stamp, prev)
    if reason == "DeploymentPaused":
        return _condition("Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed", stamp, prev)
    if created_new:
        return _condition("Progressing", "True", "NewReplicaSetCreated", f'Created new replica set "{name}"', stamp,
                          prev)
    if new is not None and complete(s, status):
        return _condition("Progressing", "True", "NewReplicaSetAvailable",
                          f'ReplicaSet "{name}" has successfully progressed.', stamp, prev)
    if prev is None or _progressed(deployment.get("status") or {}, status):
        moved = _condition("Progressing", "True", "ReplicaSetUpdated", f'ReplicaSet "{name}" is progressing.',
                           stamp, None)
        return {**moved, "lastTransitionTime": (prev or {}).get("lastTransitionTime", stamp)} \
            if prev is not None and prev.get("status") == "True" else moved
    if timed_out(deployment, prev, now):
        return _condition("Progressing", "False", "ProgressDeadlineExceeded",
                          f'ReplicaSet "{name}" has timed out progressing.', stamp, prev)
    return dict(prev)


def status_only(deployment: Mapping[str, Any], s: Strategy, new: RSView | None, old: Sequence[RSView],
                now: float) -> Obj:
    """Kube's syncStatusOnly (a Deployment being deleted): the counts from its RSs and the Available
    condition (calculateStatus); every other condition as it was, Progressing included."""
    status = deployment_status(deployment, s, new, old, now)
    available = next(c for c in status["conditions"] if c["type"] == "Available")
    prev = [dict(c) for c in (deployment.get("status") or {}).get("conditions") or []]
    if not any(c.get("type") == "Available" and c.get("status") == available["status"]
               and c.get("reason") == available["reason"] for c in prev):   # SetDeploymentCondition
        prev = [*(c for c in prev if c.get("type") != "Available"), available]
    status["conditions"] = prev
    return status


def replica_failure(deployment: Mapping[str, Any], new: Mapping[str, Any] | None, rss: Sequence[Mapping[str, Any]],
                    rollout: bool) -> Obj | None:
    """The Deployment's ReplicaFailure condition after a sync, or None. A rollout sync (kube's
    syncRolloutStatus) mirrors the new RS's ReplicaFailure, else an old RS's (getReplicaFailures,
    ReplicaSetToDeploymentCondition), and drops it when none has one; as SetDeploymentCondition, one
    with the same status and reason is kept as it was, and one with the same status keeps its
    lastTransitionTime. A scaling-only sync (kube's sync(): syncDeploymentStatus) keeps it as it was."""
    prev = next((dict(c) for c in (deployment.get("status") or {}).get("conditions") or []
                 if c.get("type") == REPLICA_FAILURE), None)
    if not rollout:
        return prev
    found = next((c for rs in ([new] if new is not None else []) + list(rss)
                  for c in (rs.get("status") or {}).get("conditions") or [] if c.get("type") == REPLICA_FAILURE), None)
    if found is None:
        return None
    if prev is not None and prev.get("status") == found.get("status"):
        if prev.get("reason") == found.get("reason"):
            return prev
        since = prev.get("lastTransitionTime")
    else:
        since = found.get("lastTransitionTime")
    return {"type": REPLICA_FAILURE, "status": found.get("status"), "lastUpdateTime": found.get("lastTransitionTime"),
            "lastTransitionTime": since, "reason": found.get("reason"), "message": found.get("message")}


def timed_out(deployment: Mapping[str, Any], prev: Mapping[str, Any] | None, now: float) -> bool:
    """Kube's DeploymentTimedOut: no progress for `progressDeadlineSeconds` since the condition's lastUpdateTime."""
    if prev is None or prev.get("reason") == "NewReplicaSetAvailable":
        return False
    if prev.get("reason") == "ProgressDeadlineExceeded":
        return True
    return deadline_left(deployment, prev, now) < 0


def deadline_left(deployment: Mapping[str, Any], prev: Mapping[str, Any], now: float) -> float:
    """Seconds until the progress deadline of the Progressing condition `prev` passes."""
    deadline = int((deployment.get("spec") or {}).get("progressDeadlineSeconds") or 600)
    since = parse(prev.get("lastUpdateTime")) or now
    return since + deadline - now
