"""Master controller benchmark: NetIDs for N namespaces, HostSubnets for M nodes, egress failover.

Runs a real `osdn server` (multitenant, loopback) and prints:
- pure allocation cost (NetIDRegistry.assign x N, SubnetAllocator.allocate x M);
- end to end: namespaces/nodes created over HTTP (8 client threads) until every NetNamespace /
  HostSubnet exists (the controller's throughput, API writes included);
- egress failover: a loopback "node" port is closed; time until the namespace's published egress
  decision moves to the other node (detection + reassignment), over several rounds.
Usage: python3 bench/controllers.py [--namespaces 10000] [--nodes 1000] [--rounds 5]
Figures only; never fails on timing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml  # noqa: E402

from osdn.client import Client, load_config  # noqa: E402
from osdn.model.netid import NetIDRegistry  # noqa: E402
from osdn.model.sdnconfig import parse_network_config  # noqa: E402
from osdn.model.subnets import SubnetAllocator  # noqa: E402
from tests.conftest import start_server  # noqa: E402
from tests.master.loopback import FakeNode  # noqa: E402

CLUSTER = {"metadata": {"name": "default"}, "pluginName": "multitenant", "serviceNetwork": "172.30.0.0/16",
           "clusterNetworks": [{"CIDR": "10.128.0.0/14", "hostSubnetLength": 8}]}


def pure(n: int, m: int) -> None:
    t = time.perf_counter()
    reg = NetIDRegistry()
    for i in range(n):
        reg.assign(f"ns{i}")
    t_ids = time.perf_counter() - t
    alloc = SubnetAllocator.from_config(parse_network_config(CLUSTER))
    t = time.perf_counter()
    for _ in range(m):
        alloc.allocate()
    t_sub = time.perf_counter() - t
    print(f"pure: {n} NetIDs in {t_ids * 1000:.1f} ms; {m} HostSubnets in {t_sub * 1000:.1f} ms")


def count(client: Client, kind: str) -> int:
    return len(client.list(kind)["items"])


def create_all(config: Path, objs: list[dict]) -> None:
    cfg = load_config(str(config))
    clients = [Client(cfg) for _ in range(8)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: clients[i % 8].create(objs[i]), range(len(objs))))
    for c in clients:
        c.close()


def end_to_end(config: Path, kind: str, target_kind: str, objs: list[dict], expected: int) -> None:
    client = Client(load_config(str(config)))
    t0 = time.perf_counter()
    create_all(config, objs)
    t_created = time.perf_counter() - t0
    while count(client, target_kind) < expected:
        time.sleep(0.2)
    total = time.perf_counter() - t0
    print(f"end to end: {len(objs)} {kind} created in {t_created:.1f} s; all {target_kind} present after "
          f"{total:.1f} s ({len(objs) / total:.0f}/s)")
    client.close()


def failover(srv_config: Path, nodes: dict[str, FakeNode], rounds: int) -> None:
    client = Client(load_config(str(srv_config)))
    for i, name in enumerate(nodes, 1):
        client.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
                       "status": {"addresses": [{"type": "InternalIP", "address": f"192.168.50.{i}"}]}})
    client.create({"apiVersion": "project.openshift.io/v1", "kind": "Project", "metadata": {"name": "eip"}})
    wait(lambda: all(_get(client, "HostSubnet", n) for n in nodes) and _get(client, "NetNamespace", "eip"))
    for name in nodes:
        client.patch("HostSubnet", name, {"egressCIDRs": ["192.168.50.0/24"]})
    client.patch("NetNamespace", "eip", {"egressIPs": ["192.168.50.100"]})
    times = []
    for _ in range(rounds):
        owner = wait(lambda: (_egress(client) or {}).get("node"))
        other = next(n for n in nodes if n != owner)
        nodes[owner].down()
        t0 = time.perf_counter()
        wait(lambda other=other: (_egress(client) or {}).get("node") == other, step=0.005)
        times.append(time.perf_counter() - t0)
        nodes[owner].up()
        time.sleep(2.5)               # hold-down before the node counts as online again
    print(f"egress failover (detection + reassignment + publish), {rounds} rounds: "
          f"median {statistics.median(times):.2f} s, max {max(times):.2f} s")
    client.close()


def _get(client: Client, kind: str, name: str) -> dict | None:
    try:
        return client.get(kind, name)
    except Exception:
        return None


def _egress(client: Client) -> dict | None:
    ann = (client.get("NetNamespace", "eip")["metadata"].get("annotations") or {}).get("network.osdn.io/egress")
    data = json.loads(ann) if ann else None
    return data if data and data.get("action") == "via" else None


def wait(fn, timeout: float = 120.0, step: float = 0.05):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(step)
    raise SystemExit("timed out")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--namespaces", type=int, default=10000)
    ap.add_argument("--nodes", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    pure(args.namespaces, args.nodes)
    fakes = {"bench-a": FakeNode(), "bench-b": FakeNode()}
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "master.yaml"
        cfg.write_text(yaml.safe_dump({"egressHealth": {"mode": "tcp", "refusedIsOnline": False,
                                                        "targets": {n: f.target for n, f in fakes.items()}}}))
        srv = start_server(Path(tmp), "--network-plugin", "multitenant", "--config", str(cfg), "--host-subnet-length", "8",
                           "--log-level", "warning")
        try:
            failover(srv.config, fakes, args.rounds)
            namespaces = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"bench-{i}"}}
                          for i in range(args.namespaces)]
            base = count(Client(load_config(str(srv.config))), "NetNamespace")
            end_to_end(srv.config, "Namespaces", "NetNamespace", namespaces, base + args.namespaces)
            nodes = [{"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"node-{i}"},
                      "status": {"addresses": [{"type": "InternalIP", "address": f"172.16.{i // 250}.{i % 250 + 1}"}]}}
                     for i in range(args.nodes)]
            base = count(Client(load_config(str(srv.config))), "HostSubnet")
            end_to_end(srv.config, "Nodes", "HostSubnet", nodes, base + args.nodes)
        finally:
            srv.stop()


if __name__ == "__main__":
    main()
