"""Every Namespace carries `kubernetes.io/metadata.name=<its name>`, as kube-apiserver (>= 1.21) writes
it on every create and update: a client's other value is overwritten and a removal undone, whether it
came by create, label (patch), replace, apply or server-side apply, or through a Project."""

from __future__ import annotations

from pathlib import Path

from tests.api.test_authz import make_user
from tests.conftest import ServerProc, module_server

LABEL = "kubernetes.io/metadata.name"
server = module_server("nslabel")


def label_of(server: ServerProc, ns: str) -> str:
    return server.http().get(f"/api/v1/namespaces/{ns}").json()["metadata"]["labels"].get(LABEL, "<absent>")


def manifest(name: str, value: str) -> str:
    return f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n  labels:\n    {LABEL}: {value}\n"


def test_kubectl_cannot_change_or_remove_the_label(server: ServerProc) -> None:
    server.kubectl("create", "ns", "x", check=True)
    shown = server.kubectl("get", "ns", "x", "--show-labels", check=True).stdout
    assert f"{LABEL}=x" in shown.splitlines()[1].split()
    server.kubectl("label", "ns", "x", f"{LABEL}=other", "team=a", "--overwrite", check=True)
    assert server.http().get("/api/v1/namespaces/x").json()["metadata"]["labels"] == {LABEL: "x", "team": "a"}
    server.kubectl("label", "ns", "x", f"{LABEL}-", check=True)
    assert label_of(server, "x") == "x"
    server.kubectl("replace", "-f", "-", input=manifest("x", "other"), check=True)
    assert label_of(server, "x") == "x"
    server.kubectl("apply", "-f", "-", input=manifest("web", "other"), check=True)
    server.kubectl("apply", "--server-side", "-f", "-", input=manifest("db", "other"), check=True)
    assert (label_of(server, "web"), label_of(server, "db")) == ("web", "db")
    server.kubectl("apply", "-f", "-", input=manifest("web", "again"), check=True)
    assert label_of(server, "web") == "web"


def test_a_project_gets_the_label_and_keeps_it(server: ServerProc, tmp_path: Path) -> None:
    bob = make_user(server, tmp_path, "bob")
    r = bob.http.post("/apis/project.openshift.io/v1/projectrequests", json={
        "apiVersion": "project.openshift.io/v1", "kind": "ProjectRequest", "metadata": {"name": "team"}})
    assert r.status_code == 201, r.text
    assert r.json()["metadata"]["labels"] == {LABEL: "team"}
    assert label_of(server, "team") == "team"
    project = bob.http.get("/apis/project.openshift.io/v1/projects/team").json()
    project["metadata"]["annotations"]["openshift.io/display-name"] = "Team"
    r = bob.http.put("/apis/project.openshift.io/v1/projects/team", json=project)
    assert r.status_code == 200, r.text
    assert r.json()["metadata"]["labels"] == {LABEL: "team"}
    r = server.http().post("/apis/project.openshift.io/v1/projects", json={
        "apiVersion": "project.openshift.io/v1", "kind": "Project",
        "metadata": {"name": "admins", "labels": {LABEL: "team"}}})
    assert r.status_code == 201, r.text
    assert label_of(server, "admins") == "admins"
