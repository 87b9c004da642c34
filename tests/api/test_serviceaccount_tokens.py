"""ServiceAccounts that work, against a real server: every namespace gets `default`, `builder` and
`deployer`; `kubectl create token` and `osdn create token` mint RS256 JWTs through the TokenRequest
subresource; such a token authenticates as system:serviceaccount:NS:NAME and gets exactly what
RoleBindings to the ServiceAccount grant; deleting the ServiceAccount (or the bound object) revokes it;
expired, forged, garbage and other-audience tokens get 401; a tenant mints only in her own projects."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from osdn.api import satoken
from osdn.api.satoken import DEFAULT_ISSUER
from osdn.apiserver.satoken import SigningKey
from tests.api.test_authz import make_user
from tests.conftest import ServerProc, module_server, start_server
from tests.polling import wait_for

Obj = dict[str, Any]
RBAC = "rbac.authorization.k8s.io"
WHOAMI = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
PROJECT_REQUESTS = "/apis/project.openshift.io/v1/projectrequests"

srv = module_server("sa-tokens")


def sa_path(ns: str, name: str = "") -> str:
    return f"/api/v1/namespaces/{ns}/serviceaccounts" + (f"/{name}" if name else "")


def mint(http: httpx.Client, ns: str, name: str, **spec: Any) -> httpx.Response:
    return http.post(f"{sa_path(ns, name)}/token", json={"apiVersion": "authentication.k8s.io/v1",
                                                          "kind": "TokenRequest", "spec": spec})


def token_of(http: httpx.Client, ns: str, name: str, **spec: Any) -> str:
    r = mint(http, ns, name, **spec)
    assert r.status_code == 201, r.text
    return str(r.json()["status"]["token"])


def whoami(server: ServerProc, token: str) -> httpx.Response:
    with server.http(token=token) as http:
        return http.post(WHOAMI, json={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})


def accounts(server: ServerProc, ns: str) -> dict[str, str]:
    with server.http() as http:
        return {o["metadata"]["name"]: o["metadata"]["uid"] for o in http.get(sa_path(ns)).json().get("items", [])}


@pytest.fixture
def ns(srv: ServerProc) -> Iterator[str]:
    """A fresh namespace (made by the admin) whose default ServiceAccounts exist."""
    name = f"sa-{uuid.uuid4().hex[:8]}"
    with srv.http() as http:
        assert http.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace",
                                                     "metadata": {"name": name}}).status_code == 201
        try:
            wait_for(lambda: {"default", "builder", "deployer"} <= set(accounts(srv, name)), 30,
                     f"the default ServiceAccounts of {name}")
            yield name
        finally:
            http.delete(f"/api/v1/namespaces/{name}")


def test_a_new_project_gets_default_builder_and_deployer_and_keeps_them(srv: ServerProc, tmp_path: Path) -> None:
    alice = make_user(srv, tmp_path, "alice")
    name = f"proj-{uuid.uuid4().hex[:8]}"
    try:
        r = alice.http.post(PROJECT_REQUESTS, json={"apiVersion": "project.openshift.io/v1",
                                                    "kind": "ProjectRequest", "metadata": {"name": name}})
        assert r.status_code == 201, r.text
        made = wait_for(lambda: (a := accounts(srv, name)).keys() >= {"default", "builder", "deployer"} and a, 30,
                        "the project's ServiceAccounts")
        assert alice.http.delete(sa_path(name, "default")).status_code == 200
        back = wait_for(lambda: accounts(srv, name).get("default", made["default"]) != made["default"], 30,
                        "default to come back with a new uid")
        assert back
    finally:
        alice.http.close()
        srv.http().delete(f"/apis/project.openshift.io/v1/projects/{name}")


def test_kubectl_create_token_authenticates_as_the_service_account(srv: ServerProc, ns: str) -> None:
    made = srv.kubectl("create", "token", "default", "-n", ns, "--duration=2h", check=True)
    token = made.stdout.strip()
    claims = json.loads(satoken.unb64url(token.split(".")[1]))
    assert (claims["sub"], claims["iss"], claims["aud"]) == (f"system:serviceaccount:{ns}:default", DEFAULT_ISSUER,
                                                             [DEFAULT_ISSUER])
    assert claims["exp"] - claims["iat"] == 7200
    me = srv.kubectl("auth", "whoami", "-o", "json", f"--token={token}", check=True)
    info = json.loads(me.stdout)["status"]["userInfo"]
    assert info == {"username": f"system:serviceaccount:{ns}:default",
                    "groups": ["system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"]}
    capped = srv.kubectl("create", "token", "default", "-n", ns, "--duration=100h", "-o", "json", check=True)
    assert json.loads(capped.stdout)["spec"]["expirationSeconds"] == 86400    # the server's 24 h maximum
    short = srv.kubectl("create", "token", "default", "-n", ns, "--duration=1m")
    assert short.returncode == 1 and "spec.expirationSeconds: Invalid value: 60: may not specify a duration less " \
                                     "than 10 minutes" in short.stderr


def test_a_rolebinding_to_the_service_account_grants_what_it_says_and_nothing_more(srv: ServerProc,
                                                                                   ns: str) -> None:
    token = token_of(srv.http(), ns, "builder")
    with srv.http(token=token) as sa:
        assert sa.get(f"/api/v1/namespaces/{ns}/pods").status_code == 403          # nothing bound yet
        srv.kubectl("create", "rolebinding", "b", "--clusterrole=view", f"--serviceaccount={ns}:builder",
                    "-n", ns, check=True)
        wait_for(lambda: sa.get(f"/api/v1/namespaces/{ns}/pods").status_code == 200, 30, "the view grant")
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
        r = sa.post(f"/api/v1/namespaces/{ns}/configmaps", json=cm)
        assert r.status_code == 403 and f'User "system:serviceaccount:{ns}:builder" cannot create' in r.json()["message"]
        assert sa.get(f"/api/v1/namespaces/{ns}/secrets").status_code == 403       # not in view
        assert sa.get("/api/v1/namespaces/default/pods").status_code == 403        # another namespace
        assert mint(sa, ns, "deployer").status_code == 403                          # view cannot mint
    other = token_of(srv.http(), ns, "deployer")                                    # same namespace, not bound
    with srv.http(token=other) as deployer:
        assert deployer.get(f"/api/v1/namespaces/{ns}/pods").status_code == 403


def test_deleting_the_service_account_or_the_bound_secret_revokes(srv: ServerProc, ns: str) -> None:
    admin = srv.http()
    assert admin.post(sa_path(ns), json={"apiVersion": "v1", "kind": "ServiceAccount",
                                         "metadata": {"name": "robot"}}).status_code == 201
    secret = admin.post(f"/api/v1/namespaces/{ns}/secrets", json={"apiVersion": "v1", "kind": "Secret",
                                                                  "metadata": {"name": "key"}}).json()
    plain = token_of(admin, ns, "robot")
    bound = token_of(admin, ns, "robot", boundObjectRef={"kind": "Secret", "apiVersion": "v1", "name": "key",
                                                         "uid": secret["metadata"]["uid"]})
    assert whoami(srv, plain).status_code == 201 and whoami(srv, bound).status_code == 201
    assert admin.delete(f"/api/v1/namespaces/{ns}/secrets/key").status_code == 200
    r = whoami(srv, bound)
    assert r.status_code == 401 and f"secret {ns}/key it is bound to was deleted" in r.json()["message"]
    assert whoami(srv, plain).status_code == 201
    assert admin.delete(sa_path(ns, "robot")).status_code == 200
    r = whoami(srv, plain)
    assert r.status_code == 401 and f"service account {ns}/robot was deleted" in r.json()["message"]
    assert admin.post(sa_path(ns), json={"apiVersion": "v1", "kind": "ServiceAccount",
                                         "metadata": {"name": "robot"}}).status_code == 201
    assert whoami(srv, plain).status_code == 401                                   # a new robot, a new uid


def _claims(ns: str, uid: str, now: int, audiences: tuple[str, ...] = (DEFAULT_ISSUER,)) -> Obj:
    return satoken.claims(satoken.Issue(DEFAULT_ISSUER, ns, satoken.Ref("ServiceAccount", "default", uid),
                                        satoken.TokenRequestSpec(audiences, 3600), now, "test"))


def test_expired_forged_other_audience_and_garbage_tokens_get_401(srv: ServerProc, ns: str) -> None:
    uid, now = accounts(srv, ns)["default"], int(time.time())
    servers_key = SigningKey.load_or_create(srv.data_dir / "pki")                  # the server's own key
    assert whoami(srv, servers_key.sign(_claims(ns, uid, now))).status_code == 201  # the control
    expired = whoami(srv, servers_key.sign(_claims(ns, uid, now - 7200)))
    assert expired.status_code == 401 and "has expired" in expired.json()["message"]
    forged = SigningKey(rsa.generate_private_key(public_exponent=65537, key_size=2048)).sign(_claims(ns, uid, now))
    assert whoami(srv, forged).status_code == 401
    vault = token_of(srv.http(), ns, "default", audiences=["vault"])
    r = whoami(srv, vault)
    assert r.status_code == 401 and "not meant for this server" in r.json()["message"]
    for garbage in ("a.b.c", "..", "x" * 9000 + ".y.z", "eyJ9.eyJ9.AAAA", servers_key.sign(_claims(ns, uid, now))[:-4]):
        r = whoami(srv, garbage)
        assert r.status_code == 401 and r.json()["kind"] == "Status", (garbage[:40], r.text)


def test_a_tenant_mints_tokens_in_her_project_only(srv: ServerProc, ns: str, tmp_path: Path) -> None:
    carol, dave = make_user(srv, tmp_path, "carol"), make_user(srv, tmp_path, "dave")
    project = f"mine-{uuid.uuid4().hex[:8]}"
    try:
        assert carol.http.post(PROJECT_REQUESTS, json={"apiVersion": "project.openshift.io/v1",
                                                       "kind": "ProjectRequest",
                                                       "metadata": {"name": project}}).status_code == 201
        wait_for(lambda: "default" in accounts(srv, project), 30, "the project's default ServiceAccount")
        assert whoami(srv, token_of(carol.http, project, "default")).json()["status"]["userInfo"]["username"] == \
            f"system:serviceaccount:{project}:default"
        r = mint(carol.http, ns, "default")                                       # the admin's namespace
        assert r.status_code == 403 and 'cannot create resource "serviceaccounts/token"' in r.json()["message"]
        for role, code in (("view", 403), ("edit", 201)):
            binding = {"apiVersion": f"{RBAC}/v1", "kind": "RoleBinding", "metadata": {"name": f"dave-{role}"},
                       "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": role},
                       "subjects": [{"kind": "User", "apiGroup": RBAC, "name": "dave"}]}
            assert carol.http.post(f"/apis/{RBAC}/v1/namespaces/{project}/rolebindings",
                                   json=binding).status_code == 201
            wait_for(lambda c=code: mint(dave.http, project, "deployer").status_code == c, 30, f"dave as {role}")
    finally:
        carol.http.close()
        dave.http.close()
        srv.http().delete(f"/apis/project.openshift.io/v1/projects/{project}")


def test_osdn_create_token_and_the_subresources_answers(srv: ServerProc, ns: str) -> None:
    made = srv.cli("create", "token", "deployer", "-n", ns, check=True)
    assert whoami(srv, made.stdout.strip()).json()["status"]["userInfo"]["username"] == \
        f"system:serviceaccount:{ns}:deployer"
    bad = srv.cli("create", "token", "deployer", "-n", ns, "--bound-object-kind=Deployment",
                  "--bound-object-name=d")
    assert bad.returncode != 0 and "supported --bound-object-kind values are Pod, Secret" in bad.stderr
    admin = srv.http()
    assert admin.get(f"{sa_path(ns, 'default')}/token").status_code == 405
    assert mint(admin, ns, "nobody").status_code == 404
    r = mint(admin, ns, "default", boundObjectRef={"kind": "Pod", "apiVersion": "v1", "name": "absent"})
    assert r.status_code == 404
    core = admin.get("/api/v1").json()["resources"]
    assert {"name": "serviceaccounts/token", "singularName": "", "namespaced": True, "group": "authentication.k8s.io",
            "version": "v1", "kind": "TokenRequest", "verbs": ["create"]} in core
    v3 = admin.get("/openapi/v3/api/v1").json()
    assert "post" in v3["paths"]["/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token"]


def test_the_servers_issuer_audiences_and_maximum_are_flags(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--no-controllers", "--service-account-issuer=https://osdn.test",
                          "--api-audiences=osdn", "--api-audiences=other", "--service-account-max-token-expiration=2h")
    try:
        r = mint(server.http(), "default", "default", expirationSeconds=86400)    # bootstrapped: no controller
        assert r.status_code == 201, r.text
        assert (r.json()["spec"]["expirationSeconds"], r.json()["spec"]["audiences"]) == (7200, ["osdn", "other"])
        claims = json.loads(satoken.unb64url(r.json()["status"]["token"].split(".")[1]))
        assert claims["iss"] == "https://osdn.test"
        assert whoami(server, token_of(server.http(), "default", "default", audiences=["other"])).status_code == 201
        assert whoami(server, token_of(server.http(), "default", "default", audiences=["vault"])).status_code == 401
    finally:
        server.stop()


def test_the_python_client_mints_and_uses_a_token(srv: ServerProc, ns: str) -> None:
    from kubernetes import client, config  # the official client, as in test_python_client*.py

    with config.new_client_from_config(str(srv.config)) as api:
        request = client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[],
                                                                                    expiration_seconds=1200))
        answer = client.CoreV1Api(api).create_namespaced_service_account_token("deployer", ns, request)
    assert answer.spec.expiration_seconds == 1200 and answer.status.expiration_timestamp is not None
    assert whoami(srv, answer.status.token).json()["status"]["userInfo"]["username"] == \
        f"system:serviceaccount:{ns}:deployer"


def test_token_review_answers_for_service_account_and_user_tokens(srv: ServerProc, ns: str, tmp_path: Path) -> None:
    def review(http: httpx.Client, token: str, *audiences: str) -> httpx.Response:
        return http.post("/apis/authentication.k8s.io/v1/tokenreviews", json={
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
            "spec": {"token": token, **({"audiences": list(audiences)} if audiences else {})}})

    admin = srv.http()
    status = review(admin, token_of(admin, ns, "builder")).json()["status"]
    assert (status["authenticated"], status["user"]["username"], status["audiences"]) == (
        True, f"system:serviceaccount:{ns}:builder", [DEFAULT_ISSUER])
    vault = token_of(admin, ns, "builder", audiences=["vault"])
    assert review(admin, vault, "vault").json()["status"]["audiences"] == ["vault"]
    assert review(admin, vault).json()["status"]["authenticated"] is False
    assert review(admin, "a.b.c").json()["status"]["authenticated"] is False
    erin = make_user(srv, tmp_path, "erin")
    try:
        assert review(admin, erin.token).json()["status"]["user"]["username"] == "erin"
        r = review(erin.http, vault, "vault")
        assert r.status_code == 403 and 'cannot create resource "tokenreviews"' in r.json()["message"]
        srv.kubectl("create", "clusterrolebinding", "erin-delegator", "--clusterrole=system:auth-delegator",
                    "--user=erin", check=True)
        wait_for(lambda: review(erin.http, vault, "vault").status_code == 201, 30, "erin as auth-delegator")
    finally:
        erin.http.close()
        admin.delete(f"/apis/{RBAC}/v1/clusterrolebindings/erin-delegator")
