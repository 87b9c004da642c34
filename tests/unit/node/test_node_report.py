"""The node reports the NetworkPolicies it does not enforce: a Node condition and Events naming them."""

from __future__ import annotations

from typing import Any

from osdn.errors import ForbiddenError
from osdn.node.intent import PolicyFailure
from osdn.node.report import CONDITION, PolicyReporter, policy_condition

HUGE = PolicyFailure("t1", "huge", "spec.ingress: Too many: 200: must have at most 100 items")


class FakeClient:
    def __init__(self) -> None:
        self.created: list[tuple[dict[str, Any], str]] = []
        self.fail = False

    def create(self, obj: dict[str, Any], namespace: str = "") -> dict[str, Any]:
        if self.fail:
            raise ForbiddenError("events is forbidden")
        self.created.append((obj, namespace))
        return obj


class Clock:
    def __init__(self) -> None:
        self.t = 0

    def __call__(self) -> str:
        self.t += 1
        return f"2026-01-01T00:00:{self.t:02d}Z"


def reporter() -> tuple[PolicyReporter, FakeClient, list[dict[str, Any]]]:
    client, pushed = FakeClient(), []
    rep: PolicyReporter
    rep = PolicyReporter(client, "n1", Clock(), lambda: pushed.append(rep.condition()))
    return rep, client, pushed


def test_condition_names_the_policies_and_keeps_its_transition_time() -> None:
    cond = policy_condition((HUGE,), "T1")
    assert (cond["type"], cond["status"], cond["reason"]) == (CONDITION, "True", "PolicyRenderFailed")
    assert cond["message"].endswith(": t1/huge")
    assert policy_condition((HUGE,), "T2", cond)["lastTransitionTime"] == "T1"
    fixed = policy_condition((), "T3", cond)
    assert (fixed["status"], fixed["reason"], fixed["lastTransitionTime"]) == ("False", "AllPoliciesRendered", "T3")


def test_failure_is_an_event_on_the_policy_and_the_condition_once() -> None:
    rep, client, pushed = reporter()
    rep.update((HUGE,), set())
    ((event, ns),) = client.created
    assert ns == "t1" and event["involvedObject"] == {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                                                      "namespace": "t1", "name": "huge"}
    assert (event["type"], event["reason"]) == ("Warning", "PolicyRenderFailed")
    assert event["message"].startswith("node n1 does not enforce NetworkPolicy t1/huge: spec.ingress: Too many: 200")
    assert [c["status"] for c in pushed] == ["True"]
    rep.update((HUGE,), set())  # nothing changed: no new event, no write
    assert len(client.created) == 1 and len(pushed) == 1
    rep.update((), {("t1", "huge")})  # fixed: enforced again
    assert [(e["type"], e["reason"]) for e, _ in client.created[1:]] == [("Normal", "PolicyRendered")]
    assert [c["status"] for c in pushed] == ["True", "False"]
    assert rep.condition()["status"] == "False"


def test_deleted_policy_clears_the_condition_without_an_event() -> None:
    rep, client, pushed = reporter()
    rep.update((HUGE,), set())
    rep.update((), set())
    assert len(client.created) == 1 and [c["status"] for c in pushed] == ["True", "False"]


def test_event_failure_is_retried_and_never_raised_and_the_condition_still_says_it() -> None:
    rep, client, pushed = reporter()
    client.fail = True
    rep.update((HUGE,), set())
    assert client.created == [] and [c["status"] for c in pushed] == ["True"]
    client.fail = False
    rep.update((HUGE,), set())
    assert len(client.created) == 1
