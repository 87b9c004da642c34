"""NamespaceLifecycle: nothing new is created in a namespace that is being terminated (kube's 403)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from osdn.api.registry import by_kind
from osdn.apiserver.admission import AdmissionChain
from osdn.apiserver.auth import CLUSTER_ADMINS, Authorizer, User
from osdn.apiserver.resources import Resources, key_of
from osdn.errors import ForbiddenError
from osdn.store.sqlite import SQLiteStore

ADMIN = User("admin", (CLUSTER_ADMINS,))
CM = by_kind("ConfigMap")


@pytest.fixture
def resources(tmp_path: Path) -> Iterator[Resources]:
    store = SQLiteStore(tmp_path / "db")
    try:
        yield Resources(store, Authorizer(store), AdmissionChain([]))
    finally:
        store.close()


def test_create_in_a_terminating_namespace_is_forbidden_and_nothing_is_written(resources: Resources) -> None:
    ns_info = by_kind("Namespace")
    resources.create(ADMIN, ns_info, "", {"metadata": {"name": "p"}})
    key = key_of(ns_info, "", "p")
    ns = resources.store.get(key)
    ns["status"] = {"phase": "Terminating"}  # what the first step of a delete persists
    resources.store.update(key, ns)
    with pytest.raises(ForbiddenError, match="unable to create new content in namespace p because it is being "
                                             "terminated"):
        resources.create(ADMIN, CM, "p", {"metadata": {"name": "late"}})
    assert resources.store.list(CM.resource, "p")[0] == []


def test_create_in_an_active_namespace_still_works(resources: Resources) -> None:
    resources.create(ADMIN, by_kind("Namespace"), "", {"metadata": {"name": "q"}})
    resources.create(ADMIN, CM, "q", {"metadata": {"name": "ok"}})
    assert [o["metadata"]["name"] for o, _ in resources.store.list(CM.resource, "q")[0]] == ["ok"]
