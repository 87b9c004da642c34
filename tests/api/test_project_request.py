"""ProjectRequest (what `oc new-project` posts): any user may request a project and becomes its admin;
the self-provisioning rules of Projects hold (reserved names, metadata dropped), nothing else is stored."""

from __future__ import annotations

from pathlib import Path

from tests.api.test_authz import make_user
from tests.conftest import ServerProc

REQUESTS = "/apis/project.openshift.io/v1/projectrequests"


def request(name: str, **extra: object) -> dict:
    return {"apiVersion": "project.openshift.io/v1", "kind": "ProjectRequest", "metadata": {"name": name},
            **extra}


def test_a_request_makes_the_requester_admin_of_a_project(server: ServerProc, tmp_path: Path) -> None:
    bob = make_user(server, tmp_path, "bob")
    assert bob.http.get(REQUESTS).json()["items"] == []
    r = bob.http.post(REQUESTS, json=request("team", displayName="Team", description="ours"))
    assert r.status_code == 201, r.text
    project = r.json()
    assert project["kind"] == "Project"
    assert project["metadata"]["annotations"] == {"openshift.io/display-name": "Team",
                                                  "openshift.io/description": "ours",
                                                  "openshift.io/requester": "bob"}
    assert bob.http.get("/api/v1/namespaces/team").status_code == 200
    assert bob.http.post("/api/v1/namespaces/team/configmaps", json={
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}).status_code == 201
    assert server.http().get(f"{REQUESTS}/team").status_code == 405  # never stored as itself


def test_a_request_follows_the_self_provisioning_rules(server: ServerProc, tmp_path: Path) -> None:
    bob = make_user(server, tmp_path, "bob")
    r = bob.http.post(REQUESTS, json=request("p"))
    assert r.status_code == 422 and "at least 2 characters" in r.json()["message"]
    r = bob.http.post(REQUESTS, json=request("kube-mine"))
    assert r.status_code == 403 and "kube-" in r.json()["message"]
    r = bob.http.post(REQUESTS, json={**request("labelled"), "metadata": {
        "name": "labelled", "labels": {"trusted": "true"},
        "annotations": {"openshift.io/active-deadline-seconds-override": "999999"}}})
    assert r.status_code == 201, r.text
    meta = server.http().get("/api/v1/namespaces/labelled").json()["metadata"]
    assert "trusted" not in (meta.get("labels") or {})
    assert "openshift.io/active-deadline-seconds-override" not in meta["annotations"]
    assert "dropped" in r.headers["warning"]


def test_a_malformed_request_writes_nothing(server: ServerProc, tmp_path: Path) -> None:
    bob = make_user(server, tmp_path, "bob")
    before = server.http().get("/api/v1/namespaces").json()["metadata"]["resourceVersion"]
    for body in (request("Bad_Name"), request("x", displayName=["not", "a", "string"]), request("")):
        r = bob.http.post(REQUESTS, json=body)
        assert 400 <= r.status_code < 500, (body, r.text)
    r = bob.http.post(REQUESTS, json=request("dry"), params={"dryRun": "All"})
    assert r.status_code == 201
    assert server.http().get("/api/v1/namespaces").json()["metadata"]["resourceVersion"] == before
