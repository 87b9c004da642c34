"""Everyday kubectl commands found wrong in a sweep of real kubectl against osdn, each checked as
kube-apiserver answers it: RBAC generator subcommands (protobuf bodies), ... Skipped only when
kubectl is not installed."""

from __future__ import annotations

import json
import re
import shutil
from typing import Any

import pytest

from tests.conftest import ServerProc

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")


def ok(server: ServerProc, *args: str, stdin: str | None = None) -> str:
    return server.kubectl(*args, input=stdin, check=True).stdout


def get(server: ServerProc, *args: str) -> Any:
    return json.loads(ok(server, "get", *args, "-o", "json"))


def test_create_rbac_bindings_and_roles_send_protobuf(server: ServerProc) -> None:
    ok(server, "create", "namespace", "x")
    ok(server, "create", "rolebinding", "rb", "--clusterrole=view", "--user=bob", "--group=g",
       "--serviceaccount=x:default", "-n", "x")
    ok(server, "create", "clusterrolebinding", "crb", "--clusterrole=view", "--user=bob")
    ok(server, "create", "clusterrole", "cr", "--verb=get,list", "--resource=pods")
    rb = get(server, "rolebinding", "rb", "-n", "x")
    assert rb["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"}
    assert {(s["kind"], s["name"]) for s in rb["subjects"]} == {("User", "bob"), ("Group", "g"),
                                                                 ("ServiceAccount", "default")}
    assert get(server, "clusterrolebinding", "crb")["subjects"][0]["name"] == "bob"
    assert get(server, "clusterrole", "cr")["rules"] == [{"apiGroups": [""], "resources": ["pods"],
                                                           "verbs": ["get", "list"]}]


def test_new_pods_are_pending_and_namespaces_active(server: ServerProc) -> None:
    ok(server, "create", "namespace", "x")
    ok(server, "run", "p", "--image=busybox", "-n", "x")
    assert get(server, "pod", "p", "-n", "x")["status"]["phase"] == "Pending"
    assert ok(server, "get", "pods", "-n", "x", "--field-selector", "status.phase=Pending", "-o", "name") == "pod/p\n"
    assert re.search(r"^Status: +Pending$", ok(server, "describe", "pod", "p", "-n", "x"), re.M)
    assert ok(server, "get", "ns", "x", "-o", "jsonpath={.status.phase}") == "Active"
    assert re.search(r"^Status: +Active$", ok(server, "describe", "ns", "x"), re.M)


def test_get_all_is_kubes_all_category(server: ServerProc) -> None:
    ok(server, "create", "namespace", "x")
    ok(server, "create", "configmap", "c", "--from-literal=a=b", "-n", "x")
    ok(server, "create", "service", "clusterip", "s", "--tcp=80:8080", "-n", "x")
    out = ok(server, "get", "all", "-n", "x", "-o", "name")
    assert "service/s" in out.split()
    assert "configmap/c" not in out


def test_raw_health_endpoints(server: ServerProc) -> None:
    for path in ("/healthz", "/readyz", "/livez"):
        assert ok(server, "get", "--raw", path) == "ok"
    assert json.loads(ok(server, "get", "--raw", "/version"))["major"] == "1"


def test_strategic_patch_of_a_route_as_openshift_apiserver(server: ServerProc) -> None:
    """Routes are built-in types of openshift-apiserver (`oc patch route x -p ...` works); NetNamespace
    is a CRD in OpenShift 4 and keeps kube's 415 for a strategic merge patch."""
    ok(server, "create", "namespace", "x")
    route = {"apiVersion": "route.openshift.io/v1", "kind": "Route", "metadata": {"name": "r", "namespace": "x"},
             "spec": {"host": "a.example.com", "to": {"kind": "Service", "name": "s"}}}
    ok(server, "apply", "-f", "-", stdin=json.dumps(route))
    assert ok(server, "patch", "route", "r", "-n", "x", "-p", '{"spec":{"host":"b.example.com"}}') == \
        "route.route.openshift.io/r patched\n"
    assert get(server, "route", "r", "-n", "x")["spec"]["host"] == "b.example.com"
    r = server.kubectl("patch", "netnamespace", "x", "-p", '{"egressIPs":[]}')
    assert r.returncode == 1 and "application/merge-patch+json" in r.stderr


def test_runtime_commands_fail_fast_and_say_why(server: ServerProc) -> None:
    """logs/exec/attach/port-forward/debug need a kubelet: each ends at once with exit code 1 and a
    message (kubectl debug used to panic on a NotFound Status without details)."""
    ok(server, "create", "namespace", "x")
    ok(server, "run", "p", "--image=busybox", "-n", "x")
    for args, hint in ((("logs", "p"), 'use "osdn logs"'), (("exec", "p", "--", "ls"), 'use "osdn exec"'),
                       (("cp", "p:/etc/hosts", "/dev/null"), 'use "osdn exec"')):
        r = server.kubectl("-n", "x", *args)
        assert r.returncode == 1 and "no container runtime" in r.stderr and hint in r.stderr, r.stderr
    r = server.kubectl("debug", "p", "-n", "x", "--image=busybox", "--profile=general")
    assert r.returncode == 1 and "panic" not in r.stderr, r.stderr
    assert "ephemeral containers are disabled for this cluster" in r.stderr
