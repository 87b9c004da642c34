"""IngressAdmission: who may change an Ingress's host names after creation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ServerProc, start_server

INGRESS = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web"},
           "spec": {"rules": [{"host": "www.example.com"}]}}
PATCH = ["patch", "ingress", "web", "-n", "shop", "--type=merge", "-p",
         json.dumps({"spec": {"rules": [{"host": "new.example.com"}]}})]


def _server(tmp: Path, allow: bool | None) -> ServerProc:
    args: list[str] = []
    if allow is not None:
        (tmp / "master.yaml").write_text(
            "admissionConfig:\n  pluginConfig:\n    openshift.io/IngressAdmission:\n      configuration:\n"
            f"        apiVersion: v1\n        allowHostnameChanges: {str(allow).lower()}\n"
            "        kind: IngressAdmissionConfig\n      location: \"\"\n")
        args = ["--config", str(tmp / "master.yaml")]
    srv = start_server(tmp, *args)
    return srv


@pytest.fixture(params=[None, True], ids=["default", "allowHostnameChanges"])
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[ServerProc, Path, bool]]:
    srv = _server(tmp_path, request.param)
    try:
        conf = tmp_path / "dev.conf"
        srv.cli("adm", "token", "create", "dev", "--write-config", str(conf), check=True)
        srv.cli("new-project", "shop", config=conf, check=True)
        srv.cli("create", "-f", "-", "-n", "shop", config=conf, input=json.dumps(INGRESS), check=True)
        yield srv, conf, bool(request.param)
    finally:
        srv.stop()


def test_ingress_host_change(setup: tuple[ServerProc, Path, bool]) -> None:
    srv, conf, allowed = setup
    r = srv.cli(*PATCH, config=conf)
    if allowed:
        assert r.returncode == 0, r.stderr
    else:
        assert r.returncode == 1 and "cannot change the host names of an ingress" in r.stderr
        srv.cli("create", "clusterrole", "route-editor", "--verb=update",
                "--resource=routes.route.openshift.io/custom-host", check=True)
        srv.cli("adm", "policy", "add-cluster-role-to-user", "route-editor", "dev", check=True)
        assert srv.cli(*PATCH, config=conf).returncode == 0
    got = json.loads(srv.cli("get", "ingress", "web", "-n", "shop", "-o", "json", check=True).stdout)
    assert got["spec"]["rules"][0]["host"] == "new.example.com"
