"""kubectl's table cells (durations, pod READY/STATUS/RESTARTS) and the impact preview's summary. Pure."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from osdn.api.cells import event_age, human_duration, pod_row
from osdn.cli.impact import apply_changes, summarize_impact
from osdn.model.matrix import Change

NOW = datetime.datetime(2026, 1, 1, 1, 0, 0, tzinfo=datetime.UTC).timestamp()


@pytest.mark.parametrize("seconds,expect", [
    (-5, "<invalid>"), (0, "0s"), (119, "119s"), (125, "2m5s"), (600, "10m"), (3 * 3600 - 1, "179m"),
    (3 * 3600 + 600, "3h10m"), (8 * 3600, "8h"), (47 * 3600, "47h"), (50 * 3600, "2d2h"), (8 * 86400, "8d"),
    (800 * 86400, "2y70d"), (9 * 365 * 86400, "9y"),
])
def test_human_duration_as_apimachinery(seconds: int, expect: str) -> None:
    assert human_duration(seconds) == expect


def pod(status: dict[str, Any], containers: int = 1, **meta: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p", **meta}, "spec": {"containers": [{"name": f"c{i}"} for i in range(containers)]},
            "status": status}


def cs(state: dict[str, Any], ready: bool = False, restarts: int = 0, last: dict[str, Any] | None = None) -> dict:
    return {"state": state, "ready": ready, "restartCount": restarts, "lastState": last or {}}


RUN = {"running": {"startedAt": "2026-01-01T00:00:00Z"}}


@pytest.mark.parametrize("status,containers,expect", [
    ({"phase": "Running", "containerStatuses": [cs(RUN, ready=True)]}, 1, ("1/1", "Running", "0")),
    ({"phase": "Running", "containerStatuses": [cs(RUN, ready=True), cs(RUN)]}, 2, ("1/2", "Running", "0")),
    ({"phase": "Pending"}, 1, ("0/1", "Pending", "0")),
    ({"phase": "Pending", "containerStatuses": [cs({"waiting": {"reason": "ContainerCreating"}})]}, 1,
     ("0/1", "ContainerCreating", "0")),
    ({"phase": "Succeeded", "containerStatuses": [cs({"terminated": {"exitCode": 0, "reason": "Completed"}})]}, 1,
     ("0/1", "Completed", "0")),
    ({"phase": "Failed", "containerStatuses": [cs({"terminated": {"exitCode": 1, "reason": "Error"}})]}, 1,
     ("0/1", "Error", "0")),
    ({"phase": "Failed", "containerStatuses": [cs({"terminated": {"exitCode": 3}})]}, 1, ("0/1", "ExitCode:3", "0")),
    ({"phase": "Failed", "reason": "DeadlineExceeded",
      "containerStatuses": [cs({"terminated": {"exitCode": 137, "reason": "Error"}})]}, 1,
     ("0/1", "DeadlineExceeded", "0")),
    ({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]},
     1, ("0/1", "Pending (Unschedulable)", "0")),
    ({"phase": "Pending", "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}]},
     1, ("0/1", "Pending", "0")),
    ({"phase": "Running", "containerStatuses": [cs({"waiting": {"reason": "CrashLoopBackOff"}}, restarts=4, last={
        "terminated": {"exitCode": 1, "finishedAt": "2026-01-01T00:55:00Z"}})]}, 1,
     ("0/1", "CrashLoopBackOff", "4 (5m ago)")),
    ({"phase": "Running", "containerStatuses": [cs(RUN, ready=True), cs({"terminated": {"reason": "Completed"}})],
      "conditions": [{"type": "Ready", "status": "True"}]}, 2, ("1/2", "Running", "0")),
])
def test_pod_row_as_kubectl_print_pod(status: dict[str, Any], containers: int, expect: tuple[str, str, str]) -> None:
    assert pod_row(pod(status, containers), NOW) == expect


def test_a_deleted_running_pod_is_terminating() -> None:
    p = pod({"phase": "Running", "containerStatuses": [cs(RUN, ready=True)]}, deletionTimestamp="2026-01-01T00:59:00Z")
    assert pod_row(p, NOW)[1] == "Terminating"


def test_event_age_counts_repeats_as_describe() -> None:
    ev = {"firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:59:30Z", "count": 3}
    assert event_age(ev, NOW) == "30s (x3 over 60m)"
    assert event_age({**ev, "count": 1}, NOW) == "60m"


def ch(src: str, dst: str, port: int = 80) -> Change:
    return Change(src, dst, "TCP", port, "before", "after")


def test_impact_summary_leads_and_groups_by_project_pair() -> None:
    opened = [ch("a/x", "b/y"), ch("a/z", "b/y", 443), ch("c/w", "b/y")]
    closed = [ch("b/y", "a/x")]
    lines = summarize_impact(opened, closed, details=False)
    assert lines[0] == ("Impact: 3 connection(s) would OPEN, 1 would CLOSE, across 3 project pair(s): "
                        "a -> b, b -> a, c -> b.")
    assert lines[1:4] == ["  a -> b: 2 would OPEN (TCP/443, TCP/80)", "  b -> a: 1 would CLOSE (TCP/80)",
                          "  c -> b: 1 would OPEN (TCP/80)"]
    assert "a/x" not in "\n".join(lines) and lines[-1].startswith("Every connection: add --details")
    detailed = summarize_impact(opened, closed, details=True)
    assert "    OPEN  a/z -> b/y TCP/443: after" in detailed and "    CLOSE b/y -> a/x TCP/80: after" in detailed


def test_impact_summary_names_at_most_five_pairs() -> None:
    lines = summarize_impact([ch(f"p{i}/x", "q/y") for i in range(7)], [], details=False)
    assert lines[0].endswith("p3 -> q, p4 -> q and 2 more.")
    assert summarize_impact([], [], details=True) == ["No connection between existing pods would change."]


def test_deleting_a_namespace_removes_what_is_in_it_from_the_after_state() -> None:
    base = [{"kind": "Namespace", "metadata": {"name": "a"}}, {"kind": "Pod", "metadata": {"name": "x", "namespace": "a"}},
            {"kind": "Pod", "metadata": {"name": "y", "namespace": "b"}}]
    after = apply_changes(base, [], [{"kind": "Project", "metadata": {"name": "a"}}])
    assert [o["metadata"]["name"] for o in after] == ["y"]
    relabeled = apply_changes(base, [{"kind": "Project", "metadata": {"name": "a", "labels": {"t": "1"}}}], [])
    assert {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "a", "labels": {"t": "1"}}} in relabeled
