"""A dry run never writes: every writing command, every dry-run value, against a real server.

The store's resourceVersion (a list's metadata.resourceVersion) moves on every stored write, so a
command that wrote anything is caught whatever it wrote. The master writes too (events, endpoints);
when the resourceVersion moved, every object of every other kind newer than the start is named, and
what a delete would have removed must still be there. The server side is checked too: a `dryRun`
value other than `All` is refused, on plain resources and on projects, and nothing is stored.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from osdn.api.registry import all_kinds
from osdn.cli.main import cli
from tests.conftest import ServerProc, start_server

DRY_MODES = ("client", "server", "impact")
POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "labels": {"app": "web"}},
       "spec": {"containers": [{"name": "c", "image": "busybox", "ports": [{"containerPort": 8080}]}]},
       "status": {"podIP": "10.128.0.31"}}
POLICY = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "np-new"},
          "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}
CONFIGMAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"a": "changed"}}

# Every writing command, written as a user would (FILE is replaced by a manifest path).
COMMANDS: dict[str, list[str]] = {
    "create-f": ["create", "-f", "POLICY", "-n", "dr"],
    "create-configmap": ["create", "configmap", "cm2", "--from-literal=a=b", "-n", "dr"],
    "create-clusterrole": ["create", "clusterrole", "cr2", "--verb=get", "--resource=pods"],
    "create-namespace": ["create", "namespace", "ns2"],
    "create-deployment": ["create", "deployment", "d2", "--image=busybox", "--port=80", "-n", "dr"],
    "create-quota": ["create", "quota", "q2", "--hard=pods=10,count/deployments.apps=2", "-n", "dr"],
    "apply": ["apply", "-f", "CONFIGMAP", "-n", "dr"],
    "apply-new": ["apply", "-f", "POLICY", "-n", "dr"],
    "replace": ["replace", "-f", "CONFIGMAP", "-n", "dr"],
    "replace-force": ["replace", "--force", "-f", "CONFIGMAP", "-n", "dr"],
    "patch": ["patch", "configmap", "cm", "-n", "dr", "--type=merge", "-p", '{"data": {"x": "y"}}'],
    "patch-netnamespace": ["patch", "netnamespace", "dr", "--type=merge", "-p", '{"egressIPs": ["10.0.0.9"]}'],
    "delete": ["delete", "configmap", "cm", "-n", "dr"],
    "delete-project": ["delete", "project", "dr-b"],
    "label-pod": ["label", "pod", "web", "-n", "dr", "tier=front"],
    "label-namespace": ["label", "namespace", "dr", "team=a"],
    "annotate": ["annotate", "configmap", "cm", "-n", "dr", "note=x"],
    "expose": ["expose", "pod", "web", "-n", "dr", "--port=80"],
    "create-route-edge": ["create", "route", "edge", "r-edge", "--service=web", "--hostname=e.example.com", "-n", "dr"],
    "create-route-passthrough": ["create", "route", "passthrough", "--service=web", "-n", "dr"],
    "create-route-reencrypt": ["create", "route", "reencrypt", "r-re", "--service=web", "-n", "dr"],
    "new-project": ["new-project", "dr-new"],
    "pod-network-join": ["adm", "pod-network", "join-projects", "--to=dr", "dr-b"],
    "pod-network-isolate": ["adm", "pod-network", "isolate-projects", "dr-b"],
    "pod-network-global": ["adm", "pod-network", "make-projects-global", "dr-b"],
    "policy-add-role": ["adm", "policy", "add-role-to-user", "admin", "alice", "-n", "dr"],
    "policy-remove-role": ["adm", "policy", "remove-role-from-user", "admin", "bob", "-n", "dr"],
    "policy-add-cluster-role": ["adm", "policy", "add-cluster-role-to-user", "dr-role", "alice"],
    "policy-remove-cluster-role": ["adm", "policy", "remove-cluster-role-from-user", "dr-role", "bob"],
    "edit": ["edit", "configmap", "cm", "-n", "dr"],
}
EDITOR = 'sed -i "s/a: b/a: edited/"'  # what the user "types" in `edit`


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    s = start_server(tmp_path_factory.mktemp("dryrun"), "--network-plugin", "multitenant")
    try:
        for args in (["new-project", "dr"], ["new-project", "dr-b"],
                     ["create", "configmap", "cm", "--from-literal=a=b", "-n", "dr"],
                     ["create", "clusterrole", "dr-role", "--verb=get", "--resource=pods"],
                     ["adm", "policy", "add-role-to-user", "admin", "bob", "-n", "dr"],
                     ["adm", "policy", "add-cluster-role-to-user", "dr-role", "bob"]):
            s.cli(*args, check=True)
        s.cli("create", "-f", "-", "-n", "dr", input=json.dumps(POD), check=True)
        wait_for_netnamespace(s, "dr-b")
        yield s
    finally:
        s.stop()


def wait_for_netnamespace(s: ServerProc, name: str) -> None:
    deadline = time.monotonic() + 15
    with s.http() as http:
        while http.get(f"/apis/network.openshift.io/v1/netnamespaces/{name}").status_code != 200:
            assert time.monotonic() < deadline, f"the master made no NetNamespace for {name}"
            time.sleep(0.1)


def store_rv(s: ServerProc) -> str:
    with s.http() as http:
        return str(http.get("/api/v1/namespaces").json()["metadata"]["resourceVersion"])


MASTER_WRITES = {"Event", "Endpoints", "EndpointSlice", "Lease", "Node"}  # the master's own, at any time
KEPT = ["/api/v1/namespaces/dr/configmaps/cm", "/api/v1/namespaces/dr-b", "/api/v1/namespaces/dr/pods/web"]


def written_since(s: ServerProc, rv: str) -> list[str]:
    """Objects (of kinds the master does not keep writing) stored after `rv`, and deleted fixtures."""
    out: list[str] = []
    with s.http() as http:
        for info in all_kinds():
            r = http.get(info.path()) if info.kind not in MASTER_WRITES else None
            if r is not None and r.status_code == 200:
                out += [f"{info.kind} {o['metadata'].get('namespace', '')}/{o['metadata']['name']}"
                        for o in r.json()["items"] if int(o["metadata"].get("resourceVersion") or 0) > int(rv)]
        out += [f"{path} deleted" for path in KEPT if http.get(path).status_code == 404]
    return out


def assert_nothing_written(s: ServerProc, before: str, what: str) -> None:
    if store_rv(s) != before:  # something was stored: the master's own writes are allowed
        assert written_since(s, before) == [], f"{what} wrote to the store"


def settled_rv(s: ServerProc) -> str:
    """The resourceVersion once the master's own writes (NetIDs, events) have stopped for a moment."""
    rv = store_rv(s)
    for _ in range(50):
        time.sleep(0.3)
        now = store_rv(s)
        if now == rv:
            return rv
        rv = now
    raise AssertionError("the store never settled")


def run(s: ServerProc, args: list[str], tmp_path: Path) -> Result:
    files = {"POLICY": POLICY, "CONFIGMAP": CONFIGMAP}
    real: list[str] = []
    for a in args:
        if a in files:
            path = tmp_path / f"{a.lower()}.json"
            path.write_text(json.dumps(files[a]))
            a = str(path)
        real.append(a)
    return CliRunner(env={"OSDN_EDITOR": EDITOR}).invoke(cli, ["--config", str(s.config), *real],
                                                         catch_exceptions=False)


@pytest.mark.parametrize("mode", DRY_MODES)
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_dry_run_stores_nothing(srv: ServerProc, tmp_path: Path, command: str, mode: str) -> None:
    before = settled_rv(srv)
    result = run(srv, [*COMMANDS[command], f"--dry-run={mode}"], tmp_path)
    assert result.exit_code == 0, result.output
    assert_nothing_written(srv, before, f"{command} --dry-run={mode}:\n{result.output}")
    if mode == "impact":
        assert "connection" in result.output
    if command == "edit":
        assert "configmap/cm edited (" in result.output, result.output


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_unknown_dry_run_value_is_refused_with_the_allowed_values(srv: ServerProc, tmp_path: Path,
                                                                  command: str) -> None:
    before = settled_rv(srv)
    result = run(srv, [*COMMANDS[command], "--dry-run=Impact"], tmp_path)
    assert result.exit_code == 2
    assert all(f"'{m}'" in result.output for m in ("none", "client", "server", "impact")), result.output
    assert_nothing_written(srv, before, f"{command} --dry-run=Impact")


def test_the_same_command_without_a_dry_run_does_write(srv: ServerProc, tmp_path: Path) -> None:
    """The resourceVersion check above can see a write: none (the default) stores the change."""
    before = settled_rv(srv)
    result = run(srv, ["label", "pod", "web", "-n", "dr", "written=yes", "--dry-run=none"], tmp_path)
    assert result.exit_code == 0, result.output
    assert store_rv(srv) != before
    assert "Pod dr/web" in written_since(srv, before)  # and the fallback check names what was written


def test_server_dry_run_reports_like_kubectl_and_client_needs_the_object(srv: ServerProc, tmp_path: Path) -> None:
    out = run(srv, ["label", "pod", "web", "-n", "dr", "tier=x", "--dry-run=server"], tmp_path).output
    assert out.strip() == "pod/web labeled (server dry run)"
    out = run(srv, ["create", "configmap", "c9", "-n", "dr", "--dry-run=client", "--from-literal=k=v"],
              tmp_path).output
    assert out.strip() == "configmap/c9 created (dry run)"
    missing = run(srv, ["patch", "configmap", "nope", "-n", "dr", "-p", "{}", "--dry-run=client"], tmp_path)
    assert missing.exit_code == 1 and "not found" in missing.output


def test_impact_on_a_pod_label_previews_the_policy_it_would_select(srv: ServerProc, tmp_path: Path) -> None:
    """Labels on pods can change reachability: the preview says so, from the server's dry-run answer."""
    result = run(srv, ["label", "pod", "web", "-n", "dr", "app=db", "--overwrite", "--dry-run=impact"], tmp_path)
    assert result.exit_code == 0, result.output
    assert "pod/web labeled (server dry run)" in result.output
    assert "No connection between existing pods would change." in result.output


@pytest.mark.parametrize("method,path,body", [
    ("POST", "/api/v1/namespaces/dr/configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                                   "metadata": {"name": "via-api"}}),
    ("PATCH", "/api/v1/namespaces/dr/configmaps/cm", {"data": {"z": "1"}}),
    ("DELETE", "/api/v1/namespaces/dr/configmaps/cm", None),
    ("POST", "/apis/project.openshift.io/v1/projects", {"apiVersion": "project.openshift.io/v1",
                                                        "kind": "Project", "metadata": {"name": "via-api"}}),
    ("PATCH", "/apis/project.openshift.io/v1/projects/dr",
     {"metadata": {"annotations": {"openshift.io/display-name": "x"}}}),
    ("PUT", "/apis/project.openshift.io/v1/projects/dr", None),
    ("DELETE", "/apis/project.openshift.io/v1/projects/dr-b", None),
], ids=["create", "patch", "delete", "project-create", "project-patch", "project-update", "project-delete"])
@pytest.mark.parametrize("value", ["All", "Impact", "", "true"])
def test_server_refuses_unknown_dry_run_values_and_stores_nothing(srv: ServerProc, method: str, path: str,
                                                                 body: dict | None, value: str) -> None:
    before = settled_rv(srv)
    with srv.http() as http:
        if method == "PUT":
            body = http.get(path).json()
        headers = {"Content-Type": "application/merge-patch+json"} if method == "PATCH" else {}
        r = http.request(method, path, params={"dryRun": value}, headers=headers,
                         content=json.dumps(body).encode() if body is not None else None)
    if value == "All":
        assert r.status_code in (200, 201), r.text
    else:
        assert r.status_code == 400, r.text
        status = r.json()
        assert status["kind"] == "Status" and status["reason"] == "BadRequest"
        assert status["message"] == f'dryRun: Unsupported value: "{value}": supported values: "All"'
    assert_nothing_written(srv, before, f"{method} {path}?dryRun={value}")


@pytest.mark.parametrize("mode", DRY_MODES)
def test_unknown_fields_are_refused_in_every_dry_run(srv: ServerProc, tmp_path: Path, mode: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm-bad"},
                                "dta": {"a": "b"}}))
    result = run(srv, ["create", "-f", str(path), "-n", "dr", f"--dry-run={mode}"], tmp_path)
    assert result.exit_code == 1 and 'unknown field "dta"' in result.output, result.output


@pytest.mark.parametrize("path", ["/apis/project.openshift.io/v1/projects/dr-b", "/api/v1/namespaces/dr-b",
                                  "/api/v1/namespaces/dr/configmaps/cm"])
def test_a_dry_run_in_delete_options_deletes_nothing(srv: ServerProc, path: str) -> None:
    """kubectl sends `delete --dry-run=server` as DeleteOptions{dryRun: [All]} in the body."""
    before = settled_rv(srv)
    body = {"kind": "DeleteOptions", "apiVersion": "v1", "dryRun": ["All"]}
    with srv.http() as http:
        r = http.request("DELETE", path, content=json.dumps(body).encode(),
                         headers={"Content-Type": "application/json"})
        assert r.status_code == 200, r.text
        assert http.get(path).status_code == 200
    assert_nothing_written(srv, before, f"DELETE {path} with dryRun in the body")


def test_impact_of_a_namespace_label_under_networkpolicy(tmp_path: Path) -> None:
    """A label on a namespace can open connections (a policy selects namespaces by label): the
    preview names them, and nothing is stored."""
    s = start_server(tmp_path)
    try:
        for project, ip in (("api", "10.128.0.41"), ("front", "10.128.0.42")):
            s.cli("new-project", project, check=True)
            s.cli("create", "-f", "-", "-n", project, check=True, input=json.dumps(
                {**POD, "metadata": {"name": "web", "labels": {"app": "web"}}, "status": {"podIP": ip}}))
        s.cli("create", "-f", "-", "-n", "api", check=True, input=json.dumps({
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "from-team"},
            "spec": {"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "x"}}}]}]}}))
        before = settled_rv(s)
        result = run(s, ["label", "namespace", "front", "team=x", "--dry-run=impact", "--details"], tmp_path)
        assert result.exit_code == 0, result.output
        assert "namespace/front labeled (server dry run)" in result.output
        assert "front -> api:" in result.output and "OPEN  front/web -> api/web TCP/80" in result.output
        assert store_rv(s) == before
    finally:
        s.stop()
