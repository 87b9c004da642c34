"""Egress firewall benchmark: what EgressNetworkPolicy rules cost pod-to-outside traffic, and what the
DNS hold adds to a pod's DNS lookups.

Measured in one run, each figure next to a same-run baseline:
1. traffic: a pod (its own namespace, routed through a node namespace holding osdn's rendered `inet osdn`
   table) to an outside server (a third namespace): TCP connect rate (a Python connect loop, RST close)
   and single-stream iperf3 throughput, with no egress firewall (baseline), with 50 rules in the pod's
   project (the allowing rule last: every packet walks 49 CIDR rules first), and with 50 rules in each of
   1,000 projects (the verdict map picks the project's chain: per packet O(1) in the number of projects).
   Target: >= 95 % of the baseline. Cases alternate over `--rounds` rounds; the median is reported.
2. dns: the node's DNS server (osdn.node.dns.server, the agent's own) answering a pod through an
   upstream in the "outside" namespace (osdn.lab.extdns), every query a new name with a new address
   (no cache hit, the worst case for the hold: each answer adds an nft element before it is released),
   without an egress firewall (no hook) and with the hold (`osdn.node.dnshold` on a `*.bench.test`
   rule): p50 and p99 of the lookup time.

Needs root. Makes only namespaces `osdnbf-<pid>-*` linked to each other (never to the root namespace)
and removes them on exit, Ctrl-C or failure; traffic goes only to addresses inside them. Prints
figures; never fails on timing.

    python bench/egress_firewall.py [--quick] [--only traffic,dns] [--rounds N]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import replace

import dns.message
import dns.query

from osdn.kernel import links, netns
from osdn.lab import extdns
from osdn.node.dataplane import Dataplane
from osdn.node.dns.server import DnsConfig, DnsServer, SharedZone
from osdn.node.dnshold import DnsHold
from osdn.node.egress_firewall import EgressFirewallIntent, FirewallProgram, FirewallRule
from osdn.node.intent import ClusterPod, LocalPod, NetID, Node, NodeIntent

PREFIX = f"osdnbf-{os.getpid()}-"
POD_IP, GW, NODE_OUT, SERVER_IP = "10.128.0.2", "10.128.0.1", "203.0.113.1", "203.0.113.80"
IPERF_PORT, CONNECT_PORT = 5201, 8000
CLIENT_CPU = ["taskset", "-c", "0"]
SERVER_CPU = ["taskset", "-c", str(max(0, (os.cpu_count() or 1) - 1))]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


@contextlib.contextmanager
def topology() -> Iterator[dict[str, str]]:
    """pod (10.128.0.2/24 via .1) -- node (routes, osdn's table) -- outside (203.0.113.80/24 via .1)."""
    names = {k: f"{PREFIX}{k}" for k in ("pod", "node", "out")}
    try:
        for ns in names.values():
            netns.ensure_netns(ns)
            links.with_netlink(ns, lambda nl: links.set_link(nl, "lo", up=True))
        netns.set_sysctls(names["node"], {"net.ipv4.ip_forward": 1})
        for peer, addr, node_addr, gw in (("pod", f"{POD_IP}/24", f"{GW}/24", GW),
                                          ("out", f"{SERVER_IP}/24", f"{NODE_OUT}/24", NODE_OUT)):
            def node_side(nl: links.NL, peer: str = peer, node_addr: str = node_addr) -> None:
                links.ensure_veth(nl, f"bf{peer}", "eth0", names[peer])
                links.set_link(nl, f"bf{peer}", up=True)
                links.ensure_addresses(nl, f"bf{peer}", [node_addr])

            def far_side(nl: links.NL, addr: str = addr, gw: str = gw) -> None:
                links.set_link(nl, "eth0", up=True)
                links.ensure_addresses(nl, "eth0", [addr])
                links.ensure_routes(nl, "eth0", [links.Route("0.0.0.0/0", gw)])

            links.with_netlink(names["node"], node_side)
            links.with_netlink(names[peer], far_side)
        yield names
    finally:
        for ns in names.values():
            with contextlib.suppress(Exception):
                netns.delete_netns(ns, kill=True)


def base_intent() -> NodeIntent:
    return NodeIntent(mode="multitenant", node_name="n1", cluster_cidrs=("10.128.0.0/14",),
                      service_cidr="172.30.0.0/16", local_subnet="10.128.0.0/23", gateway=GW, node_ip=NODE_OUT,
                      nodes=(Node("n1", NODE_OUT, "10.128.0.0/23", GW),),
                      pods=(ClusterPod(POD_IP, "p0", NetID(100), "n1"),),
                      local_pods=(LocalPod(POD_IP, "0a:58:0a:80:00:02", "bfpod"),), uplinks=("bfout",))


def fifty_rules(allow: str) -> tuple[FirewallRule, ...]:
    """49 Deny rules that do not match, then the Allow that does: the longest walk for every packet."""
    denies = tuple(FirewallRule(i, False, f"192.0.{i}.0/24") for i in range(49))
    return (*denies, FirewallRule(49, True, allow))


def firewall(projects: int) -> EgressFirewallIntent:
    if projects == 0:
        return EgressFirewallIntent()
    progs = tuple(FirewallProgram(100 + k, f"p{k}", fifty_rules(f"{SERVER_IP}/32")) for k in range(projects))
    return EgressFirewallIntent(progs, ((POD_IP, 100),), ())


def spawn(ns: str, argv: list[str]) -> subprocess.Popen[bytes]:
    return netns.spawn_in_netns(ns, argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                stdin=subprocess.DEVNULL, start_new_session=True)


ACCEPT_LOOP = f"""
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", {CONNECT_PORT})); s.listen(4096)
while True:
    s.accept()[0].close()
"""

CONNECT_LOOP = f"""
import socket, struct, sys, time
end, n = time.monotonic() + float(sys.argv[1]), 0
linger = struct.pack("ii", 1, 0)
while time.monotonic() < end:
    c = socket.socket(); c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
    c.connect(("{SERVER_IP}", {CONNECT_PORT})); c.close(); n += 1
print(n / float(sys.argv[1]))
"""


def run_in(ns: str, argv: list[str], timeout: float = 60) -> str:
    done = subprocess.run(["nsenter", f"--net=/run/netns/{ns}", *argv], capture_output=True, text=True,
                          timeout=timeout, check=True)
    return done.stdout


def connect_rate(ns: str, secs: float) -> float:
    return float(run_in(ns, [*CLIENT_CPU, sys.executable, "-c", CONNECT_LOOP, str(secs)]))


def throughput(ns: str, secs: float) -> float:
    out = json.loads(run_in(ns, [*CLIENT_CPU, "iperf3", "-c", SERVER_IP, "-p", str(IPERF_PORT), "-t", str(secs),
                                 "-J"]))
    return float(out["end"]["sum_received"]["bits_per_second"]) / 1e9


def bench_traffic(quick: bool, rounds: int) -> list[str]:
    cases = {"no egress firewall": 0, "50 rules in the pod's project": 1, "50 rules x 1,000 projects": 1000}
    secs = 1.0 if quick else 3.0
    with topology() as ns, Dataplane(ns["node"]) as dp:
        servers = [spawn(ns["out"], [*SERVER_CPU, sys.executable, "-c", ACCEPT_LOOP]),
                   spawn(ns["out"], [*SERVER_CPU, "iperf3", "-s", "-p", str(IPERF_PORT)])]
        try:
            time.sleep(0.5)
            loads: dict[str, float] = {}
            rates: dict[str, list[float]] = {c: [] for c in cases}
            gbits: dict[str, list[float]] = {c: [] for c in cases}
            for r in range(rounds):
                for case, projects in (cases.items() if r % 2 == 0 else reversed(cases.items())):
                    intent = replace(base_intent(), egress_firewall=firewall(projects))
                    t = time.perf_counter()
                    dp.sync(intent)
                    loads.setdefault(case, time.perf_counter() - t)
                    rates[case].append(connect_rate(ns["pod"], secs))
                    gbits[case].append(throughput(ns["pod"], secs))
        finally:
            for s in servers:
                s.kill()
                s.wait()
    base_rate, base_gbit = statistics.median(rates["no egress firewall"]), statistics.median(gbits["no egress firewall"])
    lines = [f"{'case':32} {'connects/s':>11} {'% base':>7} {'Gbit/s':>7} {'% base':>7} {'first load':>10}"]
    for case in cases:
        rate, gbit = statistics.median(rates[case]), statistics.median(gbits[case])
        lines.append(f"{case:32} {rate:11.0f} {100 * rate / base_rate:6.1f}% {gbit:7.2f} "
                     f"{100 * gbit / base_gbit:6.1f}% {loads[case] * 1000:8.0f} ms")
    lines.append(f"(medians of {rounds} rounds of {secs:g} s each, cases alternating; loads: sync from the "
                 "previous case's ruleset)")
    return lines


def dns_lookups(ns: str, names: list[str]) -> list[float]:
    def ask() -> list[float]:
        out = []
        for name in names:
            q = dns.message.make_query(name, "A")
            t = time.perf_counter()
            dns.query.udp(q, GW, timeout=3)
            out.append(time.perf_counter() - t)
        return out
    return netns.run_in_netns(ns, ask)


def bench_dns(quick: bool) -> list[str]:
    count = 300 if quick else 1000
    lines = []
    with topology() as ns, tempfile.TemporaryDirectory() as tmp, Dataplane(ns["node"]) as dp:
        zone = os.path.join(tmp, "zone.json")
        names = {f"q{i}.{case}.bench.ext.test": f"198.51.{i // 250}.{i % 250 + 1}"
                 for case in ("off", "hold") for i in range(count)}
        extdns.save_zone(zone, {n: {"addresses": [ip], "ttl": 30} for n, ip in names.items()})
        upstream = spawn(ns["out"], [sys.executable, "-m", "osdn.lab.extdns", "--zone", zone, "--listen", SERVER_IP])
        fw = EgressFirewallIntent((FirewallProgram(100, "p0", (FirewallRule(0, True, None, "*.bench.ext.test"),
                                                                  FirewallRule(1, False, "0.0.0.0/0"))),),
                                  ((POD_IP, 100),), (("*.bench.ext.test", frozenset()),))
        hold = DnsHold(dp)
        dp.overlay = hold.overlay
        hold.configure(fw)
        dp.sync(replace(base_intent(), egress_firewall=fw))
        server = DnsServer(DnsConfig(ns["node"], GW, 53, (SERVER_IP,)), SharedZone()).start()
        try:
            time.sleep(0.3)
            dns_lookups(ns["pod"], ["warm.bench.ext.test"] * 3)
            results = {}
            for case, hook in (("off", None), ("hold", hold.on_answer)):
                server.set_answer_hook(hook)
                results[case] = dns_lookups(ns["pod"], [n for n in names if f".{case}." in n])
        finally:
            server.stop()
            upstream.kill()
            upstream.wait()
        held = len(dp.observe().by_id()[("inet", "osdn")].set_by_name()[
            next(s.name for s in dp.observe().tables[0].sets if s.name.startswith("efw_dns_"))].elements)
    for case, title in (("off", "no egress firewall (no hook)"), ("hold", "hold (nft add per answer)")):
        vals = results[case]
        lines.append(f"{title:32} p50 {pct(vals, 0.5) * 1000:6.2f} ms   p99 {pct(vals, 0.99) * 1000:6.2f} ms")
    added = [h - o for h, o in zip(sorted(results["hold"]), sorted(results["off"]), strict=True)]
    lines.append(f"{'added by the hold':32} p50 {pct(added, 0.5) * 1000:6.2f} ms   p99 {pct(added, 0.99) * 1000:6.2f} ms"
                 f"   ({count} lookups each, every one a new name and address; {held} addresses held at the end)")
    return lines


SECTIONS: dict[str, Callable[[argparse.Namespace], list[str]]] = {
    "traffic": lambda a: bench_traffic(a.quick, a.rounds),
    "dns": lambda a: bench_dns(a.quick),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default=",".join(SECTIONS))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/egress_firewall.py needs root (network namespaces, nftables)")
    for name in args.only.split(","):
        t = time.monotonic()
        lines = SECTIONS[name](args)
        print(f"\n{name} ({time.monotonic() - t:.0f} s, load {' '.join(f'{x:.2f}' for x in os.getloadavg())})",
              *lines, sep="\n", flush=True)


if __name__ == "__main__":
    socket.setdefaulttimeout(10)
    main()
