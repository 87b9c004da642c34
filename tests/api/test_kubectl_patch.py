"""The real kubectl against osdn: client-side apply (strategic patches), `kubectl patch` (strategic,
--type=merge for OpenShift 4 CRD kinds), `apply --server-side` with a conflict and --force-conflicts."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerProc, module_server, wait_for

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
server = module_server("kubectl-patch")  # the tests' objects differ by kind, name or namespace

POD = """apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: default
spec:
  containers:
  - name: app
    image: app:1
    ports:
    - containerPort: 80
  - name: side
    image: IMAGE
"""


DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  replicas: 0
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: app
        image: app:1
        ports:
        - containerPort: 80
      - name: side
        image: proxy:1
"""


def kubectl(server: ServerProc, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": str(server.config), "HOME": str(server.data_dir.parent)}
    return subprocess.run(["kubectl", *args], capture_output=True, text=True, input=stdin, env=env, timeout=60)


def ok(server: ServerProc, *args: str, stdin: str | None = None) -> str:
    r = kubectl(server, *args, stdin=stdin)
    assert r.returncode == 0, f"kubectl {' '.join(args)}: {r.stderr}"
    return r.stdout


def get(server: ServerProc, *args: str) -> Any:
    return json.loads(ok(server, "get", *args, "-o", "json"))


def test_client_side_apply_of_a_changed_pod_keeps_both_containers(server: ServerProc, tmp_path: Path) -> None:
    ok(server, "apply", "--validate=false", "-f", "-", stdin=POD.replace("IMAGE", "proxy:1"))
    ok(server, "apply", "--validate=false", "-f", "-", stdin=POD.replace("IMAGE", "proxy:2"))
    spec = get(server, "pod", "web", "-n", "default")["spec"]
    assert [(c["name"], c["image"]) for c in spec["containers"]] == [("app", "app:1"), ("side", "proxy:2")]
    assert not [k for k in spec if k.startswith("$")]


def test_kubectl_patch_strategic_keeps_containers_and_ports(server: ServerProc) -> None:
    """On a pod template: a Pod's ports cannot change after create (kube's pod update rules)."""
    ok(server, "apply", "--validate=false", "-f", "-", stdin=DEPLOYMENT)
    ok(server, "patch", "deployment", "web", "-n", "default", "-p",
       '{"spec": {"template": {"spec": {"containers": [{"name": "app", "ports": [{"containerPort": 8080}]}]}}}}')
    app, side = get(server, "deployment", "web", "-n", "default")["spec"]["template"]["spec"]["containers"]
    assert [p["containerPort"] for p in app["ports"]] == [8080, 80] and side["name"] == "side"


def test_kubectl_patch_of_an_openshift_4_crd_kind_needs_type_merge(server: ServerProc) -> None:
    """NetNamespace takes seed 002's patch without --type (a 3.x built-in); Network is only a CRD."""
    # the master makes NetNamespace default shortly after the server starts
    wait_for(lambda: kubectl(server, "get", "netnamespace", "default").returncode == 0, what="netnamespace default")
    ok(server, "patch", "netnamespace", "default", "-p", '{"egressIPs": ["192.168.1.101"]}')
    assert get(server, "netnamespace", "default")["egressIPs"] == ["192.168.1.101"]
    ok(server, "patch", "netnamespace", "default", "--type=merge", "-p", '{"egressIPs": ["192.168.1.100"]}')
    assert get(server, "netnamespace", "default")["egressIPs"] == ["192.168.1.100"]
    r = kubectl(server, "patch", "network.operator.openshift.io", "cluster", "-p", '{"spec": {}}')
    assert r.returncode != 0 and "the body of the request was in an unknown format" in r.stderr, r.stderr


def test_server_side_apply_twice_with_a_change_and_a_conflict(server: ServerProc) -> None:
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: default\ndata:\n  a: 'A'\n"
    ok(server, "apply", "--server-side", "--validate=false", "-f", "-", stdin=cm)
    ok(server, "apply", "--server-side", "--validate=false", "-f", "-", stdin=cm.replace("'A'", "'B'"))
    assert get(server, "configmap", "c", "-n", "default")["data"] == {"a": "B"}
    ok(server, "patch", "configmap", "c", "-n", "default", "--type=merge", "-p", '{"data": {"a": "edited"}}')
    r = kubectl(server, "apply", "--server-side", "--validate=false", "-f", "-", stdin=cm)
    assert r.returncode != 0
    assert 'Apply failed with 1 conflict: conflict with "kubectl-patch" using v1: .data.a' in r.stderr
    ok(server, "apply", "--server-side", "--force-conflicts", "--validate=false", "-f", "-", stdin=cm)
    cm_obj = get(server, "configmap", "c", "-n", "default", "--show-managed-fields")
    assert cm_obj["data"] == {"a": "A"}
    assert {(e["manager"], e["operation"]) for e in cm_obj["metadata"]["managedFields"]} == \
        {("kubectl", "Apply")}


def test_imperative_creates_send_protobuf_and_work(server: ServerProc) -> None:
    ok(server, "create", "namespace", "x")
    ok(server, "create", "configmap", "c", "--from-literal=a=b", "-n", "x")
    ok(server, "create", "deployment", "d", "--image=busybox", "-n", "x")
    ok(server, "create", "service", "clusterip", "s", "--tcp=80:8080", "-n", "x")
    assert get(server, "configmap", "c", "-n", "x")["data"] == {"a": "b"}
    dep = get(server, "deployment", "d", "-n", "x", "--show-managed-fields")
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox"
    assert dep["metadata"]["managedFields"][0]["manager"] == "kubectl-create"
    assert get(server, "service", "s", "-n", "x")["spec"]["ports"][0]["targetPort"] == 8080
