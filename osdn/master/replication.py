"""ReplicationController controller: the replica core (osdn.master.replicas) for core/v1 RCs.

A thin adapter: kube's replication manager is its replica set controller over RCs, and so is this.
"""

from __future__ import annotations

from osdn.master.replicas import RC, ReplicaController


class ReplicationController(ReplicaController):
    name = "replication"
    owner = RC
