"""origin's multicast e2e expectations (`test/extended/networking/multicast.go`) and openshift-sdn's
TestOVSLocalMulticast, against the model and the node's per-NetID decision: three pods, two on one
node and one on another (intra- and inter-node); subnet mode blocks; multitenant and networkpolicy
block until the NetNamespace is annotated `multicast-enabled: "true"` (exactly), then every pod
reaches every other; a NetID is enabled only if every NetNamespace sharing it is."""

from __future__ import annotations

from typing import Any

import pytest
from model_builders import cluster_network, hostsubnet, namespace, netns, pod

from osdn.model import objects as o
from osdn.model.cluster import ClusterState
from osdn.model.multicast import compute_multicast_receivers
from osdn.node.compile import compute_multicast_netids

PODS = ("mc/multicast-1", "mc/multicast-2", "mc/multicast-3")


def state(mode: str, annotation: str | None) -> ClusterState:
    nn = netns("mc", 11)
    if annotation is not None:
        nn["metadata"]["annotations"] = {"netnamespace.network.openshift.io/multicast-enabled": annotation}
    objs: list[dict[str, Any]] = [
        cluster_network(mode), nn, namespace("mc"),
        hostsubnet("n1", "192.168.1.10", "10.128.0.0/23"), hostsubnet("n2", "192.168.1.11", "10.128.2.0/23"),
        pod("mc", "multicast-1", "10.128.0.10", node="n1"), pod("mc", "multicast-2", "10.128.0.11", node="n1"),
        pod("mc", "multicast-3", "10.128.2.10", node="n2")]
    return ClusterState.from_objects(objs, {}, ())


def receivers(s: ClusterState, sender: str) -> set[str]:
    return set(compute_multicast_receivers(s, sender).receivers)


@pytest.mark.parametrize("mode", ["multitenant", "networkpolicy"])
def test_enabled_namespace_every_pod_reaches_every_other(mode: str) -> None:
    s = state(mode, "true")
    for sender in PODS:
        assert receivers(s, sender) == set(PODS) - {sender}


@pytest.mark.parametrize("mode", ["multitenant", "networkpolicy"])
@pytest.mark.parametrize("annotation", [None, "", "false", "True", "TRUE", "yes", "1", " true"],
                         ids=["absent", "empty", "false", "True", "TRUE", "yes", "1", "space-true"])
def test_disabled_namespace_blocks(mode: str, annotation: str | None) -> None:
    s = state(mode, annotation)
    assert all(receivers(s, sender) == set() for sender in PODS)


def test_subnet_mode_blocks_even_when_enabled() -> None:
    s = state("subnet", "true")
    assert all(receivers(s, sender) == set() for sender in PODS)


def nns(**spec: tuple[int, bool]) -> dict[str, o.NetNamespace]:
    return {name: o.NetNamespace(name, netid, (), enabled) for name, (netid, enabled) in spec.items()}


def test_node_enables_a_netid_only_when_every_sharer_is_enabled() -> None:
    """TestOVSLocalMulticast: VNID 99 enabled gets flows, VNID 88 disabled none; disabling 99 removes them."""
    assert compute_multicast_netids(nns(a=(99, True), b=(88, False))) == {99}
    assert compute_multicast_netids(nns(a=(99, False), b=(88, False))) == set()
    assert compute_multicast_netids(nns(a=(99, True), b=(99, False))) == set()      # joined, one side off
    assert compute_multicast_netids(nns(a=(99, True), b=(99, True))) == {99}
