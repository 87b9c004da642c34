"""The lab kubelet's pod lifecycle (osdn.lab.lifecycle) on fake time: restarts with back-off,
exit codes, activeDeadlineSeconds, containerStatuses and conditions the Kubernetes way."""

from __future__ import annotations

import pytest

from osdn.lab import lifecycle as lc
from osdn.lab.cli import lab_flags, next_steps
from osdn.lab.cluster import LabInfo, NodeInfo
from osdn.lab.lifecycle import Backoff, ContainerRun
from osdn.lab.pods import not_running_reason, unschedulable
from osdn.lab.runtime import render_hosts, render_resolv_conf

T0 = 1_700_000_000.0


def pod(policy: str = "Always", deadline: int | None = None) -> dict:
    spec: dict = {"containers": [{"name": "c", "image": "busybox"}], "restartPolicy": policy}
    if deadline is not None:
        spec["activeDeadlineSeconds"] = deadline
    return {"metadata": {"name": "p", "namespace": "ns"}, "spec": spec}


def running(now: float = T0) -> ContainerRun:
    return lc.started(lc.accepted(ContainerRun(), now), now)


def status(run: ContainerRun, now: float, policy: str = "Always", previous: dict | None = None) -> dict:
    return lc.pod_status(pod(policy), run, lc.Placement("198.18.0.11", "10.128.0.5", previous or {}), now)


def state_of(st: dict) -> dict:
    return dict(st["containerStatuses"][0]["state"])


def cond(st: dict, kind: str) -> dict:
    return next(c for c in st["conditions"] if c["type"] == kind)


@pytest.mark.parametrize(("policy", "code", "phase", "reason"), [
    ("Never", 0, "Succeeded", "Completed"), ("Never", 3, "Failed", "Error"),
    ("OnFailure", 0, "Succeeded", "Completed"),
], ids=["never-ok", "never-fails", "onfailure-ok"])
def test_a_container_that_does_not_restart_ends_the_pod(policy: str, code: int, phase: str, reason: str) -> None:
    run = lc.exited(running(), code, T0 + 5, policy)
    st = status(run, T0 + 5, policy)
    assert st["phase"] == phase and lc.phase(run) == phase
    assert state_of(st) == {"terminated": {"exitCode": code, "reason": reason, "startedAt": lc.rfc3339(T0),
                                           "finishedAt": lc.rfc3339(T0 + 5)}}
    assert cond(st, "Ready") == {"type": "Ready", "status": "False", "reason": "PodCompleted",
                                 "lastTransitionTime": lc.rfc3339(T0 + 5)}


@pytest.mark.parametrize("policy,code", [("Always", 0), ("Always", 1), ("OnFailure", 2)],
                         ids=["always-ok", "always-fails", "onfailure-fails"])
def test_restarts_back_off_like_the_kubelet(policy: str, code: int) -> None:
    run, now, waits = running(), T0, []
    for _ in range(7):
        now += 1
        run = lc.exited(run, code, now, policy)
        assert lc.phase(run) == "Running" and not run.final_phase
        waits.append(run.next_start - now)
        now = run.next_start
        run = lc.restarted(run, now)
    assert waits == [0, 10, 20, 40, 80, 160, 300]
    assert run.restart_count == 7


def test_crash_loop_status_shows_waiting_and_last_state() -> None:
    run = lc.restarted(lc.exited(running(), 1, T0 + 1, "Always"), T0 + 1)
    run = lc.exited(run, 1, T0 + 2, "Always")
    cs = status(run, T0 + 3)["containerStatuses"][0]
    assert cs["state"] == {"waiting": {"reason": "CrashLoopBackOff",
                                       "message": "back-off 10s restarting failed container"}}
    assert cs["lastState"]["terminated"]["exitCode"] == 1
    assert (cs["ready"], cs["started"], cs["restartCount"]) == (False, False, 1)


def test_a_long_run_resets_the_back_off() -> None:
    crashed = lc.exited(lc.restarted(lc.exited(running(), 1, T0 + 1, "Always"), T0 + 1), 1, T0 + 2, "Always")
    assert crashed.next_start == T0 + 12
    again = lc.restarted(crashed, T0 + 12)
    short = lc.exited(again, 1, T0 + 13, "Always")
    assert short.next_start == T0 + 33 and short.waiting_reason == "CrashLoopBackOff"
    long_run = lc.exited(again, 1, T0 + 12 + 600, "Always", Backoff(reset_after=600))
    assert long_run.next_start == T0 + 612 and long_run.waiting_reason == ""


def test_active_deadline_kills_and_fails_the_pod() -> None:
    spec = pod(deadline=30)["spec"]
    run = running()
    assert not lc.deadline_passed(spec, run, T0 + 29.9)
    assert lc.deadline_passed(spec, run, T0 + 30)
    run = lc.killed_for_deadline(run, 143, T0 + 30)
    st = status(run, T0 + 30)
    assert (st["phase"], st["reason"], st["message"]) == ("Failed", "DeadlineExceeded", lc.DEADLINE_MESSAGE)
    assert state_of(st)["terminated"]["exitCode"] == 143
    assert not lc.deadline_passed(spec, run, T0 + 60), "a finished pod is not killed again"


def test_deadline_counts_from_start_time_also_across_restarts() -> None:
    spec = pod(deadline=30)["spec"]
    run = lc.restarted(lc.exited(running(), 1, T0 + 20, "Always"), T0 + 20)
    assert lc.deadline_passed(spec, run, T0 + 31)
    assert not lc.deadline_passed(pod()["spec"], run, T0 + 10 ** 6), "no deadline without the field"


def test_running_pod_is_ready_and_transition_times_are_kept() -> None:
    run = running(T0)
    first = status(run, T0 + 1)
    assert first["phase"] == "Running" and cond(first, "Ready")["status"] == "True"
    assert first["containerStatuses"][0]["ready"] is True
    assert first["startTime"] == lc.rfc3339(T0) and first["podIPs"] == [{"ip": "10.128.0.5"}]
    later = status(run, T0 + 50, previous=first)
    assert later == first, "nothing changed: the same status (no churn of lastTransitionTime)"


def test_creating_pod_is_pending_and_says_why() -> None:
    run = lc.start_failed(lc.accepted(ContainerRun(), T0), "ContainerCreating", "CNI ADD failed: boom", T0 + 1)
    st = status(run, T0)
    assert st["phase"] == "Pending"
    assert state_of(st) == {"waiting": {"reason": "ContainerCreating", "message": "CNI ADD failed: boom"}}
    assert cond(st, "Ready")["message"] == "containers with unready status: [c]"
    assert not_running_reason({"status": st}) == "ContainerCreating: CNI ADD failed: boom"


def test_unschedulable_reason_is_read_back() -> None:
    p = {"status": {"phase": "Pending", "conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/3 nodes"}]}}
    assert unschedulable(p) and not_running_reason(p) == "Unschedulable: 0/3 nodes"


def test_status_round_trips_for_a_restarted_kubelet() -> None:
    run = lc.restarted(lc.exited(running(T0), 1, T0 + 5, "Always"), T0 + 5)
    again = lc.from_status(status(run, T0 + 6), T0 + 100)
    assert (again.start_time, again.running_since, again.restart_count) == (T0, T0 + 5, 1)


def test_pod_files() -> None:
    assert "search blue.svc.cluster.local svc.cluster.local cluster.local\nnameserver 203.0.113.53\n" \
        in render_resolv_conf("blue", "203.0.113.53")
    assert render_hosts("web", "10.128.0.7").endswith("\n10.128.0.7\tweb\n")


def test_next_steps_of_a_named_lab_all_find_it() -> None:
    info = LabInfo("blue1", "/tmp/somewhere", "networkpolicy", "osdn-blue1-",
                   nodes=[NodeInfo("node1", "n", "198.18.0.11", "s", "c", "l")])
    text = next_steps(info, "/var/lib/osdn/lab/blue1")
    lab_lines = [line for line in text.splitlines() if "osdn lab " in line]
    assert len(lab_lines) == 4
    assert all("--name blue1 --dir /tmp/somewhere" in line for line in lab_lines)
    assert lab_flags(LabInfo("lab", "/d", "subnet", "osdn-lab-"), "/d") == ""
