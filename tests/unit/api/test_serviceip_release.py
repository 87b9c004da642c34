"""ServiceIPAllocation through the real write path: a deleted Service's explicit ClusterIP is free at
once (its short reservation no longer outlives it), and a dry run holds no address."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from osdn.api.registry import by_kind
from osdn.apiserver.admission import AdmissionChain
from osdn.apiserver.auth import CLUSTER_ADMINS, Authorizer, User
from osdn.apiserver.plugins.serviceips import ServiceIPAllocation
from osdn.apiserver.resources import Resources
from osdn.store.sqlite import SQLiteStore

ADMIN = User("admin", (CLUSTER_ADMINS,))
SVC = by_kind("Service")
CLUSTER_NETWORK = {"apiVersion": "network.openshift.io/v1", "kind": "ClusterNetwork", "metadata": {"name": "default"},
                   "network": "10.128.0.0/14", "hostsubnetlength": 9, "serviceNetwork": "172.30.0.0/16",
                   "clusterNetworks": [{"CIDR": "10.128.0.0/14", "hostSubnetLength": 9}],
                   "pluginName": "redhat/openshift-ovs-networkpolicy"}


@pytest.fixture
def res(tmp_path: Path) -> Iterator[Resources]:
    store = SQLiteStore(tmp_path / "db")
    try:
        r = Resources(store, Authorizer(store), AdmissionChain([ServiceIPAllocation()]))
        r.create(ADMIN, by_kind("ClusterNetwork"), "", CLUSTER_NETWORK)
        r.create(ADMIN, by_kind("Namespace"), "", {"metadata": {"name": "p1"}})
        yield r
    finally:
        store.close()


def svc(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"clusterIP": "172.30.0.50", "ports": [{"port": 80}]}}


def test_a_deleted_services_address_is_free_at_once(res: Resources) -> None:
    res.create(ADMIN, SVC, "p1", svc("a"))
    res.delete(ADMIN, SVC, "p1", "a")
    assert res.create(ADMIN, SVC, "p1", svc("b")).obj["spec"]["clusterIP"] == "172.30.0.50"


def test_a_dry_run_holds_no_address(res: Resources) -> None:
    assert res.create(ADMIN, SVC, "p1", svc("a"), dry_run=True).obj["spec"]["clusterIP"] == "172.30.0.50"
    assert res.create(ADMIN, SVC, "p1", svc("b")).obj["spec"]["clusterIP"] == "172.30.0.50"
