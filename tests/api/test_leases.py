"""The Lease kind (coordination.k8s.io/v1) as served, the leader Lease of the server's own controllers,
fenced writes over HTTP, and a client that fails over from a server that is down."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from osdn.client import Client, load_config
from osdn.client.config import ClientConfig
from osdn.client.informer import Informer
from osdn.errors import ConflictError
from tests.conftest import ServerProc, free_port, start_server

LEASES = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases"
CMS = "/api/v1/namespaces/default/configmaps"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProc]:
    """A SQLite server elects only when asked (one server per data dir); etcd servers elect by default
    (tests/e2e/test_lab_ha.py)."""
    srv = start_server(tmp_path, "--leader-elect")
    try:
        yield srv
    finally:
        srv.stop()


def wait_for_leader(api: httpx.Client, port: int, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        r = api.get(f"{LEASES}/osdn-master")
        if r.status_code == 200 and r.json()["spec"].get("holderIdentity", "").endswith(f"_127.0.0.1:{port}"):
            return dict(r.json())
        assert time.monotonic() < deadline, f"no leader Lease held by this server: {r.status_code} {r.text}"
        time.sleep(0.2)


def test_the_servers_controllers_hold_the_leader_lease_and_renew_it(server: ServerProc) -> None:
    with server.http() as api:
        first = wait_for_leader(api, server.port)
        assert first["spec"]["leaseDurationSeconds"] == 6 and first["spec"]["leaseTransitions"] == 0
        deadline = time.monotonic() + 30
        while (now := wait_for_leader(api, server.port))["metadata"]["resourceVersion"] == \
                first["metadata"]["resourceVersion"]:
            assert time.monotonic() < deadline, "the leader never renewed its Lease"
            time.sleep(0.2)
        assert now["spec"]["acquireTime"] == first["spec"]["acquireTime"]
        assert now["spec"]["renewTime"] > first["spec"]["renewTime"]
        table = server.kubectl("get", "leases", "-n", "kube-system", check=True).stdout
        assert "HOLDER" in table and f"_127.0.0.1:{server.port}" in table


def test_lease_is_discoverable_and_validated(server: ServerProc) -> None:
    with server.http() as api:
        names = [r["name"] for r in api.get("/apis/coordination.k8s.io/v1").json()["resources"]]
        assert "leases" in names
        assert "io.k8s.api.coordination.v1.Lease" in api.get("/openapi/v2").json()["definitions"]
        bad = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "x"},
               "spec": {"leaseDurationSeconds": 0, "renewTime": "yesterday"}}
        r = api.post("/apis/coordination.k8s.io/v1/namespaces/default/leases", json=bad)
        assert r.status_code == 422
        fields = {c["field"] for c in r.json()["details"]["causes"]}
        assert fields == {"spec.leaseDurationSeconds", "spec.renewTime"}, r.text


def test_fenced_writes_over_http(server: ServerProc) -> None:
    with server.http() as api:
        rv = wait_for_leader(api, server.port)["metadata"]["resourceVersion"]
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fenced"}}
        stale = api.post(CMS, json=cm, headers={"X-Osdn-Fence": "kube-system/osdn-master/1"})
        assert stale.status_code == 409 and stale.json()["message"].startswith(
            "fenced: Lease kube-system/osdn-master is at resourceVersion"), stale.text
        assert api.get(f"{CMS}/fenced").status_code == 404
        bad = api.post(CMS, json=cm, headers={"X-Osdn-Fence": "osdn-master"})
        assert bad.status_code == 400 and "X-Osdn-Fence" in bad.json()["message"]
        token = api.post("/osdn/v1/tokens", json={"user": "mallory"}).json()["token"]
    with server.http(token=token) as mallory:   # naming a Lease needs `get` on it
        r = mallory.post(CMS, json=cm, headers={"X-Osdn-Fence": f"kube-system/osdn-master/{rv}"})
        assert r.status_code == 403 and "leases" in r.json()["message"], r.text


@pytest.fixture
def down_url() -> Iterator[str]:
    yield f"https://127.0.0.1:{free_port()}"     # nothing listens there


def test_a_client_fails_over_from_a_server_that_is_down(server: ServerProc, down_url: str) -> None:
    config = load_config(str(server.config), server=f"{down_url}, {server.url}/")
    informer = Informer(config, "Namespace").start()
    try:
        assert informer.wait_synced(30) and informer.get("default") is not None
    finally:
        informer.stop()
    with Client(config) as client:
        assert client.config.server == f"{down_url},{server.url}"
        assert client.get("Namespace", "default")["metadata"]["name"] == "default"
        assert client.endpoints.order()[0] == server.url      # later requests start on the live one
        made = client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "via-failover",
                                                                               "namespace": "default"}})
        assert made["metadata"]["name"] == "via-failover"
    r = server.cli("--server", f"{down_url},{server.url}", "get", "configmap", "via-failover", "-n", "default")
    assert r.returncode == 0 and "via-failover" in r.stdout, r.stderr


def test_every_server_down_names_them_all(down_url: str) -> None:
    other = f"https://127.0.0.1:{free_port()}"
    with Client(ClientConfig(f"{down_url},{other}")) as client, pytest.raises(Exception) as failed:
        client.get("Namespace", "default")
    assert f"cannot reach the osdn server at {down_url},{other}: {down_url}: " in str(failed.value)
    assert f"; {other}: " in str(failed.value)


def test_a_write_fenced_by_a_revision_renewed_meanwhile_is_resent_once(server: ServerProc) -> None:
    with server.http() as api:
        wait_for_leader(api, server.port)

    def current() -> str:
        with server.http() as api:
            return f"kube-system/osdn-master/{api.get(f'{LEASES}/osdn-master').json()['metadata']['resourceVersion']}"

    answers = iter(["kube-system/osdn-master/1"])      # the value sent first is stale: "renewed" since
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "resent", "namespace": "default"}}
    with Client(load_config(str(server.config)), fence=lambda: next(answers, None) or current()) as client:
        assert client.create(cm)["metadata"]["name"] == "resent"
    with Client(load_config(str(server.config)), fence=lambda: "kube-system/osdn-master/1") as stale, \
            pytest.raises(ConflictError, match="^fenced: "):
        stale.create({**cm, "metadata": {**cm["metadata"], "name": "never"}})
