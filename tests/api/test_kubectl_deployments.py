"""The real kubectl runs a Deployment on osdn: create deployment, rollout status, scale (the scale
subresource), get rs, set image and rollout undo, delete (the ReplicaSets and pods follow). Pods live in the API only: the test
plays the kubelet by marking them Ready. Skipped only when kubectl is not installed."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from typing import Any

import httpx
import pytest

from tests.conftest import ServerProc, wait_for

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
NAME = "egress-router-cni-deployment"
PODS = "/api/v1/namespaces/default/pods"


def live_pods(api: httpx.Client) -> list[dict[str, Any]]:
    return [p for p in api.get(PODS, params={"labelSelector": f"app={NAME}"}).json()["items"]
            if not p["metadata"].get("deletionTimestamp")]


def play_kubelet(api: httpx.Client) -> None:
    for pod in live_pods(api):
        if not (pod.get("status") or {}).get("conditions"):
            api.patch(f"{PODS}/{pod['metadata']['name']}/status",
                      headers={"Content-Type": "application/merge-patch+json"},
                      json={"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}})


def rollout_status(server: ServerProc, api: httpx.Client) -> subprocess.CompletedProcess[str]:
    """`kubectl rollout status` (it watches the Deployment) while the pods are made Ready."""
    env = {"KUBECONFIG": str(server.config), "HOME": str(server.data_dir.parent), "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen(["kubectl", "rollout", "status", f"deployment/{NAME}", "--timeout=90s"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        while proc.poll() is None:
            play_kubelet(api)
            time.sleep(0.1)
        out, err = proc.communicate()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_kubectl_create_rollout_scale_delete_deployment(server: ServerProc) -> None:
    with server.http() as api:
        server.kubectl("create", "deployment", NAME, "--image=quay.io/openshift/origin-egress-router-cni",
                       "--replicas=2", check=True)
        done = rollout_status(server, api)
        assert done.returncode == 0, done.stderr
        assert f'deployment "{NAME}" successfully rolled out' in done.stdout
        assert len(live_pods(api)) == 2
        table = server.kubectl("get", "deploy", NAME, "-o", "wide", check=True).stdout.splitlines()
        assert table[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES",
                                    "SELECTOR"]
        cells = table[1].split()
        assert cells[:4] == [NAME, "2/2", "2", "2"]
        described = wait_for(lambda: "ScalingReplicaSet" in (out := server.kubectl(
            "describe", "deployment", NAME, check=True).stdout) and out, what="the event in kubectl describe")
        assert re.search(rf"Scaled up replica set {NAME}-\w+ from 0 to 2", described), described
        assert cells[5:] == ["origin-egress-router-cni", "quay.io/openshift/origin-egress-router-cni", f"app={NAME}"]

        out = server.kubectl("scale", f"deployment/{NAME}", "--replicas=3", check=True).stdout
        assert out.strip() == f"deployment.apps/{NAME} scaled"
        done = rollout_status(server, api)
        assert done.returncode == 0, done.stderr
        assert len(live_pods(api)) == 3

        rs = server.kubectl("get", "rs", "-l", f"app={NAME}", "-o", "jsonpath={.items[*].spec.replicas}",
                            check=True).stdout
        assert rs == "3"

        server.kubectl("set", "image", f"deployment/{NAME}", "origin-egress-router-cni=router:v2", check=True)
        assert rollout_status(server, api).returncode == 0
        server.kubectl("rollout", "undo", f"deployment/{NAME}", check=True)   # back to revision 1's RS, as 3
        assert rollout_status(server, api).returncode == 0
        revisions = server.kubectl("get", "rs", "-l", f"app={NAME}", "-o", "jsonpath={range .items[*]}"
                                   "{.metadata.annotations.deployment\\.kubernetes\\.io/revision}={.spec.replicas} "
                                   "{end}", check=True).stdout.split()
        assert sorted(revisions) == ["2=0", "3=3"]

        server.kubectl("delete", f"deployment/{NAME}", check=True)
        wait_for(lambda: not server.kubectl("get", "rs", "-l", f"app={NAME}", "-o", "name", check=True).stdout,
                 what="the ReplicaSet deleted")
        wait_for(lambda: not live_pods(api), what="the pods deleted")


def test_kubectl_explain_replicaset_prints_upstream_descriptions(server: ServerProc) -> None:
    out = server.kubectl("explain", "rs.spec.selector", check=True).stdout
    assert "KIND:       ReplicaSet" in out
    assert "It must match the pod template's labels." in out


def test_kubectl_delete_cascade_orphan_leaves_the_replicaset(server: ServerProc) -> None:
    server.kubectl("create", "deployment", "keep", "--image=i", check=True)
    rs = "jsonpath={range .items[*]}{.metadata.name} {.metadata.ownerReferences[0].kind}{end}"
    owned = wait_for(lambda: server.kubectl("get", "rs", "-l", "app=keep", "-o", rs, check=True).stdout,
                     what="the ReplicaSet")
    assert owned.split()[1] == "Deployment"
    server.kubectl("delete", "deployment", "keep", "--cascade=orphan", check=True)
    assert server.kubectl("get", "rs", "-l", "app=keep", "-o", rs, check=True).stdout.split() == [owned.split()[0]]
