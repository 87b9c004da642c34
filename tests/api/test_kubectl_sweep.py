"""Everyday kubectl commands found wrong in a sweep of real kubectl against osdn, each checked as
kube-apiserver answers it: RBAC generator subcommands (protobuf bodies), ... Skipped only when
kubectl is not installed."""

from __future__ import annotations

import json
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
