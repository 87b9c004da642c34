"""A real `osdn server --store etcd://...` on a real etcd (started here): CRUD, conflicts, watch, 410 after
compaction, objects kept across a restart, and the start-up refusals of a data dir that does not match."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from base64 import b64decode, b64encode
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ServerProc, start_server
from tests.etcdproc import EtcdProc, etcd_server

CMS = "/api/v1/namespaces/p1/configmaps"


@pytest.fixture
def etcd(tmp_path: Path) -> Iterator[EtcdProc]:
    with etcd_server(tmp_path) as proc:
        yield proc


@pytest.fixture
def server(tmp_path: Path, etcd: EtcdProc) -> Iterator[ServerProc]:
    srv = start_server(tmp_path, "--no-controllers", "--store", etcd.url("/c1"), "--etcd-history", "100",
                       "--etcd-compaction-interval", "0.5")
    try:
        yield srv
    finally:
        srv.stop()


def cm(name: str, **data: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def etcd_keys(etcd: EtcdProc, prefix: str) -> list[str]:
    """The keys under `prefix`, read from etcd itself (its gateway), not through osdn."""
    start = prefix.encode()
    body = {"key": b64encode(start).decode(), "range_end": b64encode(start[:-1] + bytes([start[-1] + 1])).decode(),
            "keys_only": True}
    kvs = httpx.post(f"http://{etcd.endpoint}/v3/kv/range", json=body).json().get("kvs") or []
    return [b64decode(kv["key"]).decode() for kv in kvs]


def test_crud_and_conflicts_live_in_etcd(server: ServerProc, etcd: EtcdProc) -> None:
    with server.http() as api:
        assert api.post("/api/v1/namespaces", json={"metadata": {"name": "p1"}}).status_code == 201
        created = api.post(CMS, json=cm("a", x="1")).json()
        rv = created["metadata"]["resourceVersion"]
        assert api.post(CMS, json=cm("a")).status_code == 409
        updated = api.put(f"{CMS}/a", json={**created, "data": {"x": "2"}})
        assert updated.status_code == 200 and int(updated.json()["metadata"]["resourceVersion"]) > int(rv)
        stale = api.put(f"{CMS}/a", json={**created, "data": {"x": "3"}})
        assert stale.status_code == 409 and "modified" in stale.json()["message"]
        listed = api.get(CMS).json()
        assert [i["data"] for i in listed["items"]] == [{"x": "2"}]
        assert int(listed["metadata"]["resourceVersion"]) >= int(updated.json()["metadata"]["resourceVersion"])
        assert "/c1/configmaps/p1/a" in etcd_keys(etcd, "/c1/configmaps/")
        assert api.delete(f"{CMS}/a").status_code == 200
        assert api.get(f"{CMS}/a").status_code == 404
        assert etcd_keys(etcd, "/c1/configmaps/") == []


def test_watch_resumes_from_a_revision_and_gets_410_after_compaction(server: ServerProc) -> None:
    with server.http() as api:
        assert api.post("/api/v1/namespaces", json={"metadata": {"name": "p1"}}).status_code == 201
        old = api.get(CMS).json()["metadata"]["resourceVersion"]
        api.post(CMS, json=cm("before"))
        events: list[dict] = []

        def watch() -> None:
            with server.http().stream("GET", CMS, params={"watch": "true", "resourceVersion": old,
                                                          "timeoutSeconds": "5"}) as r:
                for line in r.iter_lines():
                    if line:
                        events.append(json.loads(line))
                    if len(events) == 3:
                        return
        t = threading.Thread(target=watch)
        t.start()
        time.sleep(0.3)
        api.post(CMS, json=cm("live"))
        api.delete(f"{CMS}/live")
        t.join(10)
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == \
            [("ADDED", "before"), ("ADDED", "live"), ("DELETED", "live")]
        for i in range(120):                  # more than --etcd-history 100 revisions
            api.post(CMS, json=cm(f"c{i}"))
        deadline = time.monotonic() + 10
        params = {"watch": "true", "resourceVersion": old, "timeoutSeconds": "1"}
        while (first := json.loads(api.get(CMS, params=params).text.split("\n")[0]))["type"] != "ERROR":
            assert time.monotonic() < deadline, f"no 410 after compaction: {first}"   # kube: 200, an ERROR event
            time.sleep(0.2)
        status = first["object"]
        assert status["code"] == 410 and status["reason"] == "Expired" and "too old resource version" in status["message"]


def test_objects_survive_a_restart_and_a_wrong_prefix_is_refused(server: ServerProc, etcd: EtcdProc) -> None:
    with server.http() as api:
        assert api.post("/api/v1/namespaces", json={"metadata": {"name": "p1"}}).status_code == 201
        assert api.post(CMS, json=cm("kept")).status_code == 201
    server.stop()
    refused = run_server(server, "--store", etcd.url("/other"))
    assert refused.returncode != 0
    assert f"the store etcd://{etcd.endpoint}/other holds no object, but {server.data_dir} was initialised" \
        in refused.stderr
    server.start()
    with server.http() as api:
        assert api.get(f"{CMS}/kept").status_code == 200


def test_a_sqlite_data_dir_is_refused_with_etcd(tmp_path: Path, etcd: EtcdProc) -> None:
    srv = start_server(tmp_path, "--no-controllers")
    srv.stop()
    refused = run_server(srv, "--store", etcd.url())
    assert refused.returncode != 0 and f"holds the SQLite store {srv.data_dir / 'osdn.db'}" in refused.stderr


def run_server(srv: ServerProc, *args: str) -> subprocess.CompletedProcess[str]:
    """Start a server expecting it to refuse (with `args` instead of the fixture's): its exit and output."""
    return subprocess.run([sys.executable, "-m", "osdn", "server", "--data-dir", str(srv.data_dir),
                           "--listen", f"127.0.0.1:{srv.port}", "--no-controllers", *args],
                          capture_output=True, text=True, timeout=60)
