"""Security context constraints over HTTP with real clients: a project admin cannot reach past her
pods' sandboxes (host network, host ports, privileged containers) directly, through a Deployment's
template, or by editing the template of an admin's privileged ReplicationController (the seeds'
egress router); scaling it stays hers. `osdn adm policy add-scc-to-user` grants an SCC to a user
or (-z) to a service account, which then admits the pods that run as it; binding the SCC's role
herself is an escalation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerProc, module_server

NS = "tenant"


def pod(name: str, sa: str | None = None, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "i"}], **({"serviceAccountName": sa} if sa else {}),
                     **spec}}


PRIVILEGED = [{"name": "c", "image": "i", "securityContext": {"privileged": True}}]


def rc(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"name": name},
                     "template": {"metadata": {"labels": {"name": name}}, "spec": {"containers": PRIVILEGED}}}}


server = module_server("scc")


@pytest.fixture(scope="module")
def alice(server: ServerProc, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("alice") / "alice.conf"
    server.cli("adm", "token", "create", "alice", "--write-config", str(path), check=True)
    server.cli("new-project", NS, config=path, check=True)
    return path


def apply(server: ServerProc, obj: dict[str, Any], kubeconfig: Path | None = None) -> Any:
    return server.kubectl("apply", "-n", NS, "-f", "-", kubeconfig=kubeconfig, input=json.dumps(obj))


def test_a_tenant_cannot_reach_past_the_sandbox(server: ServerProc, alice: Path) -> None:
    r = apply(server, pod("hostnet", hostNetwork=True), alice)
    assert r.returncode == 1
    assert ('pods "hostnet" is forbidden: unable to validate against any security context constraint: '
            "[spec.securityContext.hostNetwork: Invalid value: true: Host network is not allowed to be used]") \
        in r.stderr
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
              "spec": {"replicas": 1, "selector": {"matchLabels": {"a": "d"}},
                       "template": {"metadata": {"labels": {"a": "d"}}, "spec": {"containers": PRIVILEGED}}}}
    r = apply(server, deploy, alice)
    assert r.returncode == 1
    assert ('deployments.apps "d" is forbidden: unable to validate against any security context constraint: '
            "[spec.template.spec.containers[0].securityContext.privileged: Invalid value: true: Privileged "
            "containers are not allowed]") in r.stderr
    assert server.kubectl("get", "deploy,pods", "-n", NS, "-o", "name", check=True).stdout == ""
    assert apply(server, pod("plain"), alice).returncode == 0


def test_an_admins_privileged_template_can_be_scaled_not_rewritten(server: ServerProc, alice: Path) -> None:
    assert apply(server, rc("router")).returncode == 0     # the cluster admin, as the seeds' egress router
    assert server.kubectl("scale", "rc/router", "--replicas=0", "-n", NS, kubeconfig=alice).returncode == 0
    assert server.kubectl("label", "rc/router", "team=a", "-n", NS, kubeconfig=alice).returncode == 0
    r = server.kubectl("set", "image", "rc/router", "c=mine", "-n", NS, kubeconfig=alice)
    assert r.returncode == 1 and "Privileged containers are not allowed" in r.stderr
    image = server.kubectl("get", "rc/router", "-n", NS, "-o", "jsonpath={.spec.template.spec.containers[0].image}")
    assert image.stdout == "i"


def test_grants_to_a_user_and_to_a_service_account(server: ServerProc, alice: Path) -> None:
    r = server.cli("adm", "policy", "add-scc-to-user", "hostnetwork", "alice", check=True)
    assert r.stdout.strip() == 'clusterrole.rbac.authorization.k8s.io/system:openshift:scc:hostnetwork added: "alice"'
    try:
        assert apply(server, pod("hostnet2", hostNetwork=True), alice).returncode == 0
        r = apply(server, pod("both", hostNetwork=True, containers=PRIVILEGED), alice)
        assert r.returncode == 1 and "Host network" not in r.stderr and "Privileged containers" in r.stderr
    finally:
        server.cli("adm", "policy", "remove-scc-from-user", "hostnetwork", "alice", check=True)
    assert apply(server, pod("hostnet3", hostNetwork=True), alice).returncode == 1

    server.cli("adm", "policy", "add-scc-to-user", "privileged", "-z", "builder", "-n", NS, check=True)
    binding = json.loads(server.kubectl("get", "clusterrolebinding", "system:openshift:scc:privileged", "-o", "json",
                                        check=True).stdout)
    assert {"kind": "ServiceAccount", "name": "builder", "namespace": NS} in binding["subjects"]
    assert apply(server, pod("as-builder", sa="builder", containers=PRIVILEGED), alice).returncode == 0
    assert apply(server, pod("as-default", containers=PRIVILEGED), alice).returncode == 1


def test_binding_an_scc_role_herself_is_an_escalation(server: ServerProc, alice: Path) -> None:
    r = server.cli("adm", "policy", "add-role-to-user", "system:openshift:scc:privileged", "alice", "-n", NS,
                   config=alice)
    assert r.returncode == 1 and "forbidden" in r.stderr.lower()
    assert apply(server, pod("still-no", containers=PRIVILEGED), alice).returncode == 1
