"""The lab behaves like a cluster: real pods in a 2-node lab honour their spec, as a kubelet would.

restartPolicy (restarts with back-off and restartCount; Never/OnFailure end in Succeeded/Failed with
the exit code), activeDeadlineSeconds (killed, Failed, DeadlineExceeded), containerStatuses and the
Ready condition; a pod that cannot be placed stays Pending and says why; `lab run` refuses a node
that does not exist at once and uses the current project; `osdn exec` sees the pod's own
/etc/resolv.conf, /etc/hosts and hostname; Ctrl-C during `lab up` cleans up and says "interrupted".
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from labkit import Lab, make_lab, needs_agent, teardown_and_check

from osdn.kernel import netns
from osdn.lab.pods import ensure_project

pytestmark = [pytest.mark.e2e, needs_agent]
Obj = dict[str, Any]
P = "kub"


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    yield from make_lab("kl", "subnet", 2)


@pytest.fixture(scope="module")
def project(lab: Lab) -> str:
    ensure_project(lab.client, P)
    return P


def run_pod(lab: Lab, name: str, command: list[str], policy: str, **spec: Any) -> None:
    lab.client.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": P},
                       "spec": {"restartPolicy": policy, **spec,
                                "containers": [{"name": "main", "image": "busybox", "command": command}]}}, P)


def wait_pod(lab: Lab, name: str, ok: Callable[[Obj], bool], timeout: float = 60) -> Obj:
    deadline = time.monotonic() + timeout
    while True:
        pod = lab.client.get("Pod", name, P)
        if ok(pod):
            return pod
        assert time.monotonic() < deadline, f"pod {name}: status never as wanted:\n{pod.get('status')}"
        time.sleep(0.2)


def container(pod: Obj) -> Obj:
    return dict((pod.get("status") or {}).get("containerStatuses", [{}])[0])


def condition(pod: Obj, kind: str) -> Obj:
    return next((c for c in (pod.get("status") or {}).get("conditions") or [] if c["type"] == kind), {})


def events(lab: Lab, name: str) -> list[Obj]:
    return [e for e in lab.client.list("Event", P)["items"] if e["involvedObject"].get("name") == name]


def test_running_pod_is_ready_with_container_status(lab: Lab, project: str) -> None:
    run_pod(lab, "ready", ["sleep", "600"], "Always")
    pod = wait_pod(lab, "ready", lambda p: condition(p, "Ready").get("status") == "True")
    cs = container(pod)
    assert pod["status"]["phase"] == "Running" and "running" in cs["state"]
    assert (cs["ready"], cs["started"], cs["restartCount"], cs["name"]) == (True, True, 0, "main")
    assert pod["status"]["startTime"] and condition(pod, "ContainersReady")["status"] == "True"
    assert any(e["reason"] == "Started" for e in events(lab, "ready"))


@pytest.mark.parametrize(("policy", "code", "phase", "reason"), [
    ("Never", 0, "Succeeded", "Completed"), ("Never", 4, "Failed", "Error"), ("OnFailure", 0, "Succeeded", "Completed"),
], ids=["never-0", "never-4", "onfailure-0"])
def test_pod_that_does_not_restart_ends_with_its_exit_code(lab: Lab, project: str, policy: str, code: int,
                                                            phase: str, reason: str) -> None:
    name = f"end-{policy.lower()}-{code}"
    run_pod(lab, name, ["sh", "-c", f"echo bye; exit {code}"], policy)
    pod = wait_pod(lab, name, lambda p: (p.get("status") or {}).get("phase") == phase)
    term = container(pod)["state"]["terminated"]
    assert (term["exitCode"], term["reason"]) == (code, reason)
    assert condition(pod, "Ready") | {"lastTransitionTime": ""} == {
        "type": "Ready", "status": "False", "reason": "PodCompleted", "lastTransitionTime": ""}
    time.sleep(2.5)
    assert container(lab.client.get("Pod", name, P))["restartCount"] == 0, "never restarted"
    done = lab.cli("exec", "-n", P, name, "--", "true", check=False)
    assert done.returncode == 1 and "completed pod" in done.stderr


def test_always_restarts_a_crashing_container_with_back_off(lab: Lab, project: str) -> None:
    run_pod(lab, "crash", ["sh", "-c", "echo crashing; exit 3"], "Always")
    pod = wait_pod(lab, "crash", lambda p: container(p).get("restartCount", 0) >= 1
                   and "waiting" in container(p).get("state", {}))
    cs = container(pod)
    assert pod["status"]["phase"] == "Running", "a restarting pod stays Running, as in Kubernetes"
    assert cs["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert cs["lastState"]["terminated"]["exitCode"] == 3 and cs["ready"] is False
    assert condition(pod, "Ready")["status"] == "False"
    assert any(e["reason"] == "BackOff" and e["type"] == "Warning" for e in events(lab, "crash"))


def test_onfailure_restarts_a_failure(lab: Lab, project: str) -> None:
    run_pod(lab, "retry", ["sh", "-c", "exit 1"], "OnFailure")
    pod = wait_pod(lab, "retry", lambda p: container(p).get("restartCount", 0) >= 1)
    assert pod["status"]["phase"] == "Running"


def test_active_deadline_kills_the_pod(lab: Lab, project: str) -> None:
    run_pod(lab, "deadline", ["sleep", "600"], "Always", activeDeadlineSeconds=3)
    t0 = time.monotonic()
    pod = wait_pod(lab, "deadline", lambda p: (p.get("status") or {}).get("phase") == "Failed")
    assert time.monotonic() - t0 < 20, "killed soon after its 3 s (the kubelet looks every second)"
    assert pod["status"]["reason"] == "DeadlineExceeded"
    assert "terminated" in container(pod)["state"]
    ns = pod["metadata"]["annotations"]["lab.osdn.io/netns"]
    assert netns.pids_in_netns(ns) == [], "the pod's processes were killed"
    assert any(e["reason"] == "DeadlineExceeded" for e in events(lab, "deadline"))


def test_unschedulable_pod_says_why(lab: Lab, project: str) -> None:
    run_pod(lab, "nowhere", ["sleep", "600"], "Always", nodeSelector={"disk": "none"})
    pod = wait_pod(lab, "nowhere", lambda p: condition(p, "PodScheduled").get("status") == "False")
    cond = condition(pod, "PodScheduled")
    assert pod["status"]["phase"] == "Pending" and cond["reason"] == "Unschedulable"
    assert "0/2 nodes are available" in cond["message"]
    assert any(e["reason"] == "FailedScheduling" for e in events(lab, "nowhere"))
    described = lab.cli("describe", "pod", "nowhere", "-n", P).stdout
    assert "FailedScheduling" in described


def test_lab_run_on_a_missing_node_fails_at_once(lab: Lab, project: str) -> None:
    t0 = time.monotonic()
    done = lab.cli("lab", "run", "lost", "-n", P, "--node", "node9", "--name", lab.info.name,
                   "--dir", lab.info.dir, check=False)
    assert done.returncode == 1 and time.monotonic() - t0 < 10
    assert "node9" in done.stderr and "node1, node2" in done.stderr and "Traceback" not in done.stderr
    assert not [p for p in lab.client.list("Pod", P)["items"] if p["metadata"]["name"] == "lost"]


def test_lab_run_uses_the_current_project_and_exec_sees_the_pods_files(lab: Lab, tmp_path: Path) -> None:
    conf = tmp_path / "me.conf"
    shutil.copy(lab.conf, conf)
    own = ("--config", str(conf))
    lab.cli(*own, "new-project", "curproj")
    out = lab.cli(*own, "lab", "run", "me", "--name", lab.info.name, "--dir", lab.info.dir).stdout
    ip = lab.client.get("Pod", "me", "curproj")["status"]["podIP"]
    assert out.strip() == f"pod/me running in curproj: {ip}"
    host_resolv = Path("/etc/resolv.conf").read_text()
    hosts = lab.cli(*own, "exec", "me", "--", "getent", "hosts", "me").stdout.split()
    assert hosts[:2] == [ip, "me"]
    resolv = lab.cli(*own, "exec", "me", "--", "cat", "/etc/resolv.conf").stdout
    assert "search curproj.svc.cluster.local svc.cluster.local cluster.local" in resolv
    assert "nameserver 172.30.0.10" in resolv  # the cluster DNS service (docs/services.md)
    assert lab.cli(*own, "exec", "me", "--", "hostname").stdout.strip() == "me"
    assert Path("/etc/resolv.conf").read_text() == host_resolv, "the host's resolver is untouched"
    missing = lab.cli(*own, "exec", "me", "--", "no-such-tool", check=False)
    assert missing.returncode == 127 and "Traceback" not in missing.stderr


def test_ctrl_c_during_up_cleans_up_and_says_interrupted() -> None:
    name = f"i{os.getpid() % 100000}"
    lab_dir = tempfile.mkdtemp(prefix=f"osdn-e2e-{name}-")
    try:
        proc = subprocess.Popen([sys.executable, "-m", "osdn", "lab", "up", "--name", name, "--nodes", "1",
                                 "--mode", "subnet", "--dir", lab_dir], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        assert proc.stderr is not None
        seen = ""
        while "osdn server on" not in seen:
            line = proc.stderr.readline()
            assert line, f"lab up ended early:\n{seen}"
            seen += line
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        err = seen + err
        assert proc.returncode == 130, err
        assert "interrupted: tearing the lab down" in err and "failed" not in err and "Traceback" not in err
        assert not netns.list_netns(f"osdn-{name}-")
    finally:
        teardown_and_check(name, lab_dir)
    shutil.rmtree(lab_dir)
