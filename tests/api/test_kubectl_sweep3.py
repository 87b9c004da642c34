"""Everyday kubectl commands found wrong in the third sweep of real kubectl against osdn, each checked
as kube-apiserver answers it: a watch from before the watch window (200 + ERROR 410 Expired),
`deletecollection` in discovery, `kubectl replace` of a Service manifest without its clusterIP, the
pods' -o wide columns. Skipped only when kubectl is not installed."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import ServerProc, module_server

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")

srv = module_server("kubectl-sweep3")

SERVICE = """\
apiVersion: v1
kind: Service
metadata: {name: web, namespace: NS}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080, name: http}]
"""


def ok(server: ServerProc, *args: str, stdin: str | None = None) -> str:
    return server.kubectl(*args, input=stdin, check=True).stdout


@pytest.fixture
def ns(srv: ServerProc, request: pytest.FixtureRequest) -> str:
    name = request.node.name.replace("_", "-")[:40].rstrip("-").lower()
    ok(srv, "create", "namespace", name)
    request.addfinalizer(lambda: srv.kubectl("delete", "namespace", name, "--wait=false"))
    return name


def test_watch_from_before_the_window_is_an_error_event_410(srv: ServerProc, ns: str) -> None:
    ok(srv, "create", "configmap", "c", "--from-literal=a=b", "-n", ns)
    out = ok(srv, "get", "--raw", f"/api/v1/namespaces/{ns}/configmaps?watch=1&resourceVersion=1")
    events = [json.loads(line) for line in out.splitlines() if line]
    assert [e["type"] for e in events] == ["ERROR"]
    status = events[0]["object"]
    assert (status["kind"], status["code"], status["reason"]) == ("Status", 410, "Expired")
    assert status["message"].startswith("too old resource version: 1 (")
    rv = json.loads(ok(srv, "get", "configmap", "c", "-n", ns, "-o", "json"))["metadata"]["resourceVersion"]
    ok(srv, "label", "configmap", "c", "-n", ns, "x=1")          # a recent rv still replays
    out = ok(srv, "get", "--raw", f"/api/v1/namespaces/{ns}/configmaps?watch=1&resourceVersion={rv}&timeoutSeconds=1")
    assert [(e["type"], e["object"]["metadata"]["labels"]) for e in map(json.loads, out.splitlines())] == \
        [("MODIFIED", {"x": "1"})]


def test_api_resources_offer_deletecollection(srv: ServerProc) -> None:
    names = ok(srv, "api-resources", "--verbs=deletecollection", "-o", "name").split()
    assert {"configmaps", "pods", "deployments.apps", "networkpolicies.networking.k8s.io",
            "netnamespaces.network.openshift.io", "roles.rbac.authorization.k8s.io"} <= set(names)
    assert "namespaces" not in names and "projects.project.openshift.io" not in names
    wide = ok(srv, "api-resources", "-o", "wide", "--api-group=apps").splitlines()
    assert "create,delete,deletecollection,get,list,patch,update,watch" in wide[1]


def test_replace_of_a_service_without_its_cluster_ip_keeps_the_address(srv: ServerProc, ns: str) -> None:
    manifest = SERVICE.replace("NS", ns)
    ok(srv, "apply", "-f", "-", stdin=manifest)
    before = json.loads(ok(srv, "get", "service", "web", "-n", ns, "-o", "json"))["spec"]
    assert ok(srv, "replace", "-f", "-", stdin=manifest) == "service/web replaced\n"
    after = json.loads(ok(srv, "get", "service", "web", "-n", ns, "-o", "json"))["spec"]
    assert after == before and after["clusterIPs"] == [before["clusterIP"]]
    changed = manifest.replace("spec:\n", "spec:\n  clusterIP: 172.30.9.9\n")
    refused = srv.kubectl("replace", "-f", "-", input=changed)
    assert refused.returncode == 1 and "spec.clusterIP: Invalid value: \"172.30.9.9\": field is immutable" in \
        refused.stderr


def test_pods_wide_columns_are_kubes(srv: ServerProc, ns: str) -> None:
    ok(srv, "run", "p", "--image=busybox", "-n", ns)
    header, row = ok(srv, "get", "pods", "-n", ns, "-o", "wide").splitlines()
    assert re.split(r"\s{2,}", header.strip()) == \
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE", "READINESS GATES"]
    assert row.split()[-4:] == ["<none>", "<none>", "<none>", "<none>"]


def test_service_accounts_are_served(srv: ServerProc, ns: str) -> None:
    assert ok(srv, "create", "serviceaccount", "bot", "-n", ns) == "serviceaccount/bot created\n"  # protobuf body
    ok(srv, "patch", "sa", "bot", "-n", ns, "-p", '{"secrets":[{"name":"s1"}],"imagePullSecrets":[{"name":"p1"}]}')
    ok(srv, "patch", "sa", "bot", "-n", ns, "-p", '{"secrets":[{"name":"s2"}],"imagePullSecrets":[{"name":"p2"}]}')
    sa = json.loads(ok(srv, "get", "sa", "bot", "-n", ns, "-o", "json"))
    assert (sa["secrets"], sa["imagePullSecrets"]) == ([{"name": "s2"}, {"name": "s1"}], [{"name": "p2"}])
    header, row = ok(srv, "get", "serviceaccounts", "bot", "-n", ns).splitlines()
    assert header.split() == ["NAME", "SECRETS", "AGE"] and row.split()[:2] == ["bot", "2"]
    assert "Image pull secrets:  p2" in ok(srv, "describe", "sa", "bot", "-n", ns)
    assert "FIELD: automountServiceAccountToken <boolean>" in ok(srv, "explain", "sa.automountServiceAccountToken")
    bad = srv.kubectl("apply", "-f", "-", input=f"apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: x, "
                                                 f"namespace: {ns}}}\nautomount: false\n")
    assert bad.returncode == 1 and 'strict decoding error: unknown field "automount"' in bad.stderr
    assert ok(srv, "create", "token", "bot", "-n", ns).count(".") == 2     # a JWT (tests/api/test_serviceaccount_tokens.py)
    assert ok(srv, "delete", "sa", "bot", "-n", ns) == 'serviceaccount "bot" deleted\n'


def test_generation_only_where_kube_keeps_one(srv: ServerProc, ns: str) -> None:
    ok(srv, "create", "configmap", "c", "--from-literal=a=b", "-n", ns)
    ok(srv, "create", "secret", "generic", "s", "--from-literal=a=b", "-n", ns)
    ok(srv, "create", "service", "clusterip", "s", "--tcp=80:8080", "-n", ns)
    ok(srv, "create", "deployment", "d", "--image=nginx", "-n", ns)
    ok(srv, "label", "configmap", "c", "x=1", "-n", ns)
    metas = {o["kind"]: o["metadata"] for o in json.loads(ok(srv, "get", "cm,secret,svc,deploy,ns", "-n", ns,
                                                                "-o", "json"))["items"]}
    assert [k for k, meta in sorted(metas.items()) if "generation" in meta] == ["Deployment"]
    assert "generation" not in json.loads(ok(srv, "get", "namespace", ns, "-o", "json"))["metadata"]
    changed = ok(srv, "create", "configmap", "c", "--from-literal=a=z", "-n", ns, "--dry-run=client", "-o", "yaml")
    diff = srv.kubectl("diff", "-f", "-", input=changed)
    assert diff.returncode == 1 and "-  a: b\n+  a: z" in diff.stdout
    assert not [line for line in diff.stdout.splitlines() if line[1:].strip().startswith("generation:")]


def test_explain_names_int_or_string_and_quantity(srv: ServerProc) -> None:
    port = ok(srv, "explain", "networkpolicy.spec.ingress.ports.port")
    assert "FIELD: port <IntOrString>" in port and "IntOrString is a type that can hold an int32 or a string." in \
        " ".join(port.split())
    assert "FIELD: hard <map[string]Quantity>" in ok(srv, "explain", "resourcequota.spec.hard")
    assert "maxSurge\t<IntOrString>" in ok(srv, "explain", "deployment.spec.strategy", "--recursive")


def test_can_i_list_shows_what_every_user_holds(srv: ServerProc, tmp_path: Path) -> None:
    conf = tmp_path / "nobody.conf"
    srv.cli("adm", "token", "create", "nobody", "--write-config", str(conf), check=True)
    rows = [re.split(r"\s{2,}", line.strip()) for line in
            srv.kubectl("auth", "can-i", "--list", kubeconfig=conf, check=True).stdout.splitlines()[1:]]
    assert ["selfsubjectaccessreviews.authorization.k8s.io", "[]", "[]", "[create]"] in rows
    assert ["[/apis]", "[]", "[get]"] in rows and ["[/version]", "[]", "[get]"] in rows
    assert not [r for r in rows if "/metrics" in r[0] or r[0].startswith(("pods", "configmaps"))]
    assert srv.kubectl("auth", "can-i", "get", "/metrics", kubeconfig=conf).stdout.strip() == "no"
