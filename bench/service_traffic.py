"""Service data-path benchmark: TCP connection rate through a ClusterIP against the same endpoint
pod reached directly, in the same run, with 1, 1,000 and 10,000 services in the node's ruleset.

A ClusterIP connection costs two map lookups (`svc_dispatch`, `svc_backends`), a `numgen` pick and
a DNAT on its first packet, whatever the number of services; the target is >= 95 % of the direct rate at every
size. Also: how long loading N services takes (render + plan + one nft transaction, from scratch),
what one more service costs at N (elements only, never a table replace), and how many chains the
table holds (the same at every size).

Topology (bench/dataplane.py's, made with osdn.kernel as the agent makes it): two nodes with bridge +
VXLAN, the client pod a1 and the endpoint a2 on node A, endpoint b1 on node B. The measured service
has one endpoint (a2, or b1 for the cross-node figure); the other N - 1 services have two endpoints
each on addresses that exist nowhere (their elements are loaded, never hit). The client is a Python
connect loop closing with RST (bench/dataplane.py), pinned to CPU 0, the server to the last CPU; each
size alternates 12 rounds of 0.5 s direct / ClusterIP (order flipped every round); the ratio is the
median of the per-round ratios, so load that changes between rounds hits both sides.

Needs root. Namespaces `osdnb-<pid>-*` only, removed on exit, Ctrl-C or failure. Prints figures;
never fails on timing.

    python bench/service_traffic.py [--quick] [--sizes 1,1000,10000]
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import statistics
import sys
import time
from dataclasses import replace

import dataplane as dp  # bench/dataplane.py: topology, servers, connect loop

from osdn.kernel import links, netns
from osdn.node.dataplane import Dataplane
from osdn.node.intent import NodeIntent
from osdn.node.render import render_node
from osdn.node.services import ServiceEndpoint, ServiceVIP

SERVICE_CIDR = "172.30.0.0/16"
VIP = "172.30.0.20"
SERVICE_PORT = 80


def services(n: int, endpoint: str) -> tuple[ServiceVIP, ...]:
    """The measured service (VIP:80 -> endpoint:CONNECT_PORT) and n - 1 others with two endpoints."""
    base, ghost = ipaddress.IPv4Address("172.30.1.0"), ipaddress.IPv4Address("10.131.0.0")
    out = [ServiceVIP(VIP, "tcp", SERVICE_PORT, "bench/measured:http", (ServiceEndpoint(endpoint, dp.CONNECT_PORT),))]
    out += [ServiceVIP(str(base + i), "tcp", SERVICE_PORT, f"bench/s{i}:http",
                       (ServiceEndpoint(str(ghost + 2 * i), 8080), ServiceEndpoint(str(ghost + 2 * i + 1), 8080)))
            for i in range(n - 1)]
    return tuple(sorted(out))


def rate_to(src: dp.TPod, ip: str, port: int, secs: float) -> float:
    """Connects/s from `src` to ip:port (bench/dataplane.py's client loop)."""
    out = netns.run_cmd(src.netns, [*dp.CLIENT_CPU, sys.executable, "-c", dp.CONNECT_CLIENT, ip, str(port),
                                    f"{secs:g}"], timeout=secs + 30)
    rate, failed = out.stdout.split()
    if int(failed):
        print(f"  warning: {failed} connects to {ip}:{port} failed", flush=True)
    return float(rate)


def measure(a1: dp.TPod, endpoint: dp.TPod, secs: float, rounds: int) -> tuple[float, float, float]:
    """Median connects/s directly to the endpoint and through the ClusterIP, in short alternating
    rounds, and the median of the per-round ratios (robust against load that changes between rounds)."""
    direct, via = [], []
    for i in range(rounds):
        order = ((direct, endpoint.ip, dp.CONNECT_PORT), (via, VIP, SERVICE_PORT))
        for out, ip, port in order if i % 2 == 0 else order[::-1]:
            out.append(rate_to(a1, ip, port, secs))
    ratios = [v / d for v, d in zip(via, direct, strict=True) if d]
    return statistics.median(direct), statistics.median(via), statistics.median(ratios)


def prepare(stack: contextlib.ExitStack) -> dp.Topology:
    topo = dp.build_topology(stack)
    for n in topo.nodes.values():  # as the agent: forwarding on, the service network on the bridge
        netns.set_sysctls(n.netns, {"net.ipv4.ip_forward": 1})
        links.ensure_node_bridge(n.netns, "osdnbr0", f"{n.gateway}/23", 1450, (dp.CLUSTER_CIDR, SERVICE_CIDR))
    for short in ("a2", "b1"):
        dp.start_servers(stack, topo.pods[short])
    return topo


def bench(quick: bool, sizes: list[int], live: bool = True) -> list[str]:
    """The table's lines (`live`: also print each row as it is measured)."""
    secs, rounds = (0.5, 4) if quick else (0.5, 12)
    lines = [f"{'services':>8}  {'where':<10} {'direct/s':>9} {'ClusterIP/s':>11} {'ratio':>6}  "
             f"{'load N (ms)':>11} {'+1 svc (ms)':>11} {'chains':>7}"]  # chains: all of table inet osdn
    with contextlib.ExitStack() as stack:
        topo = prepare(stack)
        a1 = topo.pods["a1"]
        planes = {name: stack.enter_context(Dataplane(node.netns)) for name, node in topo.nodes.items()}
        base = {name: dp.traffic_intent(name, 0, topo.pods, topo.nodes) for name in topo.nodes}
        for n in sizes:
            for where, endpoint in (("same node", topo.pods["a2"]), ("cross node", topo.pods["b1"])):
                load_ms, one_ms, chains = apply_services(planes, base, n, endpoint.ip)
                direct, via, ratio = measure(a1, endpoint, secs, rounds)
                lines.append(f"{n:>8,}  {where:<10} {direct:>9,.0f} {via:>11,.0f} {ratio:>6.1%}  "
                             f"{load_ms:>11.0f} {one_ms:>11.1f} {chains:>7,}")
                if live:
                    print(lines[-1], flush=True)
    return lines


def apply_services(planes: dict[str, Dataplane], base: dict[str, NodeIntent], n: int, endpoint: str
                   ) -> tuple[float, float, int]:
    """Load n services on both nodes from scratch (timed on node A), then one more (timed)."""
    svcs = services(n, endpoint)
    for name, plane in planes.items():
        plane.teardown()
        t0 = time.perf_counter()
        plane.sync(replace(base[name], services=svcs), full=True)
        if name == "A":
            load = time.perf_counter() - t0
    extra = ServiceVIP("172.30.255.1", "tcp", SERVICE_PORT, "bench/extra:http", (ServiceEndpoint(endpoint, 1),))
    t0 = time.perf_counter()
    stats = planes["A"].sync(replace(base["A"], services=tuple(sorted((*svcs, extra)))))
    one = time.perf_counter() - t0
    assert not stats.replaced_tables, "adding a service must not replace the table"
    planes["A"].sync(replace(base["A"], services=svcs))
    inet = next(t for t in render_node(replace(base["A"], services=svcs)).tables if t.family == "inet")
    return load * 1000, one * 1000, len(inet.chains)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter rounds")
    parser.add_argument("--sizes", default="1,1000,10000", help="numbers of services (comma-separated)")
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    with dp.interruptible():
        lines = bench(args.quick, sizes)
    print("\nservice connect rate (ClusterIP vs direct to the same endpoint pod), TCP connect + RST close:")
    print("\n".join(lines))
    left = dp.leftovers()
    if left:
        print(f"warning: namespaces left: {left}", file=sys.stderr)


if __name__ == "__main__":
    main()
