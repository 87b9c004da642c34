"""Egress IP benchmark: end-to-end failover time, and the cost of an egress IP against the node's masquerade.

What: a real `osdn lab` (API server with the master controllers, 4 `osdn node` agents, CNI, kubelet) in
multitenant mode. node1..node3 host egress IPs (the lab's free underlay range 198.18.0.100-199); the
client pods run on node4, which never fails. The outside server is the lab's web namespace
(203.0.113.80: HTTP on 80, plus an iperf3 server and a TCP accept-and-close server started here).

1. Throughput and connect rate, same run, rounds alternating: from a pod of a project without egress
   IPs on node4 (masqueraded to node4's address: the baseline), from a pod of a project whose egress
   IP is on node1 running on node1 itself (SNAT on the holder) and on node4 (steered over VXLAN to
   node1, SNAT there; replies back the same way). iperf3 one stream for `--seconds`; connect rate = TCP
   connects/s (close with RST) from one Python client. Clients on the first CPU, servers on the last.
2. Failover, `--rounds` times: automatic assignment (`egressCIDRs` on node1..node3), one project with
   one egress IP. Each round waits until every egress node is online again, then fails the IP's
   holder (`osdn lab stop-node`: underlay link down, agent killed) and times, from that moment, until
   the first connection from the node4 pod that the outside server sees coming from the egress IP on
   its new holder (attempts every 50 ms, each with a 0.3 s timeout); a tcpdump on the outside
   server records the source of every connection attempt meanwhile (any node address would be a
   failure of the design and is counted). Then the node is started again (`start-node`).

Needs root, iperf3, tcpdump. Everything it makes is removed on exit, Ctrl-C or failure: a lab named
`beg<pid>` in a temporary directory and the server processes started in its web namespace. Traffic
stays inside the lab's namespaces. Prints figures; never fails on timing.

    python bench/egress.py [--seconds 3] [--rounds 10] [--pairs 3]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import dataplane as dp  # bench/dataplane.py: CONNECT_SERVER/CLIENT, CPU pinning, stop_process, load()

from osdn.client import Client, load_config
from osdn.kernel import netns
from osdn.lab import cluster, nodefail
from osdn.lab.egresswatch import WEB, Capture, measure_failover, source_seen
from osdn.lab.pods import PodRequest, create_pod, pod_netns, wait_pod_ip

LAB = f"beg{os.getpid() % 100000}"
STATIC_IP, AUTO_IP = "198.18.0.100", "198.18.0.150"
EGRESS_NODES = ("node1", "node2", "node3")


def start_lab(stack: contextlib.ExitStack) -> tuple[cluster.LabInfo, Client]:
    lab_dir = tempfile.mkdtemp(prefix=f"osdn-bench-{LAB}-")
    stack.callback(shutil.rmtree, lab_dir, True)
    stack.callback(cluster.down, LAB, lab_dir)
    info = cluster.up(cluster.UpOptions(name=LAB, nodes=4, mode="multitenant", lab_dir=lab_dir), lambda m: None)
    client = Client(load_config(info.admin_conf))
    stack.callback(client.close)
    return info, client


def pod(client: Client, project: str, name: str, node: str) -> str:
    create_pod(client, PodRequest(name, project, node, {}, "python", [80], []))
    wait_pod_ip(client, project, name, timeout=60)
    return pod_netns(client.get("Pod", name, project))


def wait(what: str, cond: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: no {what} after {timeout:.0f}s")
        time.sleep(0.05)


def decision(client: Client, project: str) -> dict[str, object]:
    text = (client.get("NetNamespace", project)["metadata"].get("annotations") or {}).get("network.osdn.io/egress")
    return json.loads(text) if text else {}


def start_servers(stack: contextlib.ExitStack, web_ns: str) -> None:
    for argv in (["iperf3", "-s", "-p", str(dp.IPERF_PORT)],
                 [sys.executable, "-c", dp.CONNECT_SERVER, str(dp.CONNECT_PORT)]):
        proc = netns.spawn_in_netns(web_ns, [*dp.SERVER_CPU, *argv], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
        stack.callback(dp.stop_process, proc)
    time.sleep(0.5)


def iperf(ns: str, seconds: float) -> float:
    for _ in range(5):  # the server may still be starting
        out = netns.run_cmd(ns, [*dp.CLIENT_CPU, "iperf3", "-c", WEB, "-p", str(dp.IPERF_PORT), "-t", f"{seconds:g}",
                                 "-J"], timeout=seconds + 30, check=False)
        if out.returncode == 0:
            return float(json.loads(out.stdout)["end"]["sum_received"]["bits_per_second"]) / 1e9
        time.sleep(0.5)
    raise SystemExit(f"bench: iperf3 from {ns} failed: {out.stdout[-300:]} {out.stderr[-300:]}")


def connect_rate(ns: str, seconds: float) -> float:
    out = netns.run_cmd(ns, [*dp.CLIENT_CPU, sys.executable, "-c", dp.CONNECT_CLIENT, WEB, str(dp.CONNECT_PORT),
                             f"{seconds:g}"], timeout=seconds + 30)
    rate, failed = out.stdout.split()
    if int(failed):
        print(f"  warning: {failed} connects from {ns} failed", flush=True)
    return float(rate)


def bench_cost(stack: contextlib.ExitStack, info: cluster.LabInfo, client: Client, seconds: float,
               pairs: int) -> list[str]:
    paths = {"masquerade to node4's IP (no egress IP)": pod(client, "plain", "c4", "node4"),
             "egress IP, pod on the holder (SNAT)": pod(client, "static", "h1", "node1"),
             "egress IP, pod on node4 (steered to node1)": pod(client, "static", "s4", "node4")}
    client.patch("HostSubnet", "node1", {"egressIPs": [STATIC_IP]})
    client.patch("NetNamespace", "static", {"egressIPs": [STATIC_IP]})
    start_servers(stack, f"{info.prefix}web")
    want = dict(zip(paths, ("198.18.0.14", STATIC_IP, STATIC_IP), strict=True))
    for label, ns in paths.items():
        wait(f"{label} seen as {want[label]}", lambda ns=ns, label=label: source_seen(ns) == want[label])
    gbits: dict[str, list[float]] = {label: [] for label in paths}
    rates: dict[str, list[float]] = {label: [] for label in paths}
    for r in range(pairs):
        for label in (list(paths) if r % 2 == 0 else list(reversed(paths))):
            gbits[label].append(iperf(paths[label], seconds))
            rates[label].append(connect_rate(paths[label], seconds))
    base = next(iter(paths))
    lines = [f"{'path':46} {'iperf3 Gbit/s':>14} {'vs base':>8} {'connects/s':>11} {'vs base':>8}"]
    for label in paths:
        g, c = statistics.median(gbits[label]), statistics.median(rates[label])
        lines.append(f"{label:46} {g:>14.2f} {g / statistics.median(gbits[base]):>8.0%} {c:>11.0f} "
                     f"{c / statistics.median(rates[base]):>8.0%}")
    client.patch("NetNamespace", "static", {"egressIPs": None})
    client.patch("HostSubnet", "node1", {"egressIPs": None})
    return lines


def online(client: Client) -> bool:
    return all((client.get("HostSubnet", n)["metadata"].get("annotations") or {}).get("network.osdn.io/egress-health")
               == "online" for n in EGRESS_NODES)


def bench_failover(info: cluster.LabInfo, client: Client, rounds: int) -> list[str]:
    ns = pod(client, "auto", "a4", "node4")
    client.patch("NetNamespace", "auto", {"egressIPs": [AUTO_IP]})
    for node in EGRESS_NODES:
        client.patch("HostSubnet", node, {"egressCIDRs": ["198.18.0.144/28"]})
    wait("automatic assignment", lambda: decision(client, "auto").get("action") == "via")
    wait("the egress IP seen outside", lambda: source_seen(ns) == AUTO_IP)
    times: list[float] = []
    wrong: set[str] = set()
    for r in range(rounds):
        wait("every egress node online", lambda: online(client), timeout=120)
        holder = str(decision(client, "auto")["node"])
        wait("the egress IP seen outside", lambda: source_seen(ns) == AUTO_IP)
        with Capture(f"{info.prefix}web") as cap:
            result = measure_failover(ns, lambda holder=holder: nodefail.stop_node(info, holder), {AUTO_IP})
        new = str(decision(client, "auto").get("node"))
        wrong |= cap.seen() - {AUTO_IP}
        if result.seconds is None or new == holder:
            raise SystemExit(f"bench: round {r + 1}: no failover from {holder} ({result})")
        times.append(result.seconds)
        print(f"  round {r + 1}: {holder} failed -> {new} in {result.seconds:.2f}s", flush=True)
        nodefail.start_node(info, holder)
    return [f"{len(times)} rounds: median {statistics.median(times):.2f} s, max {max(times):.2f} s, "
            f"min {min(times):.2f} s",
            f"connection attempts seen outside from another address than {AUTO_IP}: "
            f"{', '.join(sorted(wrong)) if wrong else 'none'}"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--pairs", type=int, default=3)
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench/egress.py needs root (network namespaces)")
    print(f"load at start: {dp.load()}", flush=True)
    with contextlib.ExitStack() as stack:
        info, client = start_lab(stack)
        cost = bench_cost(stack, info, client, args.seconds, args.pairs)
        print("\nThroughput and connect rate to the outside server (medians of "
              f"{args.pairs} alternating runs of {args.seconds:g} s)", *cost, sep="\n", flush=True)
        print("\nFailover (automatic egress IP, holder fails: link down + agent killed)", flush=True)
        fail = bench_failover(info, client, args.rounds)
        print(*fail, sep="\n", flush=True)
    print(f"load at end: {dp.load()}")


if __name__ == "__main__":
    main()
