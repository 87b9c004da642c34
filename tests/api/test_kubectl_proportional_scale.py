"""The real kubectl scales a Deployment in the middle of a rollout: the change is spread over the
new and the old ReplicaSet in proportion (kube's scale()), not given to the new one. Pods live in the
API only; the test plays the kubelet for the first revision's pods, so the second stalls half-way.
Skipped only when kubectl is not installed."""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import httpx
import pytest

from tests.conftest import ServerProc, wait_for

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
PODS = "/api/v1/namespaces/default/pods"
NOTES = ("deployment.kubernetes.io/revision", "deployment.kubernetes.io/desired-replicas",
         "deployment.kubernetes.io/max-replicas")


def make_ready(api: httpx.Client, app: str) -> int:
    """Play the kubelet: every pod of `app` Running and Ready; how many there are."""
    pods = api.get(PODS, params={"labelSelector": f"app={app}"}).json()["items"]
    for pod in pods:
        if not (pod.get("status") or {}).get("conditions"):
            api.patch(f"{PODS}/{pod['metadata']['name']}/status",
                      headers={"Content-Type": "application/merge-patch+json"},
                      json={"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}})
    return len(pods)


def replicasets(server: ServerProc, app: str) -> dict[str, tuple[int, ...]]:
    """revision -> (spec.replicas, desired-replicas, max-replicas) of the Deployment's ReplicaSets."""
    items = json.loads(server.kubectl("get", "rs", "-l", f"app={app}", "-o", "json", check=True).stdout)["items"]
    out = {}
    for rs in items:
        notes = rs["metadata"].get("annotations") or {}
        out[notes.get(NOTES[0], "?")] = (rs["spec"]["replicas"], *(int(notes.get(k, -1)) for k in NOTES[1:]))
    return out


def rollout_done(server: ServerProc, api: httpx.Client, app: str) -> subprocess.CompletedProcess[str]:
    """`kubectl rollout status` while the pods are made Ready."""
    env = {"KUBECONFIG": str(server.config), "HOME": str(server.data_dir.parent), "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen(["kubectl", "rollout", "status", f"deployment/{app}", "--timeout=90s"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        while proc.poll() is None:
            make_ready(api, app)
            time.sleep(0.1)
        out, err = proc.communicate()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_kubectl_scale_during_a_rollout_scales_both_replicasets_proportionally(server: ServerProc) -> None:
    with server.http() as api:
        server.kubectl("create", "deployment", "web", "--image=web:1", "--replicas=4", check=True)
        assert rollout_done(server, api, "web").returncode == 0
        server.kubectl("set", "image", "deployment/web", "web=web:2", check=True)
        # maxSurge 1, maxUnavailable 1 (25 % of 4) and revision 2's pods never Ready: 2 new, 3 old
        stalled = {"1": (3, 4, 5), "2": (2, 4, 5)}
        wait_for(lambda: replicasets(server, "web") == stalled, what="the rollout stalled at 3 old + 2 new")

        out = server.kubectl("scale", "deployment/web", "--replicas=8", check=True).stdout
        assert out.strip() == "deployment.apps/web scaled"
        # max 5 -> 10 (surge 2 of 8): each RS doubles; the old code gave the new RS all of it (3 old + 7 new)
        spread = {"1": (6, 8, 10), "2": (4, 8, 10)}
        wait_for(lambda: replicasets(server, "web") == spread, what="3+2 scaled to 6+4")
        events = wait_for(lambda: "from 3 to 6" in (out := server.kubectl(
            "describe", "deployment", "web", check=True).stdout) and out, what="the ScalingReplicaSet events")
        assert "Scaled up replica set web-" in events and "from 2 to 4" in events

        assert rollout_done(server, api, "web").returncode == 0   # and the rollout then finishes
        wait_for(lambda: replicasets(server, "web") == {"1": (0, 8, 10), "2": (8, 8, 10)}, what="8 new, 0 old")
