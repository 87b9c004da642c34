"""Fenced writes (osdn.store.fence) on both backends: a write made as the leader lands only while the
Lease is at the fence's revision, checked in the same transaction as the write."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from osdn.errors import BadRequestError, ConflictError, NotFoundError
from osdn.store import Key, Store
from osdn.store.etcd import EtcdOptions, EtcdStore
from osdn.store.etcd_gateway import parse_etcd_url
from osdn.store.fence import LEASES, Fence, fenced, parse_fence
from osdn.store.sqlite import SQLiteStore
from tests.etcdproc import EtcdProc, etcd_server

LEASE = Key(LEASES, "kube-system", "osdn-master")


@pytest.fixture(scope="module")
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdProc]:
    with etcd_server(tmp_path_factory.mktemp("etcd")) as proc:
        yield proc


@pytest.fixture(params=["sqlite", "etcd"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        s: Store = SQLiteStore(tmp_path / "osdn.db")
    else:
        proc: EtcdProc = request.getfixturevalue("etcd")
        s = EtcdStore(parse_etcd_url(proc.url(f"/f-{uuid.uuid4().hex[:8]}")), EtcdOptions(compact_interval=0))
    yield s
    with contextlib.suppress(Exception):
        s.close()


def lease(holder: str) -> dict:
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": LEASE.name, "namespace": LEASE.namespace}, "spec": {"holderIdentity": holder}}


def cm(name: str, value: str = "") -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "p1"},
            "data": {"v": value}}


def key(name: str) -> Key:
    return Key("configmaps", "p1", name)


def test_a_write_lands_while_the_lease_is_at_the_fence_revision(store: Store) -> None:
    held = store.create(LEASE, lease("a"))
    with fenced(Fence(LEASE, int(held["metadata"]["resourceVersion"]))):
        made = store.create(key("x"), cm("x", "1"))
        store.update(key("x"), cm("x", "2"), int(made["metadata"]["resourceVersion"]))
        store.delete(key("x"))
    with pytest.raises(NotFoundError):
        store.get(key("x"))


def test_after_a_takeover_every_fenced_write_is_refused_and_changes_nothing(store: Store) -> None:
    held = store.create(LEASE, lease("a"))
    old = Fence(LEASE, int(held["metadata"]["resourceVersion"]))
    kept = store.create(key("kept"), cm("kept", "before"))
    taken = store.update(LEASE, lease("b"))            # another server took the lease over
    for write in (lambda: store.create(key("new"), cm("new")),
                  lambda: store.update(key("kept"), cm("kept", "after")),
                  lambda: store.delete(key("kept"))):
        with fenced(old), pytest.raises(ConflictError) as refused:
            write()
        assert refused.value.message.startswith("fenced: Lease kube-system/osdn-master is at resourceVersion "
                                                f"{taken['metadata']['resourceVersion']}, not {old.rv}")
    assert store.get(key("kept"))["data"] == kept["data"]
    with pytest.raises(NotFoundError):
        store.get(key("new"))
    store.update(key("kept"), cm("kept", "unfenced"))   # outside `fenced` writes are not checked


def test_a_missing_lease_refuses_fenced_writes(store: Store) -> None:
    with fenced(Fence(LEASE, 5)), pytest.raises(ConflictError, match="osdn-master is gone"):
        store.create(key("x"), cm("x"))


@pytest.mark.parametrize("value", ["", "a/b", "a/b/c", "a//1", "a/b/1/2"])
def test_a_malformed_fence_header_is_refused_naming_it(value: str) -> None:
    with pytest.raises(BadRequestError, match=f'X-Osdn-Fence: "{value}" is not NAMESPACE/NAME/RESOURCEVERSION'):
        parse_fence(value)


def test_a_fence_header_parses() -> None:
    assert parse_fence("kube-system/osdn-master/42") == Fence(LEASE, 42)
