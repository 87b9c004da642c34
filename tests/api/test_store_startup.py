"""The store does not lose itself: start-up refusals, lost tokens, unreadable rows, interrupted
namespace deletes (real server processes on a real data dir; the sqlite file edited in between)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import ServerProc, start_server


@pytest.fixture
def stopped(tmp_path: Path) -> Iterator[ServerProc]:
    """A data dir initialised by one real start (namespace p with configmaps ok and victim), then stopped."""
    srv = start_server(tmp_path, "--no-controllers")
    try:
        with srv.http() as http:
            assert http.post("/api/v1/namespaces", json={"metadata": {"name": "p"}}).status_code == 201
            for name in ("ok", "victim"):
                r = http.post("/api/v1/namespaces/p/configmaps", json={"metadata": {"name": name}, "data": {"a": "b"}})
                assert r.status_code == 201
        srv.stop()
        yield srv
    finally:
        srv.stop()


def server_run(srv: ServerProc, *args: str) -> subprocess.CompletedProcess[str]:
    """Start the server expecting it to refuse: its exit and output."""
    return subprocess.run([sys.executable, "-m", "osdn", "server", "--data-dir", str(srv.data_dir),
                           "--listen", f"127.0.0.1:{srv.port}", "--no-controllers", *srv.args, *args],
                          capture_output=True, text=True, timeout=60)


def db(srv: ServerProc) -> sqlite3.Connection:
    return sqlite3.connect(srv.data_dir / "osdn.db", isolation_level=None)


def break_missing(d: Path) -> None:
    for name in ("osdn.db", "osdn.db-wal", "osdn.db-shm"):
        (d / name).unlink(missing_ok=True)


def break_empty(d: Path) -> None:
    break_missing(d)
    (d / "osdn.db").write_bytes(b"")


def break_garbage(d: Path) -> None:
    break_missing(d)
    (d / "osdn.db").write_bytes(b"this is not a database" * 200)


@pytest.mark.parametrize("damage, says", [
    (break_missing, "is missing"), (break_empty, "is empty"), (break_garbage, "cannot be read"),
], ids=["missing", "empty", "garbage"])
def test_an_initialised_data_dir_with_a_lost_store_is_refused(stopped: ServerProc, damage: Callable[[Path], None],
                                                              says: str) -> None:
    damage(stopped.data_dir)
    r = server_run(stopped)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(f"error: refusing to start: the store {stopped.data_dir / 'osdn.db'} {says}")
    assert "restore it from a backup" in lines[0] or "restore osdn.db from a backup" in lines[0]


def test_lost_tokens_get_a_new_admin_token_and_the_old_one_stops_working(stopped: ServerProc) -> None:
    old_token = stopped.admin_token
    (stopped.data_dir / "tokens").unlink()
    stopped.start()
    assert stopped.admin_token != old_token
    with stopped.http(token=old_token) as http:
        assert http.get("/api/v1/namespaces").status_code == 401
    with stopped.http() as http:                                   # the new admin.conf works
        assert http.get("/api/v1/namespaces/p/configmaps/ok").status_code == 200
    log = (stopped.data_dir.parent / f"server-{stopped.port}.log").read_text()
    assert f"the tokens file {stopped.data_dir / 'tokens'} was missing: every earlier token is invalid" in log


def test_an_unreadable_row_is_skipped_by_name_unless_strict(stopped: ServerProc) -> None:
    with db(stopped) as conn:
        conn.execute("UPDATE objects SET data=? WHERE resource='configmaps' AND name='victim'", (b'{"metadata": {',))
    r = server_run(stopped, "--strict-store")
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [
        f'error: refusing to start (--strict-store): configmaps "victim" in namespace "p" in the store '
        f"{stopped.data_dir / 'osdn.db'} cannot be read (Expecting property name enclosed in double quotes: "
        f"line 1 column 15 (char 14)); delete or repair that row, or start without --strict-store to skip it"]
    stopped.start()
    with stopped.http() as http:
        assert http.get("/api/v1/namespaces/p/configmaps/ok").status_code == 200
        assert http.get("/api/v1/namespaces/p/configmaps/victim").status_code == 404
    log = (stopped.data_dir.parent / f"server-{stopped.port}.log").read_text()
    assert 'ERROR osdn.store.sqlite: store ' in log and 'skipping configmaps "victim" in namespace "p"' in log


def test_a_namespace_left_terminating_is_finished_at_start(stopped: ServerProc) -> None:
    with db(stopped) as conn:                      # what a crash after the first step of a delete leaves
        (data,) = conn.execute("SELECT data FROM objects WHERE resource='namespaces' AND name='p'").fetchone()
        ns = json.loads(data)
        ns["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
        ns["status"] = {"phase": "Terminating"}
        conn.execute("UPDATE objects SET data=? WHERE resource='namespaces' AND name='p'", (json.dumps(ns),))
    stopped.start()
    with stopped.http() as http:
        assert http.get("/api/v1/namespaces/p").status_code == 404
        assert http.get("/api/v1/namespaces/p/configmaps").json()["items"] == []
        assert http.get("/api/v1/namespaces/default").status_code == 200
    with db(stopped) as conn:
        assert conn.execute("SELECT count(*) FROM objects WHERE namespace='p'").fetchone() == (0,)


def test_a_namespace_delete_persists_terminating_before_it_deletes_contents(stopped: ServerProc) -> None:
    stopped.start()
    with stopped.http() as http:
        rv = http.get("/api/v1/namespaces").json()["metadata"]["resourceVersion"]
        assert http.delete("/api/v1/namespaces/p").status_code == 200
    with db(stopped) as conn:                      # the order in which the changes were committed
        rows = conn.execute("SELECT type, resource, name, data FROM events WHERE rv > ? ORDER BY rv",
                            (int(rv),)).fetchall()
    steps = [(t, res, name) for t, res, name, _ in rows]
    assert steps[0] == ("MODIFIED", "namespaces", "p")
    first = json.loads(rows[0][3])
    assert first["status"]["phase"] == "Terminating" and first["metadata"]["deletionTimestamp"]
    assert sorted(steps[1:-1]) == [("DELETED", "configmaps", "ok"), ("DELETED", "configmaps", "victim")]
    assert steps[-1] == ("DELETED", "namespaces", "p")
