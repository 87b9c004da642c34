"""SQLite store start-up: an unreadable file is refused by name; one unreadable row is skipped by name
(or refused with strict); the rest is served and the skipped row can be written again."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from osdn.store import Key, StoreError
from osdn.store.sqlite import SQLiteStore

CM = "configmaps"


def seeded(path: Path) -> None:
    store = SQLiteStore(path)
    for name in ("ok", "victim"):
        store.create(Key(CM, "p", name), {"metadata": {"name": name, "namespace": "p"}, "data": {"a": "b"}})
    store.close()


@pytest.mark.parametrize("data", [b"{not json", b"[1, 2]", b'"text"', b"\xff\xfe"], ids=["json", "list", "str", "utf8"])
def test_an_unreadable_row_is_skipped_and_named(tmp_path: Path, data: bytes, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "osdn.db"
    seeded(path)
    with sqlite3.connect(path, isolation_level=None) as conn:
        conn.execute("UPDATE objects SET data=? WHERE name='victim'", (data,))
    with pytest.raises(StoreError, match=f'configmaps "victim" in namespace "p" in the store {path} cannot be read'):
        SQLiteStore(path, strict=True)
    caplog.set_level(logging.ERROR, logger="osdn.store.sqlite")
    store = SQLiteStore(path)
    try:
        assert store.skipped == [Key(CM, "p", "victim")]
        assert 'skipping configmaps "victim" in namespace "p"' in caplog.text
        assert [o["metadata"]["name"] for o, _ in store.list(CM)[0]] == ["ok"]
        store.create(Key(CM, "p", "victim"), {"metadata": {"name": "victim", "namespace": "p"}})
    finally:
        store.close()
    reopened = SQLiteStore(path, strict=True)            # written again: readable again
    assert reopened.get(Key(CM, "p", "victim"))["metadata"]["name"] == "victim"
    reopened.close()


def test_a_file_that_is_not_a_store_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "osdn.db"
    path.write_bytes(b"not a database" * 100)
    with pytest.raises(StoreError, match=f"refusing to start: the store {path} cannot be read"):
        SQLiteStore(path)
