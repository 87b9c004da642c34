"""ProjectRequestLimit against a real server: a user may self-provision at most `maxProjects`
projects (upstream's 403), a project being deleted frees its slot, cluster admins are not limited,
and without configuration the default limit holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ServerProc, start_server
from tests.polling import wait_for

PROJECTS = "/apis/project.openshift.io/v1/projects"
MASTER_YAML = """
admissionConfig:
  pluginConfig:
    ProjectRequestLimit:
      configuration:
        apiVersion: v1
        kind: ProjectRequestLimitConfig
        limits:
        - selector:
            level: admin
          maxProjects: 10
        - maxProjects: 2
"""


def token_for(srv: ServerProc, user: str, tmp: Path) -> str:
    from osdn.client.config import load_config
    srv.cli("adm", "token", "create", user, "--write-config", str(tmp / f"{user}.conf"), check=True)
    return load_config(str(tmp / f"{user}.conf")).token


def project(name: str) -> dict[str, object]:
    return {"apiVersion": "project.openshift.io/v1", "kind": "Project", "metadata": {"name": name}}


def test_a_configured_limit_holds_and_a_deleted_project_frees_its_slot(tmp_path: Path) -> None:
    (tmp_path / "master.yaml").write_text(MASTER_YAML)
    srv = start_server(tmp_path, "--config", str(tmp_path / "master.yaml"))
    try:
        alice = token_for(srv, "alice", tmp_path)
        with srv.http(alice) as c:
            assert [c.post(PROJECTS, json=project(n)).status_code for n in ("a1", "a2")] == [201, 201]
            r = c.post(PROJECTS, json=project("a3"))
            assert r.status_code == 403, r.text
            assert r.json()["message"] == ('projects.project.openshift.io "a3" is forbidden: user alice cannot '
                                           "create more than 2 project(s).")
            assert c.get(f"{PROJECTS}/a3").status_code in (403, 404)
            assert c.delete(f"{PROJECTS}/a1").status_code == 200
            wait_for(lambda: c.post(PROJECTS, json=project("a3")).status_code == 201, what="a1's slot freed")
        with srv.http() as admin:    # cluster admins create namespaces directly: no limit
            assert [admin.post(PROJECTS, json=project(f"adm{i}")).status_code for i in range(3)] == [201] * 3
    finally:
        srv.stop()


def test_the_default_limit_holds_without_configuration(server: ServerProc, tmp_path: Path) -> None:
    from osdn.apiserver.plugins.projectlimit import DEFAULT_MAX_PROJECTS
    bob = token_for(server, "bob", tmp_path)
    with server.http(bob) as c:
        codes = [c.post(PROJECTS, json=project(f"b{i}")).status_code for i in range(DEFAULT_MAX_PROJECTS + 1)]
    assert codes == [201] * DEFAULT_MAX_PROJECTS + [403]


@pytest.mark.parametrize("config", ["limits: 3", "limits: [{maxProjects: -1}]"])
def test_a_malformed_configuration_stops_the_server(tmp_path: Path, config: str) -> None:
    (tmp_path / "master.yaml").write_text(
        "admissionConfig:\n  pluginConfig:\n    ProjectRequestLimit:\n      configuration:\n        " + config + "\n")
    with pytest.raises(RuntimeError, match="exited"):
        start_server(tmp_path, "--config", str(tmp_path / "master.yaml")).stop()
