"""The ReplicaFailure condition of ReplicaSets and ReplicationControllers, as Kubernetes sets it.

Pure. When the replica controller's pod creates are refused (ResourceQuota admission: `exceeded
quota`), Kubernetes records a Warning event `FailedCreate` ("Error creating: <the API's message>")
on the owner and sets the status condition `ReplicaFailure` (status True, reason FailedCreate, the
same message); the next reconcile whose creates all pass removes the condition. The controller
retries such a key with the worker's capped exponential backoff (osdn.master.controller), never in
a hot loop. The event's and the condition's messages name the pod by its generateName prefix
(`pods "web-1a2b3c-"`) rather than by the random name the refused pod got (kube names it): the
events of repeated refusals collapse into one event whose count grows (osdn.master.events) instead
of one new Event object each time, and a repeated refusal does not rewrite the status (whose watch
event would wake the controller again at once, defeating the backoff).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from osdn.api.timestamps import format_time

Obj = dict[str, Any]
TYPE, REASON = "ReplicaFailure", "FailedCreate"


def _conditions(owner: Mapping[str, Any]) -> list[Obj]:
    return [dict(c) for c in (owner.get("status") or {}).get("conditions") or [] if isinstance(c, dict)]


def failure_status(owner: Mapping[str, Any], refusal: str | None, now: float) -> Obj:
    """The status fields to write so the owner's ReplicaFailure condition says `refusal` (None: the
    creates passed, no condition): `{}` when nothing changes, else `{"conditions": [...]}`."""
    conditions = _conditions(owner)
    current = next((c for c in conditions if c.get("type") == TYPE), None)
    others = [c for c in conditions if c.get("type") != TYPE]
    if refusal is None:
        return {} if current is None else {"conditions": others}
    if current is not None and current.get("status") == "True" and current.get("message") == refusal:
        return {}
    since = current.get("lastTransitionTime") if current and current.get("status") == "True" else None
    condition = {"type": TYPE, "status": "True", "lastTransitionTime": since or format_time(now),
                 "reason": REASON, "message": refusal}
    return {"conditions": [*others, condition]}


def refusal_message(message: str, owner_name: str) -> str:
    """The API's refusal with the refused pod named by its generateName prefix (stable across retries)."""
    return re.sub(rf'^pods "{re.escape(owner_name)}-[a-z0-9]+"', f'pods "{owner_name}-"', message)


def event_message(refusal: str) -> str:
    """kube's FailedCreate event message."""
    return f"Error creating: {refusal}"
