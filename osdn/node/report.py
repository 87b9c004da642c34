"""What the node tells the cluster about NetworkPolicies it does not enforce rule by rule.

A policy that fails closed on this node (`NodeIntent.policy_failures`, see `compile`) is reported
twice: the Node's condition `NetworkPolicyRenderFailed` (True, naming every such policy; False,
reason `AllPoliciesRendered`, when there is none) and a Warning Event `PolicyRenderFailed` in the
policy's namespace, with the policy as involvedObject, once per (policy, reason) as it appears; a
Normal Event `PolicyRendered` when this node enforces it again. The builders are pure (`now` is an
argument); `PolicyReporter` does the writes, best effort: a failed write is logged and retried by
the next sync, never raised into it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from osdn.errors import OsdnError
from osdn.node.intent import PolicyFailure

log = logging.getLogger(__name__)
Obj = dict[str, Any]
CONDITION = "NetworkPolicyRenderFailed"
FAILED_REASON, RENDERED_REASON = "PolicyRenderFailed", "PolicyRendered"
COMPONENT = "osdn-node"
MAX_MESSAGE = 1024


class EventWriter(Protocol):
    """What the reporter needs of a client (`osdn.client.Client` is one)."""

    def create(self, obj: Obj, namespace: str = "") -> Obj: ...


def policy_condition(failures: tuple[PolicyFailure, ...], now: str, previous: Obj | None = None) -> Obj:
    """Pure: the Node condition for `failures`; `lastTransitionTime` stays while the status holds."""
    status = "True" if failures else "False"
    if failures:
        names = ", ".join(f"{f.namespace}/{f.name}" for f in failures)
        reason, message = FAILED_REASON, (f"{len(failures)} NetworkPolicy(ies) not enforced, the pods they "
                                          f"select are isolated with nothing allowed by them: {names}")
    else:
        reason, message = "AllPoliciesRendered", "every NetworkPolicy is enforced"
    since = previous.get("lastTransitionTime") if previous and previous.get("status") == status else None
    return {"type": CONDITION, "status": status, "reason": reason, "message": _cut(message),
            "lastHeartbeatTime": now, "lastTransitionTime": since or now}


def policy_event(node: str, namespace: str, name: str, failure: PolicyFailure | None, now: str) -> Obj:
    """Pure: the Event about NetworkPolicy namespace/name on `node`: failed (with why) or enforced again."""
    if failure is not None:
        kind, reason = "Warning", FAILED_REASON
        message = (f"node {node} does not enforce NetworkPolicy {namespace}/{name}: {failure.reason}; the pods "
                   f"it selects are isolated and nothing is allowed by it")
    else:
        kind, reason, message = "Normal", RENDERED_REASON, f"node {node} enforces NetworkPolicy {namespace}/{name}"
    return {"apiVersion": "v1", "kind": "Event", "metadata": {"generateName": f"{name}.", "namespace": namespace},
            "involvedObject": {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                               "namespace": namespace, "name": name},
            "type": kind, "reason": reason, "message": _cut(message), "source": {"component": COMPONENT, "host": node},
            "count": 1, "firstTimestamp": now, "lastTimestamp": now}


def _cut(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE - 3] + "..."


class PolicyReporter:
    """Keeps the condition and the reported failures; `update` after each applied sync."""

    def __init__(self, client: EventWriter, node: str, now: Callable[[], str], push: Callable[[], None]) -> None:
        self.client, self.node, self.now, self.push = client, node, now, push
        self.lock = threading.Lock()
        self._current: tuple[PolicyFailure, ...] = ()  # as of the last applied sync
        self._condition = policy_condition((), now())
        self._pushed: tuple[PolicyFailure, ...] | None = None  # what the Node's condition shows
        self._evented: dict[tuple[str, str], PolicyFailure] = {}  # what the last Event said, per policy

    def condition(self) -> Obj:
        """The condition as of now (for every heartbeat)."""
        with self.lock:
            self._condition = policy_condition(self._current, self.now(), self._condition)
            return dict(self._condition)

    def update(self, failures: tuple[PolicyFailure, ...], enforced: set[tuple[str, str]]) -> None:
        """After an applied sync: Events for what changed (`enforced`: the policies this node now
        renders rule by rule), and the Node's condition rewritten if the failures changed."""
        with self.lock:
            self._current = tuple(sorted(failures))
        now = {(f.namespace, f.name): f for f in failures}
        for key, failure in now.items():
            if self._evented.get(key) != failure:
                log.warning("node %s: NetworkPolicy %s/%s not enforced, its pods are isolated: %s", self.node,
                            *key, failure.reason)
                if self._event(key, failure):
                    self._evented[key] = failure
        for key in [k for k in self._evented if k not in now]:
            if key not in enforced or self._event(key, None):
                del self._evented[key]
        if self._current != self._pushed:
            try:
                self.push()
                self._pushed = self._current
            except OsdnError as exc:
                log.warning("node %s: cannot set condition %s: %s", self.node, CONDITION, exc.message)

    def _event(self, key: tuple[str, str], failure: PolicyFailure | None) -> bool:
        try:
            self.client.create(policy_event(self.node, *key, failure, self.now()), key[0])
            return True
        except OsdnError as exc:
            log.warning("node %s: event about NetworkPolicy %s/%s not recorded: %s", self.node, *key, exc.message)
            return False
