"""A Deployment whose ReplicaSet's pod creates are refused by a ResourceQuota shows the RS's
ReplicaFailure condition (kubectl describe deployment), and loses it once the quota lets the pods in."""

from __future__ import annotations

import json
import shutil
from typing import Any

import pytest

from tests.conftest import ServerProc, wait_for

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
NS = "quota-mirror"


def conditions(server: ServerProc) -> dict[str, dict[str, Any]]:
    out = server.kubectl("get", "deployment", "web", "-n", NS, "-o", "json", check=True).stdout
    return {c["type"]: c for c in (json.loads(out).get("status") or {}).get("conditions") or []}


def quota(server: ServerProc, pods: int) -> None:
    body = {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q", "namespace": NS},
            "spec": {"hard": {"pods": str(pods)}}}
    server.kubectl("apply", "-f", "-", input=json.dumps(body), check=True)


def test_the_deployment_mirrors_its_replicasets_replica_failure(server: ServerProc) -> None:
    server.kubectl("create", "namespace", NS, check=True)
    try:
        quota(server, 1)
        wait_for(lambda: "hard" in json.loads(server.kubectl("get", "quota", "q", "-n", NS, "-o", "json",
                                                             check=True).stdout).get("status", {}),
                 what="the quota counted")
        server.kubectl("create", "deployment", "web", "--image=i", "--replicas=3", "-n", NS, check=True)
        failure = wait_for(lambda: conditions(server).get("ReplicaFailure"), what="the Deployment's ReplicaFailure")
        assert failure["status"] == "True" and failure["reason"] == "FailedCreate"
        assert "exceeded quota: q, requested: pods=1, used: pods=1, limited: pods=1" in failure["message"]
        described = server.kubectl("describe", "deployment", "web", "-n", NS, check=True).stdout
        assert any(line.split() == ["ReplicaFailure", "True", "FailedCreate"] for line in described.splitlines())
        quota(server, 10)
        wait_for(lambda: "ReplicaFailure" not in conditions(server), what="the ReplicaFailure gone")
    finally:
        server.kubectl("delete", "namespace", NS, "--wait=false")
