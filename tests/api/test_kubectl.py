"""The real kubectl against osdn over TLS, with DATA_DIR/admin.conf as its kubeconfig: server-side
columns for every kind (the same as `osdn get`), explain, client-side apply of the seed objects,
auth can-i/whoami for an admin and a project admin, pagination, watch, diff, label/annotate/create
configmap. Skipped only when kubectl is not installed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from osdn.api.registry import all_kinds, for_object
from osdn.cli.main import cli
from osdn.client.config import write_kubeconfig
from tests.conftest import ServerProc

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
SEEDS = Path(__file__).parent.parent / "fixtures" / "seeds"
Obj = dict[str, Any]


def one_of_each() -> list[Obj]:
    """One object of every kind that a fresh server (with its controllers) does not already hold."""
    meta = {"name": "x1", "namespace": "p1"}
    cmeta = {"name": "x1"}
    return [
        {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": {"containers": [{"name": "c", "image": "i"}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": meta,
         "spec": {"ports": [{"port": 80}], "selector": {"app": "x"}}},
        {"apiVersion": "v1", "kind": "Endpoints", "metadata": meta,
         "subsets": [{"addresses": [{"ip": "10.128.0.5"}], "ports": [{"port": 80}]}]},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"a": "b"}},
        {"apiVersion": "v1", "kind": "ReplicationController", "metadata": meta,
         "spec": {"replicas": 1, "selector": {"app": "x"}, "template": {
             "metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}},
        {"apiVersion": "v1", "kind": "Node", "metadata": cmeta},
        {"apiVersion": "v1", "kind": "Event", "metadata": meta, "reason": "Test", "message": "m",
         "involvedObject": {"kind": "Pod", "name": "x1", "namespace": "p1"}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
         "spec": {"selector": {"matchLabels": {"app": "x"}}, "template": {
             "metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta,
         "spec": {"podSelector": {"matchLabels": {"app": "x"}}}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta,
         "spec": {"rules": [{"host": "x.example.com"}]}},
        {"apiVersion": "route.openshift.io/v1", "kind": "Route", "metadata": meta,
         "spec": {"host": "r.example.com", "to": {"kind": "Service", "name": "x1"}}},
        {"apiVersion": "network.openshift.io/v1", "kind": "HostSubnet", "metadata": cmeta,
         "host": "x1", "hostIP": "192.168.1.10", "subnet": "10.128.2.0/23"},
        {"apiVersion": "network.openshift.io/v1", "kind": "EgressNetworkPolicy", "metadata": {**meta, "name": "default"},
         "spec": {"egress": [{"type": "Deny", "to": {"cidrSelector": "0.0.0.0/0"}}]}},
    ]


@pytest.fixture
def full(server: ServerProc) -> ServerProc:
    """A server holding project p1 and one object of every kind."""
    server.cli("new-project", "p1", check=True)
    with server.http() as api:
        for obj in one_of_each():
            info = next(k for k in all_kinds() if k.kind == obj["kind"])
            r = api.post(info.path(obj["metadata"].get("namespace")), json=obj)
            assert r.status_code == 201 or r.json()["reason"] == "AlreadyExists", r.text  # e.g. made by a controller
    return server


def columns(line: str) -> list[str]:
    return re.split(r"\s{2,}", line.strip())


def rows(text: str) -> list[list[str]]:
    """A table's cells, cut at the header's column starts (a cell may be empty, e.g. an event's TYPE)."""
    lines = text.rstrip("\n").splitlines()
    if not lines:
        return []
    starts = [m.start() for m in re.finditer(r"(?:^|(?<=\s\s))\S", lines[0])]
    bounds = list(zip(starts, [*starts[1:], None], strict=True))
    table = [[line[a:b].strip() for a, b in bounds] for line in lines]
    for row in table:  # trailing empty cells are not printed at all
        while row and not row[-1]:
            row.pop()
    return table


def without_times(table: list[list[str]]) -> list[list[str]]:
    """AGE, SINCE and the SEEN columns may tick between two commands."""
    keep = [i for i, h in enumerate(table[0] if table else []) if h not in ("AGE", "SINCE", "LAST SEEN", "FIRST SEEN")]
    return [[r[i] for i in keep if i < len(r)] for r in table]


def osdn_get(srv: ServerProc, *args: str) -> str:
    """`osdn get ARGS` run in this process (the same click command as `python -m osdn`, whose process
    start tests/cli exercises): this test runs it ~100 times."""
    result = CliRunner().invoke(cli, ["--config", str(srv.config), "get", *args], catch_exceptions=False)
    assert result.exit_code == 0, f"osdn get {' '.join(args)}: {result.output}"
    return result.stdout  # what a pipe gets: "No resources found." goes to stderr, as with kubectl


def test_get_prints_the_osdn_columns_for_every_kind(full: ServerProc) -> None:
    for info in all_kinds():
        for extra in ([], ["-o", "wide"]):
            name = f"{info.plural}.{info.group}" if info.group else info.plural
            scope = ["-A"] if info.namespaced else []
            for _ in range(5):  # the master writes Events (and status) meanwhile: a stable pair decides
                ours = osdn_get(full, name, *scope, *extra)
                theirs = full.kubectl("get", name, *scope, *extra, check=True).stdout
                if without_times(rows(theirs)) == without_times(rows(ours)):
                    break
            assert without_times(rows(theirs)) == without_times(rows(ours)), f"{info.kind}:\n{theirs}\n{ours}"


def test_netnamespace_and_hostsubnet_columns(full: ServerProc) -> None:
    full.cli("patch", "netnamespace", "p1", "--type=merge", "-p", '{"egressIPs": ["192.168.1.100"]}', check=True)
    table = rows(full.kubectl("get", "netnamespaces", check=True).stdout)
    assert table[0] == ["NAME", "NETID", "EGRESS IPS"]
    assert next(r for r in table if r[0] == "p1")[2] == "[192.168.1.100]"
    table = rows(full.kubectl("get", "hostsubnets", check=True).stdout)
    assert table == [["NAME", "HOST", "HOST IP", "SUBNET", "EGRESS CIDRS", "EGRESS IPS"],
                     ["x1", "x1", "192.168.1.10", "10.128.2.0/23"]]


def test_explain_prints_upstream_descriptions(server: ServerProc) -> None:
    out = server.kubectl("explain", "networkpolicy.spec.podSelector", check=True).stdout
    assert "FIELD: podSelector <LabelSelector>" in out
    assert "podSelector selects the pods to which this NetworkPolicy object applies" in out
    assert "matchLabels\t<map[string]string>" in out
    out = server.kubectl("explain", "netnamespaces.netid", check=True).stdout
    assert "netid is the network identifier of the network namespace" in out
    out = server.kubectl("explain", "pods.spec.containers", check=True).stdout
    assert "List of containers belonging to the pod" in out


def test_client_side_apply_of_every_seed_object_validates_and_creates(server: ServerProc) -> None:
    """kubectl maps kinds through discovery, so the OpenShift kinds the seeds write as the legacy
    `apiVersion: v1` (which osdn's own CLI accepts) need their group here, as with oc 4."""
    server.cli("new-project", "p1", check=True)
    for path in sorted(SEEDS.glob("002-*")):
        obj = yaml.safe_load(path.read_text())
        info = for_object(obj)
        obj["apiVersion"] = info.api_version
        verb = "create" if "route-hsts" in path.name else "apply"  # no metadata.name: apply needs one
        r = server.kubectl(verb, "-n", "p1", "-f", "-", input=yaml.safe_dump(obj))
        assert r.returncode == 0, f"{path.name}: {r.stderr}"
        assert r.stdout.startswith(f"{info.singular}.{info.group}/" if info.group else f"{info.singular}/")
    again = server.kubectl("apply", "-n", "p1", "-f", str(SEEDS / "002-networkpolicy-allow-http-and-https.yaml"),
                           check=True)
    assert "unchanged" in again.stdout


def test_client_side_validation_refuses_an_unknown_field(server: ServerProc) -> None:
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: default}\ndatta: {a: b}\n"
    r = server.kubectl("apply", "-f", "-", input=cm)
    assert r.returncode != 0 and 'unknown field "datta"' in r.stderr
    assert server.kubectl("get", "cm", "c", "-n", "default").returncode != 0


def _alice(server: ServerProc, tmp_path: Path) -> Path:
    server.cli("new-project", "p1", check=True)
    token = server.cli("adm", "token", "create", "alice", check=True).stdout.strip().splitlines()[-1]
    server.cli("adm", "policy", "add-role-to-user", "admin", "alice", "-n", "p1", check=True)
    path = tmp_path / "alice.conf"
    write_kubeconfig(path, "osdn", server.url, "alice", token, server.ca_file.read_text())
    return path


def test_auth_can_i_and_whoami_for_admin_and_project_admin(server: ServerProc, tmp_path: Path) -> None:
    alice = _alice(server, tmp_path)
    assert server.kubectl("auth", "can-i", "delete", "nodes").stdout.strip() == "yes"
    who = rows(server.kubectl("auth", "whoami", check=True).stdout)
    assert ["Username", "system:admin"] in who
    assert server.kubectl("auth", "can-i", "create", "pods", "-n", "p1", kubeconfig=alice).stdout.strip() == "yes"
    r = server.kubectl("auth", "can-i", "create", "pods", "-n", "default", kubeconfig=alice)
    assert r.stdout.strip() == "no" and r.returncode == 1
    assert server.kubectl("auth", "can-i", "delete", "netnamespaces", kubeconfig=alice).stdout.strip() == "no"
    assert ["Username", "alice"] in rows(server.kubectl("auth", "whoami", kubeconfig=alice, check=True).stdout)
    listed = server.kubectl("auth", "can-i", "--list", "-n", "p1", kubeconfig=alice, check=True).stdout
    assert re.search(r"^networkpolicies\.networking\.k8s\.io\s.*\[get list watch create update patch delete deletecollection\]",
                     listed, re.M)
    assert server.kubectl("auth", "can-i", "get", "pods", "-n", "p1", "--as", "alice").stdout.strip() == "yes"
    assert server.kubectl("auth", "can-i", "get", "pods", "-n", "default", "--as", "alice").stdout.strip() == "no"
    r = server.kubectl("get", "pods", "-n", "p1", "--as", "system:admin", kubeconfig=alice)
    assert r.returncode != 0 and 'User "alice" cannot impersonate resource "users"' in r.stderr


def test_chunked_list_pages_through_everything(server: ServerProc) -> None:
    for i in range(7):
        server.kubectl("create", "configmap", f"cm{i}", "-n", "default", "--from-literal=k=v", check=True)
    r = server.kubectl("get", "configmaps", "-n", "default", "--chunk-size=2", "-o", "name", "-v=6", check=True)
    assert r.stdout.split() == [f"configmap/cm{i}" for i in range(7)]
    assert len(re.findall(r"GET https://\S+configmaps\?continue=", r.stderr)) == 3


def test_label_annotate_create_configmap_and_diff(server: ServerProc) -> None:
    server.kubectl("create", "configmap", "c1", "-n", "default", "--from-literal=a=1", check=True)
    server.kubectl("label", "configmap", "c1", "-n", "default", "tier=web", check=True)
    server.kubectl("annotate", "configmap", "c1", "-n", "default", "note=hi", check=True)
    cm = json.loads(server.kubectl("get", "cm", "c1", "-n", "default", "-o", "json", check=True).stdout)
    assert cm["metadata"]["labels"] == {"tier": "web"} and cm["metadata"]["annotations"]["note"] == "hi"
    server.kubectl("label", "namespace", "default", "team=blue", check=True)
    assert server.kubectl("get", "ns", "-l", "team=blue", "-o", "name", check=True).stdout.split() == \
        ["namespace/default"]
    changed = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c1, namespace: default}\ndata: {a: '2'}\n"
    r = server.kubectl("diff", "-f", "-", input=changed)
    assert r.returncode == 1 and "-  a: \"1\"" in r.stdout and "+  a: \"2\"" in r.stdout, r.stdout + r.stderr
    assert server.kubectl("get", "cm", "c1", "-n", "default", "-o", "jsonpath={.data.a}").stdout == "1"


def test_watch_prints_created_objects_with_the_server_columns(server: ServerProc) -> None:
    proc = subprocess.Popen(["kubectl", "get", "configmaps", "-n", "default", "--watch", "--request-timeout=20s"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={"KUBECONFIG": str(server.config), "HOME": str(server.data_dir.parent),
                                 "PATH": "/usr/bin:/bin"})
    try:
        time.sleep(1.5)
        server.kubectl("create", "configmap", "watched", "-n", "default", "--from-literal=a=b", check=True)
        assert proc.stdout is not None
        lines = [columns(proc.stdout.readline()) for _ in range(2)]
        assert lines[0] == ["NAME", "DATA", "AGE"] and lines[1][:2] == ["watched", "1"]
    finally:
        proc.kill()
        proc.wait()


def test_admin_conf_is_a_kubeconfig_kubectl_uses_as_is(server: ServerProc) -> None:
    out = server.kubectl("config", "view", "--raw", "-o", "json", check=True).stdout
    cfg = json.loads(out)
    assert cfg["clusters"][0]["cluster"]["server"].startswith("https://127.0.0.1:")
    assert cfg["clusters"][0]["cluster"]["certificate-authority-data"]
    assert server.kubectl("get", "ns", "default", "-o", "name", check=True).stdout.strip() == "namespace/default"
    assert "Server Version: v1.32.0-osdn." in server.kubectl("version", check=True).stdout
