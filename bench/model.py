"""Benchmark of the reachability oracle: 1,000 pods in 100 namespaces with 300 NetworkPolicies.

Prints the time to build the ClusterState, to compute the full pod-to-pod matrix on one port (with
and without rendering every pair's reason), and for a single trace. Never fails on timing.
Run: python3 bench/model.py [--pods 1000] [--namespaces 100] [--policies 300]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from typing import Any

from osdn.model.cluster import ClusterState
from osdn.model.matrix import compute_matrix
from osdn.model.oracle import compute_verdict, resolve_endpoint
from osdn.model.trace import render_trace
from osdn.model.verdict import Connection


def build_objects(pods: int, namespaces: int, policies: int, seed: int = 1) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    objs: list[dict[str, Any]] = [{"kind": "ClusterNetwork", "metadata": {"name": "default"},
                                   "pluginName": "redhat/openshift-ovs-networkpolicy",
                                   "clusterNetworks": [{"CIDR": "10.128.0.0/14"}], "serviceNetwork": "172.30.0.0/16"}]
    tiers = ["web", "api", "db", "cache"]
    for n in range(namespaces):
        objs.append({"kind": "Namespace", "metadata": {"name": f"ns{n}",
                                                       "labels": {"team": f"t{n % 10}", "env": rnd.choice(["prod", "dev"])}}})
    for i in range(pods):
        ns = f"ns{i % namespaces}"
        objs.append({"kind": "Pod", "metadata": {"namespace": ns, "name": f"pod{i}",
                                                 "labels": {"app": f"app{i % 7}", "tier": tiers[i % 4]}},
                     "spec": {"nodeName": f"node{i % 10}", "containers": [{"name": "c", "ports": [
                         {"name": "http", "containerPort": 80 + i % 3}, {"name": "metrics", "containerPort": 9090}]}]},
                     "status": {"podIP": f"10.{128 + i // 65536}.{(i // 256) % 256}.{i % 256}"}})
    for p in range(policies):
        ns = f"ns{p % namespaces}"
        kind = p % 6
        spec: dict[str, Any] = {"podSelector": {"matchLabels": {"tier": tiers[p % 4]}}}
        if kind == 0:
            spec = {"podSelector": {}, "ingress": []}
        elif kind == 1:
            spec["ingress"] = [{"from": [{"podSelector": {}}]}]
        elif kind == 2:
            spec["ingress"] = [{"from": [{"namespaceSelector": {"matchLabels": {"team": f"t{rnd.randrange(10)}"}}}],
                                "ports": [{"port": "http"}]}]
        elif kind == 3:
            spec["ingress"] = [{"from": [{"namespaceSelector": {"matchExpressions": [
                {"key": "env", "operator": "In", "values": ["prod"]}]}, "podSelector": {"matchLabels": {"tier": "web"}}}],
                "ports": [{"port": 80, "endPort": 81}]}]
        elif kind == 4:
            spec["policyTypes"] = ["Egress"]
            spec["egress"] = [{"to": [{"namespaceSelector": {}}], "ports": [{"port": 80}, {"port": 53, "protocol": "UDP"}]},
                              {"to": [{"ipBlock": {"cidr": "10.128.0.0/16", "except": ["10.128.1.0/24"]}}]}]
        else:
            spec["ingress"] = [{"from": [{"ipBlock": {"cidr": "10.128.2.0/24"}}, {"podSelector": {"matchLabels": {
                "app": f"app{p % 7}"}}}]}]
        objs.append({"kind": "NetworkPolicy", "metadata": {"namespace": ns, "name": f"pol{p}"}, "spec": spec})
    return objs


def timed(fn: Any, repeat: int = 1) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pods", type=int, default=1000)
    ap.add_argument("--namespaces", type=int, default=100)
    ap.add_argument("--policies", type=int, default=300)
    args = ap.parse_args()
    objs = build_objects(args.pods, args.namespaces, args.policies)
    t_state, state = timed(lambda: ClusterState.from_objects(objs))
    t_matrix, matrix = timed(lambda: compute_matrix(state, "TCP", 80), repeat=3)
    t_reasons, cells = timed(lambda: sum(1 for c in matrix.cells() if c.reason))
    allowed = sum(sum(row) for row in matrix.allowed)
    conn = Connection(resolve_endpoint(state, "ns3/pod3"), resolve_endpoint(state, "ns7/pod7"), "TCP", 80)
    t_trace, verdict = timed(lambda: render_trace(compute_verdict(state, conn)), repeat=200)
    print(f"pods={args.pods} namespaces={args.namespaces} policies={args.policies}")
    print(f"build ClusterState (compile policies):  {t_state * 1000:8.1f} ms")
    print(f"full matrix TCP/80 ({len(matrix.pods)}x{len(matrix.pods)}): {t_matrix:8.3f} s  ({allowed} of "
          f"{cells} pairs allowed)")
    print(f"  + reasons for every pair:             {t_reasons:8.3f} s")
    print(f"single trace (verdict + rendering):     {t_trace * 1000:8.3f} ms")


if __name__ == "__main__":
    main()
