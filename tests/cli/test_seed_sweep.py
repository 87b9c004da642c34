"""Seed sweep: the command lines of /work/shared/seeds as printed (continuation lines and quotes
included, <placeholders> filled in), run through `osdn` in place of `oc`/`oadm` (`oadm X` is
`oc adm X`) and, where kubectl has the command, through the real kubectl, against a real server.

Objects are checked in test_cli.py (every fixture, created and read back) and test_kubectl.py
(kubectl apply of every fixture); this file checks the commands around them. Out of scope (need a
host, not the API): neutron/openstack port commands, tcpdump, iperf, master-restart."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ServerProc, start_server, wait_for

SEEDS = Path(__file__).parent.parent / "fixtures" / "seeds"
CLIENTS = ["osdn", pytest.param("kubectl", marks=pytest.mark.skipif(shutil.which("kubectl") is None,
                                                                     reason="kubectl is not installed"))]
PLACEHOLDERS = {"<project1>": "sw-a", "<project2>": "sw-b", "<project3>": "sw-c", "<project>": "project1",
                "<project_selector>": "team=blue", "<namespace>": "sw-a", "<project_name>": "sw-a",
                "<node_name>": "node1", "<IP_address>": "192.168.1.100", "<IP_address_1>": "192.168.1.100",
                "<IP_address_2>": "192.168.1.101", "<name>": "default-rules", "<filename>": "saved",
                "<policy-name>": "default-rules", "<policy>": "policy", "<pod_name>": "egress-1",
                "<podname>": "egress-1", "<replication_controller>": "egress-demo-controller",
                "<file_or_dir_path>": "pods", "<port_number>": "8080"}


@pytest.fixture
def srv(tmp_path: Path) -> Iterator[ServerProc]:
    (tmp_path / "srv").mkdir()
    s = start_server(tmp_path / "srv", "--network-plugin", "multitenant")
    try:
        yield s
    finally:
        s.stop()


def seed(srv: ServerProc, client: str, line: str, cwd: Path, ok: bool = True) -> subprocess.CompletedProcess[str]:
    """Run one seed command line as printed, `oc`/`oadm` replaced by `client`, in directory `cwd`."""
    for key, value in PLACEHOLDERS.items():
        line = line.replace(key, value)
    prog, *args = shlex.split(line.replace("\\\n", " "))   # a backslash-newline continues the line
    assert prog in ("oc", "oadm"), line
    args = ["adm", *args] if prog == "oadm" else args
    if client == "osdn":
        cmd, env = [sys.executable, "-m", "osdn", "--config", str(srv.config), *args], dict(os.environ)
    else:
        cmd = ["kubectl", *args]
        env = {**os.environ, "KUBECONFIG": str(srv.config), "HOME": str(srv.data_dir.parent)}
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=60)
    if ok:
        assert r.returncode == 0, f"{line}\n{r.stdout}\n{r.stderr}"
    return r


def new_projects(srv: ServerProc, *names: str) -> None:
    """Projects, and their NetNamespaces (the master makes them shortly after)."""
    for name in names:
        srv.cli("new-project", name, check=True)
    wait_for(lambda: all(srv.cli("get", "netnamespace", n).returncode == 0 for n in names), timeout=60,
             what=f"NetNamespaces {names}")


def use_project(srv: ServerProc, client: str, project: str) -> None:
    """"Navigate to the project you want to affect": `oc project P` (kubectl: the context's namespace)."""
    if client == "osdn":
        srv.cli("project", project, check=True)
    else:
        srv.kubectl("config", "set-context", "--current", f"--namespace={project}", check=True)


def netids(srv: ServerProc, client: str, cwd: Path) -> dict[str, str]:
    rows = seed(srv, client, "oc get netnamespaces", cwd).stdout.splitlines()
    assert rows[0].split() == ["NAME", "NETID", "EGRESS", "IPS"]
    return {row.split()[0]: row.split()[1] for row in rows[1:]}


def test_pod_network_commands(srv: ServerProc, tmp_path: Path) -> None:
    """Seeds 000-003: join, isolate, make global, by names and by --selector (kubectl has no `adm`)."""
    new_projects(srv, "sw-a", "sw-b", "sw-c")
    for adm in ("oc adm", "oadm"):
        r = seed(srv, "osdn", f"{adm} pod-network join-projects --to=<project1> <project2> <project3>", tmp_path)
        assert r.stdout.splitlines()[0].startswith('project "sw-b" joined to "sw-a" (netid ')
        ids = netids(srv, "osdn", tmp_path)
        assert ids["sw-a"] == ids["sw-b"] == ids["sw-c"] != "0"
        seed(srv, "osdn", f"{adm} pod-network isolate-projects <project1> <project2>", tmp_path)
        ids = netids(srv, "osdn", tmp_path)
        assert len({ids["sw-a"], ids["sw-b"], ids["sw-c"]}) == 3 and "0" not in (ids["sw-a"], ids["sw-b"])
        seed(srv, "osdn", f"{adm} pod-network make-projects-global <project1> <project2>", tmp_path)
        ids = netids(srv, "osdn", tmp_path)
        assert ids["sw-a"] == ids["sw-b"] == "0" != ids["sw-c"]
        seed(srv, "osdn", f"{adm} pod-network isolate-projects <project1> <project2>", tmp_path)
    srv.cli("label", "namespace", "sw-b", "sw-c", "team=blue", check=True)
    seed(srv, "osdn", "oc adm pod-network join-projects --to=<project1> --selector=<project_selector>", tmp_path)
    ids = netids(srv, "osdn", tmp_path)
    assert ids["sw-a"] == ids["sw-b"] == ids["sw-c"] != "0"
    seed(srv, "osdn", "oc adm pod-network isolate-projects --selector=<project_selector>", tmp_path)
    ids = netids(srv, "osdn", tmp_path)
    assert len({ids["sw-a"], ids["sw-b"], ids["sw-c"]}) == 3
    seed(srv, "osdn", "oc adm pod-network make-projects-global --selector=<project_selector>", tmp_path)
    ids = netids(srv, "kubectl" if shutil.which("kubectl") else "osdn", tmp_path)
    assert ids["sw-b"] == ids["sw-c"] == "0" != ids["sw-a"]


@pytest.mark.parametrize("client", CLIENTS)
def test_egress_firewall_commands(srv: ServerProc, client: str, tmp_path: Path) -> None:
    """Seeds 000-003: create (002's JSON, legacy apiVersion v1 for osdn; 003's default-rules), get,
    save as YAML, replace, delete."""
    new_projects(srv, "project1", "sw-b")
    rules = {"apiVersion": "network.openshift.io/v1", "kind": "EgressNetworkPolicy",
             "metadata": {"name": "default-rules"}, "spec": {"egress": [
                 {"type": "Allow", "to": {"cidrSelector": "1.2.3.0/24"}},
                 {"type": "Allow", "to": {"dnsName": "www.foo.com"}},
                 {"type": "Deny", "to": {"cidrSelector": "0.0.0.0/0"}}]}}
    (tmp_path / "default-rules.yaml").write_text(yaml.safe_dump(rules))
    policy = json.loads((SEEDS / "002-egressnetworkpolicy-default.json").read_text())
    if client == "kubectl":   # kubectl maps kinds by discovery: the group version (docs/kubectl.md)
        policy["apiVersion"] = "network.openshift.io/v1"
    (tmp_path / "policy.json").write_text(json.dumps(policy, indent=4))
    use_project(srv, client, "sw-b")
    r = seed(srv, client, "oc create -f <policy>.json", tmp_path)
    assert r.stdout == "egressnetworkpolicy.network.openshift.io/default created\n"
    r = seed(srv, client, "oc create -f default-rules.yaml -n project1", tmp_path)
    assert r.stdout == "egressnetworkpolicy.network.openshift.io/default-rules created\n"
    table = seed(srv, client, "oc get -n <project> egressnetworkpolicy", tmp_path).stdout.splitlines()
    assert table[0].split()[:2] == ["NAME", "RULES"] and table[1].split()[:2] == ["default-rules", "3"]
    saved = seed(srv, client, "oc get -n <project> \\\n  egressnetworkpolicy <name> \\\n  -o yaml", tmp_path)
    (tmp_path / "saved.yaml").write_text(saved.stdout.replace("1.2.3.0/24", "1.2.4.0/24"))
    r = seed(srv, client, "oc replace -f <filename>.yaml", tmp_path)
    assert r.stdout == "egressnetworkpolicy.network.openshift.io/default-rules replaced\n"
    got = json.loads(srv.cli("get", "egressnetworkpolicy", "default-rules", "-n", "project1", "-o", "json",
                             check=True).stdout)
    assert got["spec"]["egress"][0]["to"] == {"cidrSelector": "1.2.4.0/24"}
    r = seed(srv, client, "oc delete -n <project> egressnetworkpolicy <name>", tmp_path)
    assert "default-rules" in r.stdout and "deleted" in r.stdout
    gone = seed(srv, client, "oc get -n <project> egressnetworkpolicy <name>", tmp_path, ok=False)
    assert gone.returncode == 1 and "NotFound" in gone.stderr


def make_hostsubnet(srv: ServerProc, name: str, ip: str, subnet: str) -> None:
    srv.cli("create", "-f", "-", check=True, input=json.dumps({
        "apiVersion": "network.openshift.io/v1", "kind": "HostSubnet", "metadata": {"name": name},
        "host": name, "hostIP": ip, "subnet": subnet}))


def field(srv: ServerProc, kind: str, name: str, key: str) -> Any:
    return json.loads(srv.cli("get", kind, name, "-o", "json", check=True).stdout).get(key)


@pytest.mark.parametrize("client", CLIENTS)
def test_egress_ip_commands(srv: ServerProc, client: str, tmp_path: Path) -> None:
    """Seed 002 patches without --type (OpenShift 3's built-in types), seed 003 with --type=merge;
    the automatic mode, then the manual one."""
    new_projects(srv, "sw-a", "project1", "project2")
    make_hostsubnet(srv, "node1", "192.168.1.10", "10.128.2.0/23")
    make_hostsubnet(srv, "node2", "192.168.1.11", "10.128.4.0/23")
    r = seed(srv, client, """oc patch netnamespace <project_name> -p '{"egressIPs": ["<IP_address>"]}'""", tmp_path)
    assert r.stdout == "netnamespace.network.openshift.io/sw-a patched\n"
    assert field(srv, "netnamespace", "sw-a", "egressIPs") == ["192.168.1.100"]
    seed(srv, client, """oc patch hostsubnet <node_name> -p \\
      '{"egressIPs": ["<IP_address_1>", "<IP_address_2>"]}'""", tmp_path)
    assert field(srv, "hostsubnet", "node1", "egressIPs") == ["192.168.1.100", "192.168.1.101"]
    seed(srv, client, """oc patch hostsubnet node1 -p \\
      '{"egressIPs": ["192.168.1.100", "192.168.1.101", "192.168.1.102"]}'""", tmp_path)
    assert field(srv, "hostsubnet", "node1", "egressIPs") == ["192.168.1.100", "192.168.1.101", "192.168.1.102"]
    srv.cli("patch", "hostsubnet", "node1", "--type=merge", "-p", '{"egressIPs": null}', check=True)
    srv.cli("patch", "netnamespace", "sw-a", "--type=merge", "-p", '{"egressIPs": null}', check=True)  # seed 003 anew
    for project, ip in (("project1", "192.168.1.100"), ("project2", "192.168.1.101")):
        seed(srv, client, f"""oc patch netnamespace {project} --type=merge -p \\
  '{{"egressIPs": ["{ip}"]}}'""", tmp_path)
        assert field(srv, "netnamespace", project, "egressIPs") == [ip]
    for node in ("node1", "node2"):
        seed(srv, client, f"""oc patch hostsubnet {node} --type=merge -p \\
  '{{"egressCIDRs": ["192.168.1.0/24"]}}'""", tmp_path)
        assert field(srv, "hostsubnet", node, "egressCIDRs") == ["192.168.1.0/24"]
    for node in ("node1", "node2"):   # back to manual: a node has egressCIDRs or egressIPs, not both
        srv.cli("patch", "hostsubnet", node, "--type=merge", "-p", '{"egressCIDRs": null, "egressIPs": null}',
                check=True)
    seed(srv, client, """oc patch netnamespace project1 --type=merge \\
  -p '{"egressIPs": ["192.168.1.100"]}'""", tmp_path)
    seed(srv, client, """oc patch hostsubnet node1 --type=merge -p \\
  '{"egressIPs": ["192.168.1.100", "192.168.1.101", "192.168.1.102"]}'""", tmp_path)
    assert field(srv, "hostsubnet", "node1", "egressIPs") == ["192.168.1.100", "192.168.1.101", "192.168.1.102"]


@pytest.mark.parametrize("client", CLIENTS)
def test_multicast_and_default_label_commands(srv: ServerProc, client: str, tmp_path: Path) -> None:
    """Seeds 000-003: the multicast annotation on and off; seed 002 labels `default` twice ("if you
    labeled the default project ... in a previous procedure"): the second time changes nothing."""
    new_projects(srv, "sw-a")
    key = "netnamespace.network.openshift.io/multicast-enabled"
    r = seed(srv, client, f"oc annotate netnamespace <namespace> \\\n    {key}=true", tmp_path)
    assert r.stdout == "netnamespace.network.openshift.io/sw-a annotated\n"
    assert (field(srv, "netnamespace", "sw-a", "metadata") or {})["annotations"][key] == "true"
    seed(srv, client, f"oc annotate netnamespace <namespace> \\\n    {key}-", tmp_path)
    assert key not in ((field(srv, "netnamespace", "sw-a", "metadata") or {}).get("annotations") or {})
    assert seed(srv, client, "oc label namespace default name=default", tmp_path).stdout == \
        "namespace/default labeled\n"
    assert seed(srv, client, "oc label namespace default name=default", tmp_path).stdout == \
        "namespace/default not labeled\n"


@pytest.mark.parametrize("client", CLIENTS)
def test_route_editor_clusterrole(srv: ServerProc, client: str, tmp_path: Path) -> None:
    r = seed(srv, client, "oc create clusterrole route-editor --verb=update "
                          "--resource=routes.route.openshift.io/custom-host", tmp_path)
    assert r.stdout == "clusterrole.rbac.authorization.k8s.io/route-editor created\n"
    assert field(srv, "clusterrole", "route-editor", "rules") == [
        {"apiGroups": ["route.openshift.io"], "resources": ["routes/custom-host"], "verbs": ["update"]}]
    if client == "osdn":   # kubectl has no `adm policy`
        r = seed(srv, client, "oc adm policy add-cluster-role-to-user route-editor user", tmp_path)
        assert r.stdout == 'clusterrole.rbac.authorization.k8s.io/route-editor added: "user"\n'   # as oc
        subjects = field(srv, "clusterrolebinding", "route-editor", "subjects")
        assert [s["name"] for s in subjects] == ["user"]


@pytest.mark.parametrize("client", CLIENTS)
def test_egress_router_commands(srv: ServerProc, client: str, tmp_path: Path) -> None:
    """Seeds 000-002: the pod and RC files are YAML saved under a .json name, as the seeds print them;
    get pod (and -o wide), describe rc, the ConfigMap of destinations; seed 001's create -f DIR."""
    srv.cli("new-project", "sw-a", check=True)
    use_project(srv, client, "sw-a")
    (tmp_path / "egress-1.json").write_text((SEEDS / "002-pod-egress-1-redirect.yaml").read_text())
    (tmp_path / "egress-demo-controller.json").write_text(
        (SEEDS / "002-replicationcontroller-egress-demo-controller.yaml").read_text())
    assert seed(srv, client, "oc create -f <pod_name>.json", tmp_path).stdout == "pod/egress-1 created\n"
    rows = seed(srv, client, "oc get pod <pod_name>", tmp_path).stdout.splitlines()
    assert rows[0].split()[:2] == ["NAME", "READY"] and rows[1].split()[0] == "egress-1"
    wide = seed(srv, client, "oc get pod <podname> -o wide", tmp_path).stdout.splitlines()
    assert wide[0].split()[5:7] == ["IP", "NODE"] and wide[1].split()[0] == "egress-1"
    assert seed(srv, client, "oc create -f <replication_controller>.json", tmp_path).stdout == \
        "replicationcontroller/egress-demo-controller created\n"
    described = seed(srv, client, "oc describe rc <replication_controller>", tmp_path).stdout
    assert described.startswith("Name:") and "egress-demo-controller" in described and "springfield-1" in described
    (tmp_path / "my-egress-destination.txt").write_text(
        '# Egress routes for Project "Test", version 3\n\n80   tcp 203.0.113.25\n\n'
        "8080 tcp 203.0.113.26 80\n8443 tcp 203.0.113.26 443\n\n# Fallback\n203.0.113.27\n")
    for _ in range(2):
        seed(srv, client, "oc delete configmap egress-routes --ignore-not-found", tmp_path)
        r = seed(srv, client, "oc create configmap egress-routes \\\n  --from-file=destination=my-egress-destination.txt",
                 tmp_path)
        assert r.stdout == "configmap/egress-routes created\n"
    cm = json.loads(srv.cli("get", "configmap", "egress-routes", "-n", "sw-a", "-o", "json", check=True).stdout)
    assert cm["data"]["destination"] == (tmp_path / "my-egress-destination.txt").read_text()
    (tmp_path / "pods").mkdir()
    (tmp_path / "pods" / "iperf-slow.json").write_text(json.dumps({
        "kind": "Pod", "spec": {"containers": [{"image": "nginx", "name": "nginx"}]}, "apiVersion": "v1",
        "metadata": {"name": "iperf-slow", "annotations": {"kubernetes.io/ingress-bandwidth": "10M",
                                                            "kubernetes.io/egress-bandwidth": "10M"}}}, indent=4))
    assert seed(srv, client, "oc create -f <file_or_dir_path>", tmp_path).stdout == "pod/iperf-slow created\n"


def _editor(tmp_path: Path, code: str) -> dict[str, str]:
    """An $EDITOR that loads the YAML it is given, runs `code` on it as `obj`, and saves it."""
    script = tmp_path / "editor.py"
    script.write_text("import sys, yaml\np = sys.argv[1]\n"
                      "obj = yaml.safe_load(''.join(l for l in open(p) if not l.startswith('#')))\n"
                      f"{code}\nopen(p, 'w').write(yaml.safe_dump(obj))\n")
    return {"EDITOR": f"{sys.executable} {script}", "KUBE_EDITOR": f"{sys.executable} {script}"}


@pytest.mark.parametrize("client", CLIENTS)
def test_edit_commands(srv: ServerProc, client: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Seed 002: `oc edit template project-request -n default` adds the two NetworkPolicies, which a
    new project then gets; seed 003: `oc edit network.operator.openshift.io cluster` (kubeProxyConfig),
    then `oc get networks.operator.openshift.io -o yaml` and `oc get clusteroperator network`."""
    policies = [yaml.safe_load((SEEDS / f"002-template-networkpolicy-{n}.yaml").read_text())
                for n in ("allow-from-same-namespace", "allow-from-default-namespace")]
    for key, value in _editor(tmp_path, f"obj['objects'] += {policies!r}").items():
        monkeypatch.setenv(key, value)
    r = seed(srv, client, "oc edit template project-request -n default", tmp_path)
    assert r.stdout == "template.template.openshift.io/project-request edited\n"
    srv.cli("new-project", "sw-fresh", check=True)
    names = srv.cli("get", "networkpolicies", "-n", "sw-fresh", "-o", "name", check=True).stdout.split()
    assert sorted(names) == ["networkpolicy.networking.k8s.io/allow-from-default-namespace",
                             "networkpolicy.networking.k8s.io/allow-from-same-namespace"]
    proxy = {"iptablesSyncPeriod": "30s", "proxyArguments": {"iptables-min-sync-period": ["30s"]}}
    for key, value in _editor(tmp_path, f"obj['spec']['kubeProxyConfig'] = {proxy!r}").items():
        monkeypatch.setenv(key, value)
    r = seed(srv, client, "oc edit network.operator.openshift.io cluster", tmp_path)
    assert r.stdout == "network.operator.openshift.io/cluster edited\n"
    got = yaml.safe_load(seed(srv, client, "oc get networks.operator.openshift.io -o yaml", tmp_path).stdout)
    assert got["items"][0]["spec"]["kubeProxyConfig"] == proxy
    wait_for(lambda: srv.cli("get", "clusteroperator", "network").returncode == 0, timeout=60,
             what="ClusterOperator network (the master writes it)")
    rows = seed(srv, client, "oc get clusteroperator network", tmp_path).stdout.splitlines()
    assert rows[0].split() == ["NAME", "VERSION", "AVAILABLE", "PROGRESSING", "DEGRADED", "SINCE"]
    assert rows[1].split()[0] == "network"


@pytest.mark.parametrize("client", CLIENTS)
def test_expose_egress_router_cni_deployment(srv: ServerProc, client: str, tmp_path: Path) -> None:
    """Seed 004: the Deployment the EgressRouter makes, exposed as the seed says."""
    srv.cli("new-project", "sw-a", check=True)
    use_project(srv, client, "sw-a")
    srv.cli("create", "-n", "sw-a", "-f", "-", check=True, input=json.dumps({
        "apiVersion": "network.operator.openshift.io/v1", "kind": "EgressRouter",
        "metadata": {"name": "egress-router-cni"},
        "spec": {"addresses": [{"ip": "192.168.12.99/24", "gateway": "192.168.12.1"}], "mode": "Redirect",
                 "redirect": {"redirectRules": [{"destinationIP": "203.0.113.26", "port": 8080, "targetPort": 80,
                                                 "protocol": "TCP"}]}}}))
    wait_for(lambda: srv.cli("get", "deployment", "egress-router-cni-deployment", "-n", "sw-a").returncode == 0,
             timeout=60, what="the EgressRouter's Deployment")
    r = seed(srv, client, "oc expose deployment/egress-router-cni-deployment --port <port_number>", tmp_path)
    assert r.stdout == "service/egress-router-cni-deployment exposed\n"
    svc = json.loads(srv.cli("get", "svc", "egress-router-cni-deployment", "-n", "sw-a", "-o", "json",
                             check=True).stdout)
    assert svc["spec"]["selector"] == {"app": "egress-router-cni"} and svc["spec"]["ports"][0]["port"] == 8080
