"""Two `osdn server`s on one etcd sharing one data dir (as the lab runs them): the controllers run on
the Lease holder only; a stopped leader releases the Lease and the other takes over at once, a killed
one is taken over after the lease duration; a SQLite server does not elect unless asked."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ServerProc, free_port, start_server
from tests.etcdproc import etcd_server

LEASE = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/osdn-master"


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[ServerProc, ServerProc]]:
    with etcd_server(tmp_path) as etcd:
        args = ["--store", etcd.url("/pair"), "--network-plugin", "multitenant"]
        first = start_server(tmp_path, *args)
        second = ServerProc(first.data_dir, free_port(), args)
        try:
            second.start()
            yield first, second
        finally:
            first.stop()
            second.stop()


def holder(api: httpx.Client) -> dict:
    r = api.get(LEASE)
    return dict(r.json()["spec"]) if r.status_code == 200 else {}


def wait_holder(api: httpx.Client, srv: ServerProc, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while not (spec := holder(api)).get("holderIdentity", "").endswith(f"_127.0.0.1:{srv.port}"):
        assert time.monotonic() < deadline, f"server {srv.port} never held the Lease: {spec}"
        time.sleep(0.1)
    return spec


def wait_netid(api: httpx.Client, ns: str, timeout: float = 30.0) -> int:
    deadline = time.monotonic() + timeout
    while (r := api.get(f"/apis/network.openshift.io/v1/netnamespaces/{ns}")).status_code != 200:
        assert time.monotonic() < deadline, f"no NetNamespace {ns}"
        time.sleep(0.1)
    return int(r.json()["netid"])


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["stopped", "killed"])
def test_the_other_server_takes_over_and_its_controllers_act(pair: tuple[ServerProc, ServerProc],
                                                             sig: int) -> None:
    first, second = pair
    with second.http() as api:
        deadline = time.monotonic() + 30
        while not (who := holder(api).get("holderIdentity", "")):
            assert time.monotonic() < deadline, "no server took the Lease"
            time.sleep(0.1)
        leader, other = (first, second) if who.endswith(f"_127.0.0.1:{first.port}") else (second, first)
        assert api.post("/api/v1/namespaces", json={"metadata": {"name": "before"}}).status_code == 201
        before = wait_netid(api, "before")
        leader.stop(sig)
        spec = wait_holder(api, other, 60)
        assert spec["leaseTransitions"] == 1
        assert api.post("/api/v1/namespaces", json={"metadata": {"name": "after"}}).status_code == 201
        assert wait_netid(api, "after") not in (before, 0)
        assert wait_netid(api, "before") == before       # adopted, not allocated again


def test_a_sqlite_server_elects_only_when_asked(tmp_path: Path) -> None:
    srv = start_server(tmp_path)
    try:
        with srv.http() as api:
            assert api.post("/api/v1/namespaces", json={"metadata": {"name": "p1"}}).status_code == 201
            wait_netid(api, "p1")                          # its controllers run ...
            assert api.get(LEASE).status_code == 404       # ... without a Lease
    finally:
        srv.stop()
