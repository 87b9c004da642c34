"""The store contract every backend keeps: one suite, run on SQLite and on a real etcd (started here on
a loopback port with a temp data dir, stopped also on failure; skipped only if the etcd binary is absent)."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from osdn.errors import AlreadyExistsError, ConflictError, GoneError, NotFoundError
from osdn.store import Event, Key, Store
from osdn.store.etcd import EtcdOptions, EtcdStore
from osdn.store.etcd_gateway import parse_etcd_url
from osdn.store.sqlite import SQLiteStore
from tests.etcdproc import EtcdProc, etcd_server


@dataclass
class Backend:
    """How to open one backend's store, here and (as Python source) in a child process."""
    name: str
    target: str                     # the SQLite file or the etcd URL

    def open(self, history: int = 100_000) -> Store:
        if self.name == "sqlite":
            return SQLiteStore(self.target, history=history)
        return EtcdStore(parse_etcd_url(self.target), EtcdOptions(history=history, compact_interval=0))

    def source(self) -> str:
        if self.name == "sqlite":
            return f"from osdn.store.sqlite import SQLiteStore\ns = SQLiteStore({self.target!r})"
        return ("from osdn.store.etcd import EtcdStore\nfrom osdn.store.etcd_gateway import parse_etcd_url\n"
                f"s = EtcdStore(parse_etcd_url({self.target!r}))")


@pytest.fixture(scope="module")
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdProc]:
    with etcd_server(tmp_path_factory.mktemp("etcd")) as proc:
        yield proc


@pytest.fixture(params=["sqlite", "etcd"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return Backend("sqlite", str(tmp_path / "osdn.db"))
    etcd: EtcdProc = request.getfixturevalue("etcd")
    return Backend("etcd", etcd.url(f"/t-{uuid.uuid4().hex[:8]}"))   # each test its own key prefix


@pytest.fixture
def make(backend: Backend) -> Iterator[Callable[..., Store]]:
    opened: list[Store] = []

    def factory(history: int = 100_000) -> Store:
        s = backend.open(history)
        opened.append(s)
        return s
    yield factory
    for s in opened:
        with contextlib.suppress(Exception):  # a test may have closed it already
            s.close()


def pod(name: str, ns: str = "p1", **labels: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


def k(name: str, ns: str = "p1") -> Key:
    return Key("pods", ns, name)


def test_create_get_list_and_monotonic_rv(make: Callable[..., Store]) -> None:
    s = make()
    a = s.create(k("a"), pod("a"))
    b = s.create(k("b", "p2"), pod("b", "p2"))
    assert int(b["metadata"]["resourceVersion"]) > int(a["metadata"]["resourceVersion"])
    assert s.get(k("a"))["metadata"]["name"] == "a"
    items, rv = s.list("pods")
    assert {o["metadata"]["name"] for o, _ in items} == {"a", "b"} and rv == s.current_rv()
    assert [o["metadata"]["name"] for o, _ in s.list("pods", "p2")[0]] == ["b"]
    with pytest.raises(NotFoundError):
        s.get(k("zzz"))


def test_create_twice_is_already_exists(make: Callable[..., Store]) -> None:
    s = make()
    s.create(k("a"), pod("a"))
    with pytest.raises(AlreadyExistsError):
        s.create(k("a"), pod("a"))


def test_stale_update_and_delete_conflict_and_change_nothing(make: Callable[..., Store]) -> None:
    s = make()
    v1 = s.create(k("a"), pod("a"))
    rv1 = int(v1["metadata"]["resourceVersion"])
    v2 = s.update(k("a"), pod("a", x="1"), expected_rv=rv1)
    with pytest.raises(ConflictError, match="modified"):
        s.update(k("a"), pod("a", x="2"), expected_rv=rv1)
    with pytest.raises(ConflictError):
        s.delete(k("a"), expected_rv=rv1)
    assert s.get(k("a")) == v2


def test_watch_replays_backlog_then_live_without_gap_or_duplicate(make: Callable[..., Store]) -> None:
    s = make()
    start = s.current_rv()
    for i in range(5):
        s.create(k(f"p{i}"), pod(f"p{i}"))
    seen: list[Event] = []
    stop = threading.Event()

    def writer() -> None:
        for i in range(5, 200):
            s.create(k(f"p{i}"), pod(f"p{i}"))
        stop.set()
    t = threading.Thread(target=writer)
    t.start()
    backlog, sub = s.subscribe("pods", None, start, seen.append)
    t.join()
    sub.cancel()
    rvs = [e.rv for e in backlog + seen]
    assert rvs == sorted(rvs) and len(rvs) == len(set(rvs)) == 200
    assert rvs == list(range(start + 1, start + 201))


def test_watch_filters_resource_and_namespace_and_reports_types(make: Callable[..., Store]) -> None:
    s = make()
    got: list[Event] = []
    _, sub = s.subscribe("pods", "p1", s.current_rv(), got.append)
    s.create(k("a"), pod("a"))
    s.create(k("b", "p2"), pod("b", "p2"))
    s.create(Key("services", "p1", "a"), {"metadata": {"name": "a"}})
    s.update(k("a"), pod("a", x="1"))
    s.delete(k("a"))
    sub.cancel()
    s.create(k("c"), pod("c"))
    assert [(e.type, e.key.name) for e in got] == [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")]


def test_compaction_gives_gone_and_keeps_the_recent_history(make: Callable[..., Store]) -> None:
    s = make(history=10)
    start = s.current_rv()
    for i in range(30):
        s.create(k(f"p{i}"), pod(f"p{i}"))
    assert s.compact() >= start + 20
    with pytest.raises(GoneError, match="too old resource version"):
        s.subscribe("pods", None, start, lambda e: None)
    backlog, sub = s.subscribe("pods", None, s.current_rv() - 5, lambda e: None)
    sub.cancel()
    assert [e.key.name for e in backlog] == [f"p{i}" for i in range(25, 30)]


def test_is_empty_until_the_first_object(make: Callable[..., Store]) -> None:
    s = make()
    assert s.is_empty()
    s.create(k("a"), pod("a"))
    assert not s.is_empty()


def test_restart_keeps_objects_and_continues_rv(make: Callable[..., Store]) -> None:
    s = make()
    s.create(k("a"), pod("a"))
    rv = s.current_rv()
    s.close()
    s2 = make()
    assert s2.get(k("a"))["metadata"]["name"] == "a" and s2.current_rv() == rv
    assert int(s2.create(k("b"), pod("b"))["metadata"]["resourceVersion"]) == rv + 1


def test_acknowledged_writes_survive_kill_9(backend: Backend, make: Callable[..., Store]) -> None:
    """A writer prints each name after create() returns; kill -9 it mid-stream; all printed names remain."""
    script = backend.source() + textwrap.dedent("""
        from osdn.store import Key
        i = 0
        while True:
            s.create(Key("pods", "p1", f"p{i}"), {"metadata": {"name": f"p{i}"}})
            print(f"p{i}", flush=True)
            i += 1
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    acked = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 20
        while len(acked) < 300 and time.monotonic() < deadline:
            acked.append(proc.stdout.readline().strip())
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    s = make()
    missing = [n for n in acked if n and not _exists(s, n)]
    assert len(acked) >= 300 and not missing


def _exists(s: Store, name: str) -> bool:
    try:
        s.get(k(name))
        return True
    except NotFoundError:
        return False
