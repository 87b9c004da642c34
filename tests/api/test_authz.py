"""Authorization and tenancy against a real server, as an attacker would try it (issue 9, items 1-4).

Alice is a self-provisioned project admin (of p1), Carol a viewer of p1; the cluster admin owns
namespace labels and annotations, RBAC escalation is refused, names are checked for every kind,
extra path segments are 404, node-owned writes and /metrics are out of a tenant's reach, and tokens
can be listed, revoked and made to expire.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import ServerProc, module_server

RBAC = "rbac.authorization.k8s.io"
PROJECTS = "/apis/project.openshift.io/v1/projects"
OVERRIDE = "openshift.io/active-deadline-seconds-override"


@dataclass
class Tenant:
    name: str
    token: str
    config: Path
    http: httpx.Client


def make_user(srv: ServerProc, tmp_path: Path, name: str, *groups: str) -> Tenant:
    token = srv.http().post("/osdn/v1/tokens", json={"user": name, "groups": list(groups)}).json()["token"]
    config = tmp_path / f"{name}.conf"
    srv.cli("adm", "token", "create", name, "--write-config", str(config), check=True)
    return Tenant(name, token, config, srv.http(token=token))


def binding(name: str, role: str, user: str, kind: str = "RoleBinding", ref_kind: str = "ClusterRole") -> dict:
    return {"apiVersion": f"{RBAC}/v1", "kind": kind, "metadata": {"name": name},
            "roleRef": {"apiGroup": RBAC, "kind": ref_kind, "name": role},
            "subjects": [{"kind": "User", "apiGroup": RBAC, "name": user}]}


def rb_path(ns: str) -> str:
    return f"/apis/{RBAC}/v1/namespaces/{ns}/rolebindings"


@pytest.fixture
def alice(server: ServerProc, tmp_path: Path) -> Iterator[Tenant]:
    """Alice, who requested project p1 herself (and is its admin)."""
    user = make_user(server, tmp_path, "alice")
    r = user.http.post(PROJECTS, json={"apiVersion": "v1", "kind": "Project", "metadata": {"name": "p1"}})
    assert r.status_code == 201, r.text
    yield user
    user.http.close()


# ---- item 1: namespace labels and annotations are the cluster admin's -------------------------------

def test_self_provisioned_project_keeps_only_display_name_description_and_requester(
        server: ServerProc, tmp_path: Path) -> None:
    bob = make_user(server, tmp_path, "bob")
    r = bob.http.post(PROJECTS, json={"apiVersion": "v1", "kind": "Project", "metadata": {
        "name": "p2", "labels": {"trusted": "true"},
        "annotations": {OVERRIDE: "99999", "openshift.io/display-name": "Bob's", "openshift.io/requester": "eve",
                        "openshift.io/node-selector": "role=infra"}}})
    assert r.status_code == 201, r.text
    assert "metadata.labels[trusted] dropped" in r.headers["warning"]
    assert f"metadata.annotations[{OVERRIDE}] dropped" in r.headers["warning"]
    meta = server.http().get("/api/v1/namespaces/p2").json()["metadata"]
    assert meta["labels"] == {"kubernetes.io/metadata.name": "p2"}
    assert meta["annotations"] == {"openshift.io/display-name": "Bob's", "openshift.io/requester": "bob"}


@pytest.mark.parametrize("name, text", [
    ("default", 'cannot request a project with the name "default"'),
    ("kube-public2", 'cannot request a project starting with "kube-"'),
    ("openshift-sdn2", 'cannot request a project starting with "openshift-"'),
], ids=["default", "kube-", "openshift-"])
def test_reserved_project_names_are_refused_to_users(server: ServerProc, tmp_path: Path, name: str,
                                                     text: str) -> None:
    bob = make_user(server, tmp_path, "bob")
    r = bob.http.post(PROJECTS, json={"apiVersion": "v1", "kind": "Project", "metadata": {"name": name}})
    assert r.status_code == 403 and text in r.json()["message"]
    r = server.cli("new-project", name, config=bob.config)
    assert r.returncode == 1 and text in r.stderr
    if name != "default":   # exists already; cluster admins may use the other names, and choose labels
        r = server.http().post(PROJECTS, json={"apiVersion": "v1", "kind": "Project",
                                               "metadata": {"name": name, "labels": {"trusted": "true"}}})
        assert r.status_code == 201, r.text
        assert server.http().get(f"/api/v1/namespaces/{name}").json()["metadata"]["labels"] == {
            "trusted": "true", "kubernetes.io/metadata.name": name}


def test_project_admin_cannot_relabel_her_namespace_or_project(server: ServerProc, alice: Tenant) -> None:
    for args in (["label", "namespace", "p1", "trusted=true"], ["label", "project", "p1", "trusted=true"],
                 ["annotate", "namespace", "p1", f"{OVERRIDE}=99999"], ["annotate", "project", "p1", f"{OVERRIDE}=9"],
                 ["annotate", "project", "p1", "openshift.io/requester=eve", "--overwrite"]):
        r = server.cli(*args, config=alice.config)
        assert r.returncode == 1, (args, r.stdout)
        assert "forbidden" in r.stderr or "field is immutable, try updating the namespace" in r.stderr, r.stderr
    r = alice.http.patch(f"{PROJECTS}/p1", json={"metadata": {"labels": {"trusted": "true"}}},
                         headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 422 and "metadata.labels[trusted]" in r.json()["message"]
    meta = server.http().get("/api/v1/namespaces/p1").json()["metadata"]
    assert meta["labels"] == {"kubernetes.io/metadata.name": "p1"}
    assert meta["annotations"] == {"openshift.io/requester": "alice"}
    # The display name and description are hers to change.
    server.cli("annotate", "project", "p1", "openshift.io/display-name=Alice's", config=alice.config, check=True)
    assert server.http().get("/api/v1/namespaces/p1").json()["metadata"]["annotations"][
        "openshift.io/display-name"] == "Alice's"


def test_project_admin_and_viewer_read_their_own_namespace_only(server: ServerProc, tmp_path: Path,
                                                                 alice: Tenant) -> None:
    carol = make_user(server, tmp_path, "carol")
    assert alice.http.post(rb_path("p1"), json=binding("view", "view", "carol")).status_code == 201
    for user in (alice, carol):
        assert user.http.get("/api/v1/namespaces/p1").status_code == 200
        assert user.http.get(f"{PROJECTS}/p1").status_code == 200
        assert user.http.get("/api/v1/namespaces/default").status_code == 403
    assert server.cli("get", "namespace", "p1", "-o", "name", config=carol.config, check=True).stdout.strip() \
        == "namespace/p1"
    r = carol.http.patch(f"{PROJECTS}/p1", json={"metadata": {"annotations": {"openshift.io/display-name": "x"}}},
                         headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 403


def test_deadline_override_annotation_is_validated(server: ServerProc) -> None:
    server.cli("new-project", "p3", check=True)
    r = server.cli("annotate", "namespace", "p3", f"{OVERRIDE}=abc")
    assert r.returncode == 1 and f"metadata.annotations[{OVERRIDE}]" in r.stderr and '"abc"' in r.stderr
    r = server.http().post(PROJECTS, json={"apiVersion": "v1", "kind": "Project",
                                           "metadata": {"name": "p4", "annotations": {OVERRIDE: "-5"}}})
    assert r.status_code == 422 and OVERRIDE in r.json()["message"]
    server.cli("annotate", "namespace", "p3", f"{OVERRIDE}=600", check=True)


# ---- item 2: RBAC escalation prevention -------------------------------------------------------------

ENP = {"apiVersion": "v1", "kind": "EgressNetworkPolicy", "metadata": {"name": "default"},
       "spec": {"egress": [{"type": "Deny", "to": {"cidrSelector": "0.0.0.0/0"}}]}}


def test_project_admin_cannot_bind_cluster_admin_but_can_bind_project_roles(server: ServerProc,
                                                                              alice: Tenant) -> None:
    enp_path = "/apis/network.openshift.io/v1/namespaces/p1/egressnetworkpolicies"
    assert server.http().post(enp_path, json=ENP).status_code == 201
    for role in ("cluster-admin", "system:node", "system:monitoring"):
        r = alice.http.post(rb_path("p1"), json=binding(f"x-{role.replace(':', '-')}", role, "alice"))
        assert r.status_code == 403, r.text
        assert "attempting to grant RBAC permissions not currently held" in r.json()["message"]
    r = server.cli("adm", "policy", "add-role-to-user", "cluster-admin", "alice", "-n", "p1", config=alice.config)
    assert r.returncode == 1 and "not currently held" in r.stderr
    assert alice.http.delete(f"{enp_path}/default").status_code == 403
    for role in ("admin", "edit", "view"):
        server.cli("adm", "policy", "add-role-to-user", role, "dave", "-n", "p1", config=alice.config, check=True)
    # A Role reference resolves to a Role of the binding's namespace, never to the ClusterRole of that name.
    r = alice.http.post(rb_path("p1"), json=binding("sneaky", "cluster-admin", "alice", ref_kind="Role"))
    assert r.status_code == 404 and 'roles.rbac.authorization.k8s.io "cluster-admin" not found' in r.json()["message"]


def test_binding_to_a_role_reference_grants_nothing(server: ServerProc, tmp_path: Path, alice: Tenant) -> None:
    bob = make_user(server, tmp_path, "bob")
    r = server.http().post(rb_path("p1"), json=binding("role-ref", "cluster-admin", "bob", ref_kind="Role"))
    assert r.status_code == 201, r.text
    assert bob.http.get("/api/v1/namespaces/p1/pods").status_code == 403


def _role(name: str, rules: list[dict]) -> dict:
    return {"apiVersion": f"{RBAC}/v1", "kind": "ClusterRole", "metadata": {"name": name}, "rules": rules}


def test_cluster_role_and_binding_writers_need_escalate_or_bind(server: ServerProc, tmp_path: Path) -> None:
    admin, bob = server.http(), make_user(server, tmp_path, "bob")
    roles, crbs = f"/apis/{RBAC}/v1/clusterroles", f"/apis/{RBAC}/v1/clusterrolebindings"
    manager = [{"apiGroups": [RBAC], "resources": ["clusterroles", "clusterrolebindings"],
                "verbs": ["get", "create", "update"]}]
    assert admin.post(roles, json=_role("rbac-manager", manager)).status_code == 201
    assert admin.post(crbs, json=binding("bob-manager", "rbac-manager", "bob", "ClusterRoleBinding")).status_code == 201
    everything = [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]
    r = bob.http.post(roles, json=_role("mine", everything))
    assert r.status_code == 403 and 'resources:["*"]' in r.json()["message"]
    assert bob.http.post(roles, json=_role("mine", [{**manager[0], "verbs": ["get"]}])).status_code == 201
    mine = bob.http.get(f"{roles}/mine").json()
    assert bob.http.put(f"{roles}/mine", json={**mine, "rules": everything}).status_code == 403
    r = bob.http.post(crbs, json=binding("bob-root", "cluster-admin", "bob", "ClusterRoleBinding"))
    assert r.status_code == 403
    assert bob.http.post(crbs, json=binding("bob-mine", "mine", "bob", "ClusterRoleBinding")).status_code == 201
    # `bind` on one named role, and `escalate`, are the ways past the check.
    extra = [{"apiGroups": [RBAC], "resources": ["clusterroles"], "verbs": ["bind"], "resourceNames": ["view"]},
             {"apiGroups": [RBAC], "resources": ["clusterroles"], "verbs": ["escalate"]}]
    assert admin.put(f"{roles}/rbac-manager", json={**admin.get(f"{roles}/rbac-manager").json(),
                                                     "rules": manager + extra}).status_code == 200
    assert bob.http.post(crbs, json=binding("bob-view", "view", "carol", "ClusterRoleBinding")).status_code == 201
    assert bob.http.post(crbs, json=binding("bob-edit", "edit", "carol", "ClusterRoleBinding")).status_code == 403
    assert bob.http.post(roles, json=_role("big", everything)).status_code == 201


# ---- item 3: names and paths ------------------------------------------------------------------------

names_server = module_server("authz-names")


@pytest.fixture(scope="module")
def with_p1(names_server: ServerProc) -> ServerProc:
    """One server with project p1 for the name and path checks: each refuses its write (or, for the
    extra path segments, touches only its own ConfigMap), so they share it."""
    names_server.cli("new-project", "p1", check=True)
    return names_server


@pytest.mark.parametrize("name", ["a/b", "..", ".", "a%2", "two\nlines", "x" * 300], ids=[
    "slash", "dotdot", "dot", "percent", "newline", "300-chars"])
@pytest.mark.parametrize("kind", ["ClusterRoleBinding", "ClusterRole", "RoleBinding"])
def test_rbac_names_are_path_segments(with_p1: ServerProc, kind: str, name: str) -> None:
    server = with_p1
    obj = _role(name, []) if kind == "ClusterRole" else binding(name, "view", "bob", kind)
    path = {"ClusterRole": f"/apis/{RBAC}/v1/clusterroles", "ClusterRoleBinding": f"/apis/{RBAC}/v1/clusterrolebindings",
            "RoleBinding": rb_path("p1")}[kind]
    r = server.http().post(path, json=obj)
    assert r.status_code == 422 and r.json()["details"]["causes"][0]["field"] == "metadata.name", r.text


def test_service_names_are_dns1035_labels(with_p1: ServerProc) -> None:
    server = with_p1
    r = server.http().post("/api/v1/namespaces/p1/services", json={
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "1web"}, "spec": {"ports": [{"port": 80}]}})
    assert r.status_code == 422 and "DNS-1035" in r.json()["message"], r.text


def test_extra_path_segments_are_404_and_touch_nothing(with_p1: ServerProc) -> None:
    admin = with_p1.http()
    cm = "/api/v1/namespaces/p1/configmaps"
    assert admin.post(cm, json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "victim"}}).is_success
    for method in ("DELETE", "GET", "PUT", "PATCH"):
        r = admin.request(method, f"{cm}/victim/garbage", json={"metadata": {"labels": {"a": "b"}}},
                          headers={"Content-Type": "application/merge-patch+json"})
        assert r.status_code == 404 and r.json()["kind"] == "Status", (method, r.text)
    assert admin.put(f"{cm}/victim/status", json={}).status_code == 404   # configmaps have no status
    assert admin.delete("/api/v1/namespaces/p1/pods/victim/status").status_code in (404, 405)
    assert admin.get(f"{cm}/victim").json()["metadata"].get("labels") is None


# ---- item 4: node-owned writes, /metrics, tokens ---------------------------------------------------

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
       "spec": {"containers": [{"name": "web", "image": "busybox"}]}}


def test_node_owned_writes_are_out_of_a_project_admins_reach(server: ServerProc, tmp_path: Path,
                                                            alice: Tenant) -> None:
    pods = "/api/v1/namespaces/p1/pods"
    assert alice.http.post(pods, json=POD).status_code == 201
    r = alice.http.patch(f"{pods}/web/status", json={"status": {"podIP": "10.128.0.9"}},
                         headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 403 and 'pods/status' in r.json()["message"]
    pod = alice.http.get(f"{pods}/web").json()
    assert alice.http.put(f"{pods}/web", json={**pod, "status": {"podIP": "10.128.0.9"}}).status_code == 200
    assert "podIP" not in (alice.http.get(f"{pods}/web").json().get("status") or {})
    ep = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web"},
          "subsets": [{"addresses": [{"ip": "10.129.0.5"}], "ports": [{"port": 80}]}]}
    assert alice.http.post("/api/v1/namespaces/p1/endpoints", json=ep).status_code == 403
    event = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "fake"}, "type": "Normal",
             "reason": "Fake", "message": "node says so", "involvedObject": {"kind": "Pod", "name": "web"}}
    assert alice.http.post("/api/v1/namespaces/p1/events", json=event).status_code == 403
    for what in ("endpoints", "events"):
        assert alice.http.get(f"/api/v1/namespaces/p1/{what}").status_code == 200
    node = make_user(server, tmp_path, "system:node:n1", "system:nodes")
    r = node.http.patch(f"{pods}/web/status", json={"status": {"podIP": "10.128.0.9"}},
                        headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200 and r.json()["status"]["podIP"] == "10.128.0.9"


def test_metrics_need_a_token_with_access_and_health_stays_public(server: ServerProc, tmp_path: Path) -> None:
    anonymous = server.http(token="")
    for path in ("/healthz", "/readyz", "/version"):
        assert anonymous.get(path).status_code == 200
    assert anonymous.get("/metrics").status_code == 401
    bob = make_user(server, tmp_path, "bob")
    r = bob.http.get("/metrics")
    assert r.status_code == 403 and 'cannot get path "/metrics"' in r.json()["message"]
    scraper = make_user(server, tmp_path, "prometheus", "system:monitoring")
    assert "osdn_apiserver_requests_total" in scraper.http.get("/metrics").text
    assert server.http().get("/metrics").status_code == 200


def test_tokens_are_listed_by_id_and_revoked(server: ServerProc, tmp_path: Path) -> None:
    bob = make_user(server, tmp_path, "bob")
    listing = server.cli("adm", "token", "list", check=True).stdout
    assert bob.token not in listing and "bob" in listing and "system:admin" in listing
    assert server.admin_token not in listing
    ids = [line.split()[0] for line in listing.splitlines()[1:] if line.split()[1] == "bob"]
    assert len(ids) == 2   # make_user made one over HTTP and one for bob's config file
    r = server.cli("adm", "token", "list", config=bob.config)
    assert r.returncode == 1 and "only cluster admins" in r.stderr
    assert server.cli("adm", "token", "revoke", ids[0][:8], config=bob.config).returncode == 1
    for token_id in ids:
        assert f"token {token_id} of user \"bob\" revoked" in server.cli("adm", "token", "revoke", token_id,
                                                                       check=True).stdout
    assert bob.http.get("/osdn/v1/whoami").status_code == 401
    assert server.cli("whoami", config=bob.config).returncode == 1
    assert server.cli("adm", "token", "revoke", ids[0]).returncode == 1   # gone: NotFound
    assert "bob" not in server.cli("adm", "token", "list", check=True).stdout


def test_token_expires(server: ServerProc, tmp_path: Path) -> None:
    conf = tmp_path / "short.conf"
    created = time.monotonic()
    server.cli("adm", "token", "create", "shorty", "--expires-in", "6s", "--write-config", str(conf), check=True)
    r = server.cli("whoami", config=conf)
    if time.monotonic() - created < 6:  # a loaded machine may take longer than the token lives
        assert r.returncode == 0 and r.stdout.strip() == "shorty", r.stderr
    listing = server.cli("adm", "token", "list", check=True).stdout
    assert "<never>" in listing and [line for line in listing.splitlines() if "shorty" in line][0].split()[-1] != \
        "<never>"
    deadline = time.monotonic() + 60
    while (r := server.cli("whoami", config=conf)).returncode == 0 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert r.returncode == 1 and "expired" in r.stderr, r.stderr
    assert server.cli("adm", "token", "create", "x", "--expires-in", "soon").returncode == 1
