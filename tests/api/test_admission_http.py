"""Admission plugins over real HTTP: each rule, with the message a user sees (CLI stderr / Status)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ServerProc, start_server

MASTER_YAML = """
admissionConfig:
  pluginConfig:
    RunOnceDuration:
      configuration:
        apiVersion: v1
        kind: RunOnceDurationConfig
        activeDeadlineSecondsOverride: 3600
    openshift.io/IngressAdmission:
      configuration:
        apiVersion: v1
        allowHostnameChanges: true
        kind: IngressAdmissionConfig
      location: ""
"""


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    tmp = tmp_path_factory.mktemp("admission")
    (tmp / "master.yaml").write_text(MASTER_YAML)
    s = start_server(tmp, "--network-plugin", "multitenant", "--config", str(tmp / "master.yaml"))
    for p in ("p1", "p2", "p3", "p4"):
        s.cli("new-project", p, check=True)
    try:
        yield s
    finally:
        s.stop()


def create(srv: ServerProc, obj: dict[str, Any], ns: str, config: Path | None = None) -> Any:
    return srv.cli("create", "-n", ns, "-f", "-", "-o", "json", input=json.dumps(obj), config=config)


def pod(name: str, restart: str = "Never", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"restartPolicy": restart, "containers": [{"name": "c", "image": "busybox"}], **spec}}


def wait_netns(srv: ServerProc, *names: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        have = {o["metadata"]["name"] for o in json.loads(srv.cli("get", "netnamespaces", "-o", "json").stdout)["items"]}
        if set(names) <= have:
            return
        time.sleep(0.05)
    raise AssertionError(f"netnamespaces {names} not created")


# ---- RunOnceDuration --------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "restart", "own", "expected"), [
    ("never", "Never", None, 3600),
    ("onfailure", "OnFailure", None, 3600),
    ("always", "Always", None, None),
    ("shorter", "Never", 60, 60),
    ("longer", "Never", 7200, 3600),
], ids=["never", "onfailure", "always-untouched", "shorter-kept", "longer-capped"])
def test_run_once_duration_global(srv: ServerProc, name: str, restart: str, own: int | None,
                                  expected: int | None) -> None:
    spec = {"activeDeadlineSeconds": own} if own else {}
    r = create(srv, pod(name, restart, **spec), "p1")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["spec"].get("activeDeadlineSeconds") == expected


def test_run_once_duration_project_override(srv: ServerProc) -> None:
    srv.cli("annotate", "namespace", "p2", "openshift.io/active-deadline-seconds-override=1000", check=True)
    r = create(srv, pod("job", "OnFailure"), "p2")
    assert json.loads(r.stdout)["spec"]["activeDeadlineSeconds"] == 1000


# ---- egress firewall placement ----------------------------------------------------------------

def enp(name: str) -> dict[str, Any]:
    return {"apiVersion": "network.openshift.io/v1", "kind": "EgressNetworkPolicy", "metadata": {"name": name},
            "spec": {"egress": [{"type": "Deny", "to": {"cidrSelector": "0.0.0.0/0"}}]}}


def test_egress_firewall_one_per_project(srv: ServerProc) -> None:
    assert create(srv, enp("default"), "p3").returncode == 0
    r = create(srv, enp("second"), "p3")
    assert r.returncode == 1
    assert 'a project can have at most one EgressNetworkPolicy: "default" already exists in project "p3"' in r.stderr


def test_egress_firewall_not_in_default_project(srv: ServerProc) -> None:
    r = create(srv, enp("x"), "default")
    assert r.returncode == 1 and 'the "default" project is global' in r.stderr


def test_egress_firewall_not_in_global_or_joined_projects(srv: ServerProc) -> None:
    for p in ("g1", "j1", "j2"):
        srv.cli("new-project", p, check=True)
    wait_netns(srv, "g1", "j1", "j2")
    srv.cli("adm", "pod-network", "make-projects-global", "g1", check=True)
    r = create(srv, enp("x"), "g1")
    assert r.returncode == 1 and 'project "g1" is global' in r.stderr
    srv.cli("adm", "pod-network", "join-projects", "--to=j1", "j2", check=True)
    r = create(srv, enp("x"), "j2")
    assert r.returncode == 1 and 'project "j2" shares its pod network' in r.stderr and "with j1" in r.stderr


def test_joining_or_globalizing_a_project_with_a_policy_is_refused(srv: ServerProc) -> None:
    wait_netns(srv, "p3", "p4")
    r = srv.cli("adm", "pod-network", "join-projects", "--to=p3", "p4")
    assert r.returncode == 1
    assert "cannot join it to \"p3\": project(s) p3 have an EgressNetworkPolicy" in r.stderr
    r = srv.cli("adm", "pod-network", "make-projects-global", "p3")
    assert r.returncode == 1 and "cannot make it global: project(s) p3 have an EgressNetworkPolicy" in r.stderr
    ids = {o["metadata"]["name"]: o["netid"] for o in json.loads(srv.cli("get", "netnamespaces", "-o", "json").stdout)["items"]}
    assert ids["p3"] != ids["p4"] and ids["p3"] != 0


# ---- routes -------------------------------------------------------------------------------------

def route(name: str, host: str, **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Route", "metadata": {"name": name, **meta},
            "spec": {"host": host, "to": {"kind": "Service", "name": "svc"}}}


@pytest.fixture(scope="module")
def user_config(srv: ServerProc, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("user") / "user.conf"
    srv.cli("adm", "token", "create", "user", "--write-config", str(path), check=True)
    srv.cli("new-project", "userproj", config=path, check=True)
    return path


def test_oldest_route_owns_the_host(srv: ServerProc) -> None:
    assert create(srv, route("first", "www.example.com"), "p1").returncode == 0
    r = create(srv, route("second", "www.example.com"), "p2")
    assert r.returncode == 1
    assert 'host "www.example.com" is already claimed by route "first" in project "p1"' in r.stderr
    assert create(srv, route("other-path", "www.example.com") | {"spec": {
        "host": "www.example.com", "path": "/api", "to": {"kind": "Service", "name": "svc"}}}, "p1").returncode == 0


def test_host_change_needs_custom_host_permission(srv: ServerProc, user_config: Path) -> None:
    assert create(srv, route("mine", "mine.example.com"), "userproj", config=user_config).returncode == 0
    patch = ["patch", "route", "mine", "-n", "userproj", "--type=merge", "-p", '{"spec": {"host": "new.example.com"}}']
    r = srv.cli(*patch, config=user_config)
    assert r.returncode == 1
    assert 'cannot update resource "routes/custom-host"' in r.stderr and "changing the host" in r.stderr
    # the seed's two commands, verbatim
    srv.cli("create", "clusterrole", "route-editor", "--verb=update",
            "--resource=routes.route.openshift.io/custom-host", check=True)
    srv.cli("adm", "policy", "add-cluster-role-to-user", "route-editor", "user", check=True)
    r = srv.cli(*patch, config=user_config)
    assert r.returncode == 0, r.stderr


def test_cluster_admin_may_change_host(srv: ServerProc) -> None:
    create(srv, route("adm", "adm.example.com"), "p1")
    r = srv.cli("patch", "route", "adm", "-n", "p1", "--type=merge", "-p", '{"spec": {"host": "adm2.example.com"}}')
    assert r.returncode == 0, r.stderr


def test_hsts_without_tls_is_a_warning(srv: ServerProc) -> None:
    hsts = {"haproxy.router.openshift.io/hsts_header": "max-age=31536000;includeSubDomains;preload"}
    r = create(srv, route("hsts", "hsts.example.com", annotations=hsts), "p1")
    assert r.returncode == 0
    assert "has no effect: HSTS works only on edge or reencrypt routes and this route has no TLS" in r.stderr
    edge = route("hsts-edge", "edge.example.com", annotations=hsts)
    edge["spec"]["tls"] = {"termination": "edge"}
    r = create(srv, edge, "p1")
    assert r.returncode == 0 and "no effect" not in r.stderr


@pytest.mark.parametrize(("name", "value", "warning"), [
    ("quoted", 'max-age="99999"', None), ("spaced", 'max-age  =  "99999"', None),
    ("space", "max-age=31536000; includeSubDomains", None),
    ("unknown", "max-age=1;foo", "is ignored by the router: unknown directive 'foo'"),
    ("no-max-age", "includeSubDomains", "is ignored by the router: max-age=N (or max-age='N') is required"),
], ids=["quoted", "spaced-quoted", "space", "unknown", "no-max-age"])
def test_hsts_values_accepted_as_upstream_with_a_warning_for_ignored_ones(srv: ServerProc, name: str, value: str,
                                                                          warning: str | None) -> None:
    edge = route(f"hsts-{name}", f"{name}.hsts.example.com", annotations={"haproxy.router.openshift.io/hsts_header": value})
    edge["spec"]["tls"] = {"termination": "edge"}
    r = create(srv, edge, "p1")
    assert r.returncode == 0, r.stderr
    assert (warning in r.stderr) if warning else ("ignored" not in r.stderr), r.stderr


# ---- pods: bandwidth and macvlan (validated by the Pod kind; checked here at the API) --------------

@pytest.mark.parametrize(("value", "message"), [
    ("0.5k", "resource is unreasonably small (< 1kbit)"),
    ("2P", "resource is unreasonably large (> 1Pbit)"),
    ("foo", "failed to parse pod bandwidth"),
], ids=["too-small", "too-large", "garbage"])
def test_bandwidth_annotations(srv: ServerProc, value: str, message: str) -> None:
    p = pod("bw", "Always")
    p["metadata"]["annotations"] = {"kubernetes.io/ingress-bandwidth": value}
    r = create(srv, p, "p1")
    assert r.returncode == 1 and message in r.stderr


def test_bandwidth_in_range_accepted(srv: ServerProc) -> None:
    p = pod("bw-ok", "Always")
    p["metadata"]["annotations"] = {"kubernetes.io/ingress-bandwidth": "10M", "kubernetes.io/egress-bandwidth": "1.2k"}
    assert create(srv, p, "p1").returncode == 0


def test_macvlan_needs_privileged(srv: ServerProc) -> None:
    p = pod("egress-1", "Always")
    p["metadata"]["annotations"] = {"pod.network.openshift.io/assign-macvlan": "true"}
    r = create(srv, p, "p1")
    assert r.returncode == 1
    assert 'pod has "pod.network.openshift.io/assign-macvlan" annotation but is not privileged' in r.stderr
    p["metadata"]["name"] = "egress-2"
    p["spec"]["containers"][0]["securityContext"] = {"privileged": True}
    assert create(srv, p, "p1").returncode == 0


# ---- ClusterNetwork ------------------------------------------------------------------------------

def test_plugin_mode_cannot_change(srv: ServerProc) -> None:
    r = srv.cli("patch", "clusternetwork", "default", "--type=merge",
                "-p", '{"pluginName": "redhat/openshift-ovs-networkpolicy"}')
    assert r.returncode == 1
    assert "changing the network plugin of a running cluster is not supported" in r.stderr
    r = srv.cli("patch", "clusternetwork", "default", "--type=merge", "-p", '{"pluginName": "multitenant"}')
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize(("patch", "message"), [
    ({"clusterNetworks": [{"CIDR": "10.128.0.1/14", "hostSubnetLength": 9}]}, "is not in canonical form"),
    ({"serviceNetwork": "10.128.0.0/16"}, "service network overlaps with cluster network cidr"),
    ({"clusterNetworks": [{"CIDR": "10.128.0.0/14", "hostSubnetLength": 30}]}, "subnet length is too large"),
    ({"vxlanPort": 70000}, "vxlanPort"),
], ids=["non-canonical", "overlap", "too-long", "vxlan-port"])
def test_cluster_network_validation(srv: ServerProc, patch: dict[str, Any], message: str) -> None:
    r = srv.cli("patch", "clusternetwork", "default", "--type=merge", "-p", json.dumps(patch))
    assert r.returncode == 1 and message in r.stderr


# ---- project-request template ---------------------------------------------------------------------

SEED_POLICIES = yaml.safe_load("""
- apiVersion: networking.k8s.io/v1
  kind: NetworkPolicy
  metadata:
    name: allow-from-same-namespace
  spec:
    podSelector:
    ingress:
    - from:
      - podSelector: {}
- apiVersion: networking.k8s.io/v1
  kind: NetworkPolicy
  metadata:
    name: allow-from-default-namespace
  spec:
    podSelector:
    ingress:
    - from:
      - namespaceSelector:
          matchLabels:
            name: default
""")


def test_project_request_template_objects_in_every_new_project(srv: ServerProc) -> None:
    template = json.loads(srv.cli("get", "template", "project-request", "-n", "default", "-o", "json", check=True).stdout)
    template["objects"] = SEED_POLICIES
    srv.cli("replace", "-f", "-", input=json.dumps(template), check=True)
    srv.cli("new-project", "fresh", check=True)
    names = srv.cli("get", "networkpolicies", "-n", "fresh", "-o", "name", check=True).stdout.split()
    assert sorted(names) == ["networkpolicy.networking.k8s.io/allow-from-default-namespace",
                             "networkpolicy.networking.k8s.io/allow-from-same-namespace"]
