"""ReplicaSet controller: the replica core (osdn.master.replicas) for apps/v1 ReplicaSets.

A thin adapter; the Deployment controller (osdn.master.deployments) creates and scales the
ReplicaSets, this one keeps their pods.
"""

from __future__ import annotations

from osdn.master.replicas import RS, ReplicaController


class ReplicaSetController(ReplicaController):
    name = "replicaset"
    owner = RS
