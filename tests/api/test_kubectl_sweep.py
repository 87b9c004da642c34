"""Everyday kubectl commands found wrong in a sweep of real kubectl against osdn, each checked as
kube-apiserver answers it: RBAC generator subcommands (protobuf bodies), pod and namespace phases,
`get all`, health paths, strategic patches of Routes, runtime-only commands failing fast, Secrets. Skipped only when
kubectl is not installed. One server for the module: each test works in its own namespace, with its own users."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from osdn.client.config import write_kubeconfig
from tests.api.test_kubectl import rows
from tests.conftest import ServerProc, module_server

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
server = module_server("kubectl-sweep")


def ok(server: ServerProc, *args: str, stdin: str | None = None, kubeconfig: Path | None = None) -> str:
    return server.kubectl(*args, input=stdin, kubeconfig=kubeconfig, check=True).stdout


def get(server: ServerProc, *args: str) -> Any:
    return json.loads(ok(server, "get", *args, "-o", "json"))


def test_create_rbac_bindings_and_roles_send_protobuf(server: ServerProc) -> None:
    ok(server, "create", "namespace", "rbac")
    ok(server, "create", "rolebinding", "rb", "--clusterrole=view", "--user=bob", "--group=g",
       "--serviceaccount=rbac:default", "-n", "rbac")
    ok(server, "create", "clusterrolebinding", "crb", "--clusterrole=view", "--user=bob")
    ok(server, "create", "clusterrole", "cr", "--verb=get,list", "--resource=pods")
    rb = get(server, "rolebinding", "rb", "-n", "rbac")
    assert rb["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"}
    assert {(s["kind"], s["name"]) for s in rb["subjects"]} == {("User", "bob"), ("Group", "g"),
                                                                 ("ServiceAccount", "default")}
    assert get(server, "clusterrolebinding", "crb")["subjects"][0]["name"] == "bob"
    assert get(server, "clusterrole", "cr")["rules"] == [{"apiGroups": [""], "resources": ["pods"],
                                                           "verbs": ["get", "list"]}]


def test_new_pods_are_pending_and_namespaces_active(server: ServerProc) -> None:
    ok(server, "create", "namespace", "phases")
    ok(server, "run", "p", "--image=busybox", "-n", "phases")
    assert get(server, "pod", "p", "-n", "phases")["status"]["phase"] == "Pending"
    assert ok(server, "get", "pods", "-n", "phases", "--field-selector", "status.phase=Pending", "-o", "name") == "pod/p\n"
    assert re.search(r"^Status: +Pending$", ok(server, "describe", "pod", "p", "-n", "phases"), re.M)
    assert ok(server, "get", "ns", "phases", "-o", "jsonpath={.status.phase}") == "Active"
    assert re.search(r"^Status: +Active$", ok(server, "describe", "ns", "phases"), re.M)


def test_get_all_is_kubes_all_category(server: ServerProc) -> None:
    ok(server, "create", "namespace", "every")
    ok(server, "create", "configmap", "c", "--from-literal=a=b", "-n", "every")
    ok(server, "create", "service", "clusterip", "s", "--tcp=80:8080", "-n", "every")
    out = ok(server, "get", "all", "-n", "every", "-o", "name")
    assert "service/s" in out.split()
    assert "configmap/c" not in out


def test_raw_health_endpoints(server: ServerProc) -> None:
    for path in ("/healthz", "/readyz", "/livez"):
        assert ok(server, "get", "--raw", path) == "ok"
        assert ok(server, "get", "--raw", f"{path}?verbose") == f"[+]ping ok\n{path[1:]} check passed\n"
    assert json.loads(ok(server, "get", "--raw", "/version"))["major"] == "1"


def test_strategic_patch_of_a_route_as_openshift_apiserver(server: ServerProc) -> None:
    """Routes are built-in types of openshift-apiserver (`oc patch route x -p ...` works); Network
    (operator.openshift.io) is a CRD in OpenShift 4 and keeps kube's 415 for a strategic merge patch."""
    ok(server, "create", "namespace", "routes")
    route = {"apiVersion": "route.openshift.io/v1", "kind": "Route", "metadata": {"name": "r", "namespace": "routes"},
             "spec": {"host": "a.example.com", "to": {"kind": "Service", "name": "s"}}}
    ok(server, "apply", "-f", "-", stdin=json.dumps(route))
    assert ok(server, "patch", "route", "r", "-n", "routes", "-p", '{"spec":{"host":"b.example.com"}}') == \
        "route.route.openshift.io/r patched\n"
    assert get(server, "route", "r", "-n", "routes")["spec"]["host"] == "b.example.com"
    r = server.kubectl("patch", "network.operator.openshift.io", "cluster", "-p", '{"spec":{}}')
    assert r.returncode == 1 and "application/merge-patch+json" in r.stderr


def test_runtime_commands_fail_fast_and_say_why(server: ServerProc) -> None:
    """logs/exec/attach/port-forward/debug need a kubelet: each ends at once with exit code 1 and a
    message (kubectl debug used to panic on a NotFound Status without details)."""
    ok(server, "create", "namespace", "runtime")
    ok(server, "run", "p", "--image=busybox", "-n", "runtime")
    for args, hint in ((("logs", "p"), 'use "osdn logs"'), (("exec", "p", "--", "ls"), 'use "osdn exec"'),
                       (("cp", "p:/etc/hosts", "/dev/null"), 'use "osdn exec"')):
        r = server.kubectl("-n", "runtime", *args)
        assert r.returncode == 1 and "no container runtime" in r.stderr and hint in r.stderr, r.stderr
    r = server.kubectl("debug", "p", "-n", "runtime", "--image=busybox", "--profile=general")
    assert r.returncode == 1 and "panic" not in r.stderr, r.stderr
    assert "ephemeral containers are disabled for this cluster" in r.stderr


def _user(server: ServerProc, tmp_path: Path, name: str, role: str, namespace: str) -> Path:
    token = server.cli("adm", "token", "create", name, check=True).stdout.strip().splitlines()[-1]
    server.cli("adm", "policy", "add-role-to-user", role, name, "-n", namespace, check=True)
    path = tmp_path / f"{name}.conf"
    write_kubeconfig(path, "osdn", server.url, name, token, server.ca_file.read_text())
    return path


def test_secrets_generators_columns_and_roles(server: ServerProc, tmp_path: Path) -> None:
    ok(server, "create", "namespace", "secrets")
    alice = _user(server, tmp_path, "secrets-admin", "admin", "secrets")
    bob = _user(server, tmp_path, "secrets-viewer", "view", "secrets")
    ok(server, "create", "secret", "generic", "s", "--from-literal=a=b", "-n", "secrets", kubeconfig=alice)
    ok(server, "create", "secret", "docker-registry", "d", "--docker-server=r.example.com",
       "--docker-username=u", "--docker-password=p", "-n", "secrets")
    assert [r[:3] for r in rows(ok(server, "get", "secrets", "-n", "secrets"))] == [
        ["NAME", "TYPE", "DATA"], ["d", "kubernetes.io/dockerconfigjson", "1"], ["s", "Opaque", "1"]]
    assert get(server, "secret", "s", "-n", "secrets")["data"] == {"a": "Yg=="}
    manifest = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "t", "namespace": "secrets"},
                "stringData": {"k": "v"}}
    ok(server, "apply", "-f", "-", stdin=json.dumps(manifest))
    t = get(server, "secret", "t", "-n", "secrets")
    assert (t["data"], t["type"], "stringData" in t) == ({"k": "dg=="}, "Opaque", False)
    assert ok(server, "get", "secrets", "-A", "--field-selector", "type=Opaque", "-o", "name").split() == \
        ["secret/s", "secret/t"]
    r = server.kubectl("patch", "secret", "s", "-n", "secrets", "-p", '{"data":{"a":"!!"}}')
    assert r.returncode == 1 and "data[a]: Invalid value" in r.stderr and "must be base64-encoded" in r.stderr
    r = server.kubectl("get", "secrets", "-n", "secrets", kubeconfig=bob)   # view reads no Secrets, as in kube
    assert r.returncode == 1 and 'cannot list resource "secrets"' in r.stderr
    assert ok(server, "get", "configmaps", "-n", "secrets", kubeconfig=bob) == ""
    r = server.kubectl("auth", "can-i", "get", "secrets", "-n", "secrets", "--as=n1", "--as-group=system:nodes")
    assert r.stdout.strip() == "no"


def test_wide_columns_of_bindings_and_rcs(server: ServerProc) -> None:
    ok(server, "create", "namespace", "wide")
    ok(server, "create", "rolebinding", "rb", "--clusterrole=view", "--user=bob", "--user=carol", "--group=g",
       "--serviceaccount=wide:robot", "-n", "wide")
    table = rows(ok(server, "get", "rolebinding", "rb", "-n", "wide", "-o", "wide"))
    assert table[0] == ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"]
    assert table[1][:2] == ["rb", "ClusterRole/view"] and table[1][3:] == ["bob, carol", "g", "wide/robot"]
    rc = {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "r", "namespace": "wide"},
          "spec": {"replicas": 0, "selector": {"app": "r"}, "template": {"metadata": {"labels": {"app": "r"}},
                   "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}
    ok(server, "apply", "-f", "-", stdin=json.dumps(rc))
    table = rows(ok(server, "get", "rc", "r", "-n", "wide", "-o", "wide"))
    assert table[0][-3:] == ["CONTAINERS", "IMAGES", "SELECTOR"] and table[1][-3:] == ["c", "busybox", "app=r"]


def test_roles_grant_in_their_namespace_and_cannot_escalate(server: ServerProc, tmp_path: Path) -> None:
    ok(server, "create", "namespace", "roles")
    ok(server, "create", "namespace", "roles-y")
    alice = _user(server, tmp_path, "roles-admin", "admin", "roles")
    ok(server, "create", "role", "reader", "--verb=get,list", "--resource=configmaps", "-n", "roles", kubeconfig=alice)
    ok(server, "create", "rolebinding", "rr", "--role=reader", "--user=carol", "-n", "roles", kubeconfig=alice)
    table = rows(ok(server, "get", "roles", "-n", "roles"))   # kubectl: CREATED AT, not AGE, for roles
    assert table[0] == ["NAME", "CREATED AT"] and table[1][0] == "reader" and table[1][1].endswith("Z")
    assert get(server, "role", "reader", "-n", "roles")["rules"] == [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]

    def can(verb: str, namespace: str) -> str:
        return server.kubectl("auth", "can-i", verb, "configmaps", "-n", namespace, "--as=carol").stdout.strip()
    assert (can("list", "roles"), can("create", "roles"), can("list", "roles-y")) == ("yes", "no", "no")
    r = server.kubectl("create", "role", "nodes", "--verb=get", "--resource=nodes", "-n", "roles", kubeconfig=alice)
    assert r.returncode == 1 and "attempting to grant RBAC permissions not currently held" in r.stderr
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "u", "namespace": "roles"},
            "rules": [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}]}
    r = server.kubectl("apply", "-f", "-", input=json.dumps(role))
    assert r.returncode == 1 and "namespaced rules cannot apply to non-resource URLs" in r.stderr
