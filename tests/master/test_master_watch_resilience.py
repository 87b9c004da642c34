"""The master's informers survive any content and a broken stream (real server, real `osdn master`).

A namespace annotation holding U+2028 / U+0085 used to end the master's watch for good (the client
split lines with str.splitlines), after which new namespaces never got NetNamespaces. Here the
controllers run as `osdn master` next to a server started with --no-controllers, so the server can
be killed and restarted under them: their streams break, they log, back off, re-list, and carry on.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ServerProc, start_server, wait_for
from tests.master.test_controllers import netids


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[ServerProc, Path]]:
    srv = start_server(tmp_path, "--network-plugin", "multitenant", "--no-controllers")
    log_path = tmp_path / "master.log"
    with open(log_path, "wb") as log:
        master = subprocess.Popen([sys.executable, "-m", "osdn", "--config", str(srv.config), "master"],
                                  stdout=log, stderr=log)
    try:
        yield srv, log_path
    finally:
        master.send_signal(signal.SIGTERM)
        try:
            master.wait(10)
        except subprocess.TimeoutExpired:
            master.kill()
            master.wait()
        srv.stop()


def create_namespace(srv: ServerProc, name: str, annotations: dict[str, str] | None = None) -> None:
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "annotations": annotations or {}}}
    with srv.http() as http:
        r = http.post("/api/v1/namespaces", json=body)
    assert r.status_code == 201, r.text


def test_line_separators_in_content_and_a_server_restart_do_not_stop_netid_allocation(
        cluster: tuple[ServerProc, Path]) -> None:
    srv, log_path = cluster
    create_namespace(srv, "before")
    wait_for(lambda: "before" in netids(srv), what="NetNamespace before")
    create_namespace(srv, "odd", {"note": "one\u2028two\u0085three\u2029four"})
    create_namespace(srv, "after")
    wait_for(lambda: {"odd", "after"} <= set(netids(srv)), what="NetNamespaces odd and after")

    srv.stop(signal.SIGKILL)                  # every watch stream breaks mid-flight
    srv.start()
    create_namespace(srv, "after-restart")
    ids = wait_for(lambda: (n := netids(srv)) and "after-restart" in n and n, timeout=30,
                   what="NetNamespace after-restart")
    assert len({ids[n] for n in ("before", "odd", "after", "after-restart")}) == 4
    assert "WARNING osdn.client.informer: namespaces informer:" in log_path.read_text()


def test_a_namespace_delete_finished_at_start_also_removes_its_netnamespace(tmp_path: Path) -> None:
    srv = start_server(tmp_path, "--network-plugin", "multitenant")
    try:
        create_namespace(srv, "doomed")
        create_namespace(srv, "kept")
        wait_for(lambda: {"doomed", "kept"} <= set(netids(srv)), what="NetNamespaces")
        srv.stop()
        with sqlite3.connect(srv.data_dir / "osdn.db", isolation_level=None) as conn:   # a crash mid-delete
            (data,) = conn.execute("SELECT data FROM objects WHERE resource='namespaces' AND name='doomed'").fetchone()
            ns = json.loads(data)
            ns["metadata"]["deletionTimestamp"], ns["status"] = "2026-01-01T00:00:00Z", {"phase": "Terminating"}
            conn.execute("UPDATE objects SET data=? WHERE resource='namespaces' AND name='doomed'", (json.dumps(ns),))
        srv.start()
        wait_for(lambda: "doomed" not in (n := netids(srv)) and "kept" in n, what="NetNamespace doomed gone")
    finally:
        srv.stop()
