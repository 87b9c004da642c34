"""Data-plane benchmark: what osdn's nftables rules cost pod traffic, how fast they load, how fast a
policy reaches every node's kernel, and how small a big policy is.

Measured in one run, each figure next to a same-run baseline or its target:
1. traffic: pod -> pod TCP throughput (iperf3, one stream) and connection rate (a Python connect
   loop, RST close) with no osdn tables, with osdn's ruleset and no policy (the baseline), and with
   the destination isolated by a policy whose allowing rule's peer set holds 1k / 10k / 100k
   elements; same node, and across nodes over VXLAN. Target: >= 95 % of the baseline.
2. apply: the whole ruleset of a node of a 10k-pod / 1k-policy cluster rendered, planned and loaded
   from scratch into an empty namespace (target < 300 ms), verified, and the incremental cases.
3. latency: a real `osdn lab` (API server, 3 `osdn node` agents, pods): from the API create of a
   NetworkPolicy until every node's kernel holds its elements (target p99 < 200 ms); also a new
   peer pod and a policy delete.
4. scale: rules and set elements for a policy selecting 200 pods and allowing 200 peers, against
   openshift-sdn's 40,000 OVS flows.

Needs root. Everything it makes is its own and is removed on exit, Ctrl-C or failure: network
namespaces `osdnb-<pid>-*` (linked only to each other, never to the root namespace) and a lab named
`bdp<pid>` in a temporary directory. Traffic goes only to addresses inside these namespaces.
Prints figures; never fails on timing.

    python bench/dataplane.py [--quick] [--only traffic,apply,latency,scale]
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from osdn.client import Client, load_config
from osdn.client.informer import Informer
from osdn.errors import KernelError
from osdn.kernel import links, netns
from osdn.kernel.nft import Nft
from osdn.lab import cluster
from osdn.lab.pods import PodRequest, create_pod, wait_pod_ip
from osdn.node.compile import LocalAttachment, NodeFacts, compile_intent
from osdn.node.dataplane import Dataplane
from osdn.node.intent import ClusterPod, LocalPod, NetID, Node, NodeIntent, Policy, PolicyRule, PortRange
from osdn.node.plan import plan
from osdn.node.render import render_node
from osdn.node.render.policy import policy_ids
from osdn.node.render.ruleset import Ruleset

Obj = dict[str, Any]
PREFIX = f"osdnb-{os.getpid()}-"
CLUSTER_CIDR = "10.128.0.0/14"
IPERF_PORT, CONNECT_PORT = 5201, 8000
# clients on the first CPU, servers on the last: where the scheduler happens to put them otherwise
# moves a single-stream figure by +-20 % from one process to the next
CLIENT_CPU = ["taskset", "-c", "0"]
SERVER_CPU = ["taskset", "-c", str(max(0, (os.cpu_count() or 1) - 1))]

# -- output -----------------------------------------------------------------------------------------


@dataclass
class Report:
    sections: list[tuple[str, list[str]]] = field(default_factory=list)

    def section(self, title: str, lines: list[str]) -> None:
        self.sections.append((title, lines))
        print(f"\n{title}", *lines, sep="\n", flush=True)

    def print(self, header: str) -> None:
        print("\n" + "=" * 100 + f"\n{header}")
        for title, lines in self.sections:
            print(f"\n{title}", *lines, sep="\n")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# -- a synthetic cluster, as API objects -----------------------------------------------------------

def cluster_objects(pods: int, policies: int, nodes: int = 100, namespaces: int = 100) -> list[Obj]:
    """`pods` pods spread over `nodes` nodes and `namespaces` namespaces; per namespace
    `policies / namespaces` NetworkPolicies, each selecting a tenth of its namespace's pods and
    allowing a fifth of them in on TCP 8080 (a pod-selector peer set per rule)."""
    mode = "networkpolicy"
    objs: list[Obj] = [{"kind": "ClusterNetwork", "metadata": {"name": "default"},
                        "pluginName": f"redhat/openshift-ovs-{mode}", "serviceNetwork": "172.30.0.0/16",
                        "clusterNetworks": [{"CIDR": CLUSTER_CIDR, "hostSubnetLength": 9}]}]
    subnets = list(ipaddress.IPv4Network(CLUSTER_CIDR).subnets(new_prefix=23))
    for n in range(nodes):
        objs.append({"kind": "HostSubnet", "metadata": {"name": f"n{n}"}, "host": f"n{n}",
                     "hostIP": f"198.18.{n // 250}.{n % 250 + 2}", "subnet": str(subnets[n])})
    for k in range(namespaces):
        objs.append({"kind": "Namespace", "metadata": {"name": f"ns{k}", "labels": {"team": f"t{k % 10}"}}})
        objs.append({"kind": "NetNamespace", "metadata": {"name": f"ns{k}"}, "netname": f"ns{k}", "netid": 100 + k})
    used = [2] * nodes
    for i in range(pods):
        k, j, node = i // (pods // namespaces), i % (pods // namespaces), i % nodes
        objs.append(pod_object(f"ns{k}", f"p{j}", str(subnets[node].network_address + used[node]), f"n{node}",
                               {"app": f"a{j % 10}", "role": f"r{j % 5}"}))
        used[node] += 1
    for m in range(policies):
        k, j = m % namespaces, m // namespaces
        objs.append(policy_object(f"ns{k}", f"np{j}", {"app": f"a{j % 10}"}, {"role": f"r{j % 5}"}, 8080))
    return objs


def pod_object(namespace: str, name: str, ip: str, node: str, labels: dict[str, str]) -> Obj:
    return {"kind": "Pod", "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "x",
                                                      "ports": [{"name": "http", "containerPort": 8080}]}]},
            "status": {"podIP": ip, "phase": "Running"}}


def policy_object(namespace: str, name: str, selected: dict[str, str], peers: dict[str, str],
                  port: int | None) -> Obj:
    rule: Obj = {"from": [{"podSelector": {"matchLabels": peers}}]}
    if port is not None:
        rule["ports"] = [{"protocol": "TCP", "port": port}]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"podSelector": {"matchLabels": selected}, "ingress": [rule]}}


def node_facts(objs: list[Obj], node: str) -> NodeFacts:
    local = [o for o in objs if o["kind"] == "Pod" and o["spec"]["nodeName"] == node]
    hs = next(o for o in objs if o["kind"] == "HostSubnet" and o["metadata"]["name"] == node)
    atts = tuple(LocalAttachment(p["metadata"]["namespace"], p["metadata"]["name"], p["status"]["podIP"],
                                 links.pod_mac(p["status"]["podIP"]), f"osdnp{i:010x}") for i, p in enumerate(local))
    return NodeFacts(node, hs["hostIP"], atts, uplinks=("osdnvx0",))


def best(fn: Callable[[], Any], runs: int = 3) -> tuple[float, Any]:
    """The fastest of `runs` calls (seconds) and the last result."""
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def rule_count(rs: Ruleset) -> int:
    return sum(len(c.rules) for t in rs.tables for c in t.chains)


# -- 2. apply at 10k pods / 1k policies ------------------------------------------------------------

def bench_apply(stack: contextlib.ExitStack, quick: bool) -> list[str]:
    pods, policies = 10_000, 1_000
    objs = cluster_objects(pods, policies)
    facts = node_facts(objs, "n0")
    runs = 1 if quick else 3
    t_compile, intent = best(lambda: compile_intent(objs, facts), runs)
    t_render, desired = best(lambda: render_node(intent), runs)
    ns = make_netns(stack, "apply")
    dp = stack.enter_context(Dataplane(ns))
    t_plan, todo = best(lambda: plan(desired, dp.observe()), runs)
    script = todo.script()
    applies, verifies = [], []
    for _ in range(runs):
        dp.teardown()
        t = time.perf_counter()
        dp.nft.run(script)
        applies.append(time.perf_counter() - t)
        t = time.perf_counter()
        dp.verify(intent)
        verifies.append(time.perf_counter() - t)
    dp.teardown()
    t_first, _ = best(lambda: dp.sync(intent), 1)
    t_noop_full, _ = best(lambda: dp.sync(intent, full=True), runs)
    t_noop, _ = best(lambda: dp.sync(intent), runs)
    # one pod more on this node (new object + lease): compile + incremental sync
    ip = "10.128.1.250"
    objs2 = [*objs, pod_object("ns0", "new", ip, "n0", {"app": "a0", "role": "r0"})]
    facts2 = replace(facts, attachments=(*facts.attachments,
                                         LocalAttachment("ns0", "new", ip, links.pod_mac(ip), "osdnpnew0000")))
    t_compile2, intent2 = best(lambda: compile_intent(objs2, facts2), 1)
    t_pod, stats_pod = best(lambda: dp.sync(intent2), 1)
    # one policy more, in a namespace that has policies: its namespace's chain is rewritten
    objs3 = [*objs2, policy_object("ns0", "extra", {"app": "a1"}, {"role": "r2"}, 9090)]
    t_compile3, intent3 = best(lambda: compile_intent(objs3, facts2), 1)
    t_pol, stats_pol = best(lambda: dp.sync(intent3), 1)
    scratch = t_render + t_plan + min(applies)
    return [
        f"cluster: {pods:,} pods, {policies:,} policies, 100 namespaces, 100 nodes; node n0 has "
        f"{len(facts.attachments)} local pods; ruleset {desired.element_count():,} set elements, "
        f"{rule_count(desired):,} rules, script {len(script) / 1e6:.1f} MB",
        f"  compile (API objects -> NodeIntent, model included)  {ms(t_compile):>10}",
        f"  render (intent -> ruleset)                            {ms(t_render):>10}",
        f"  observe the empty kernel + plan                       {ms(t_plan):>10}",
        f"  apply (one nft transaction)                           {ms(min(applies)):>10}",
        f"  = render + plan + apply, from scratch                 {ms(scratch):>10}   target < 300 ms",
        f"  verify (read both tables back, re-plan)               {ms(min(verifies)):>10}   "
        f"(+ verify: {ms(scratch + min(verifies))})",
        f"  Dataplane.sync, first sync (observe, plan, apply, verify) {ms(t_first):>6}",
        f"  periodic full resync, nothing to do (observe + plan)  {ms(t_noop_full):>10}",
        f"  incremental sync, nothing to do (plan vs memory)      {ms(t_noop):>10}",
        f"  one pod added: compile {ms(t_compile2)} + sync {ms(t_pod)} "
        f"(+{stats_pod.elements_added} elements, replaced {','.join(stats_pod.replaced_tables) or '-'})",
        f"  one policy added: compile {ms(t_compile3)} + sync {ms(t_pol)} "
        f"(+{stats_pol.elements_added} elements, replaced {','.join(stats_pol.replaced_tables) or '-'})",
    ]


# -- 4. the 200 x 200 policy ------------------------------------------------------------------------

def bench_scale() -> list[str]:
    objs = cluster_objects(0, 0, nodes=1, namespaces=1)
    objs += [pod_object("shop", f"web{i}", f"10.128.0.{i + 2}", "n0", {"app": "web"}) for i in range(200)]
    objs += [pod_object("shop", f"cli{i}", str(ipaddress.IPv4Address("10.128.0.0") + 256 + i), "n0",
                        {"role": "client"}) for i in range(200)]
    objs += [{"kind": "Namespace", "metadata": {"name": "shop"}},
             policy_object("shop", "web-from-clients", {"app": "web"}, {"role": "client"}, 8080)]
    facts = node_facts(objs, "n0")
    base = render_node(compile_intent([o for o in objs if o["kind"] != "NetworkPolicy"], facts))
    with_policy = render_node(compile_intent(objs, facts))
    rules = rule_count(with_policy) - rule_count(base)
    elements = with_policy.element_count() - base.element_count()
    per_set = {f"{s.name}": len(s.elements) for t in with_policy.tables for s in t.sets
               if s.name.startswith("np_") and s.elements}
    return ["policy selecting 200 pods, allowing 200 peer pods on TCP 8080, all 400 pods on one node:",
            f"  osdn: {rules} rules + {elements} set elements "
            f"({', '.join(f'{k} {v}' for k, v in per_set.items())})",
            f"  openshift-sdn: 200 x 200 = 40,000 OVS flows  ->  osdn needs {elements / 40000:.1%} of the entries"]


# -- 1. traffic -------------------------------------------------------------------------------------

CONNECT_SERVER = r"""
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(4096)
while True:
    try:
        c, _ = s.accept(); c.close()
    except OSError:
        pass
"""
CONNECT_CLIENT = r"""
import socket, struct, sys, time
addr, secs = (sys.argv[1], int(sys.argv[2])), float(sys.argv[3])
linger = struct.pack("ii", 1, 0)  # close with RST: no TIME_WAIT, the port range never runs dry
ok = bad = 0
start = time.perf_counter(); end = start + secs
while time.perf_counter() < end:
    for _ in range(50):
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger); s.settimeout(1)
        try:
            s.connect(addr); ok += 1
        except OSError:
            bad += 1
        s.close()
print(ok / (time.perf_counter() - start), bad)
"""


@dataclass(frozen=True)
class TNode:
    name: str
    netns: str
    ip: str  # underlay
    subnet: str
    gateway: str


@dataclass(frozen=True)
class TPod:
    name: str
    netns: str
    ip: str
    node: str
    veth: str


@dataclass
class Topology:
    nodes: dict[str, TNode]
    pods: dict[str, TPod]


def make_netns(stack: contextlib.ExitStack, short: str) -> str:
    name = PREFIX + short
    netns.ensure_netns(name)
    stack.callback(netns.delete_netns, name, True)
    return name


def build_topology(stack: contextlib.ExitStack) -> Topology:
    """Two nodes (bridge osdnbr0 + VXLAN osdnvx0 over an underlay veth) and pods on their bridges,
    made with osdn.kernel exactly as the agent and the CNI make them."""
    nodes = {"A": TNode("A", make_netns(stack, "nodeA"), "198.18.255.1", "10.128.0.0/23", "10.128.0.1"),
             "B": TNode("B", make_netns(stack, "nodeB"), "198.18.255.2", "10.128.2.0/23", "10.128.2.1")}
    links.with_netlink(nodes["A"].netns, lambda nl: links.ensure_veth(nl, "ul0", "ul0", nodes["B"].netns))
    for n in nodes.values():
        def up(nl: links.NL, n: TNode = n) -> None:
            links.ensure_addresses(nl, "ul0", [f"{n.ip}/24"])
            links.set_link(nl, "ul0", up=True)
        links.with_netlink(n.netns, up)
        links.ensure_node_bridge(n.netns, "osdnbr0", f"{n.gateway}/23", 1450)
        remote = [m.ip for m in nodes.values() if m is not n]
        links.ensure_vxlan(n.netns, "osdnvx0", 0, n.ip, 4789, remote, bridge="osdnbr0", mtu=1450)
    pods = {}
    for short, node, ip in (("a1", "A", "10.128.0.2"), ("a2", "A", "10.128.0.3"), ("a3", "A", "10.128.0.4"),
                            ("a4", "A", "10.128.0.5"), ("b1", "B", "10.128.2.2")):
        n = nodes[node]
        pod = TPod(short, make_netns(stack, short), ip, node, f"osdnp{short}")
        links.ensure_pod_interface(links.PodInterface(
            n.netns, pod.netns, "osdnbr0", pod.veth, f"{ip}/23", n.gateway, mtu=1450,
            routes=tuple(links.default_pod_routes(n.gateway, [CLUSTER_CIDR]))))
        pods[short] = pod
    return Topology(nodes, pods)


def traffic_intent(node: str, peers: int, pods: dict[str, TPod], nodes: dict[str, TNode]) -> NodeIntent:
    """Node `node`'s intent: with `peers` > 0 pod a2 is isolated and a policy lets a1 and b1 (and
    `peers - 2` other addresses, all in one rule's peer set) in on the two test ports."""
    me = nodes[node]
    policies: tuple[Policy, ...] = ()
    if peers:
        filler = ipaddress.IPv4Address("10.129.0.0")
        peer_ips = {pods["a1"].ip, pods["b1"].ip} | {str(filler + i) for i in range(peers - 2)}
        rule = PolicyRule(peer_ips=frozenset(peer_ips), all_ports=False, ports=frozenset(
            {PortRange("tcp", IPERF_PORT, IPERF_PORT), PortRange("tcp", CONNECT_PORT, CONNECT_PORT)}))
        policies = (Policy("bench", "allow-clients", frozenset({pods["a2"].ip}), ingress_rules=(rule,)),)
    return NodeIntent(
        mode="networkpolicy", node_name=node, cluster_cidrs=(CLUSTER_CIDR,), service_cidr="172.30.0.0/16",
        local_subnet=me.subnet, gateway=me.gateway, node_ip=me.ip,
        nodes=tuple(Node(n.name, n.ip, n.subnet, n.gateway) for n in nodes.values()),
        pods=tuple(ClusterPod(p.ip, "bench", NetID(0), p.node) for p in pods.values()),
        local_pods=tuple(LocalPod(p.ip, links.pod_mac(p.ip), p.veth) for p in pods.values() if p.node == node),
        uplinks=("osdnvx0",), policies=policies)


def start_servers(stack: contextlib.ExitStack, pod: TPod) -> None:
    for argv in (["iperf3", "-s", "-p", str(IPERF_PORT)], [sys.executable, "-c", CONNECT_SERVER, str(CONNECT_PORT)]):
        argv = [*SERVER_CPU, *argv]
        proc = netns.spawn_in_netns(pod.netns, argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        stack.callback(stop_process, proc)
    deadline = time.monotonic() + 10
    while not all(probe(pod, pod.ip, port) for port in (IPERF_PORT, CONNECT_PORT)):
        if time.monotonic() > deadline:
            raise SystemExit(f"servers in {pod.netns} did not start")
        time.sleep(0.05)


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def probe(src: TPod, ip: str, port: int, timeout: float = 0.5) -> bool:
    def attempt() -> bool:
        try:
            with socket.create_connection((ip, port), timeout=timeout):
                return True
        except OSError:
            return False
    return netns.run_in_netns(src.netns, attempt)


def iperf(src: TPod, dst: TPod, secs: float) -> float:
    out = netns.run_cmd(src.netns, [*CLIENT_CPU, "iperf3", "-c", dst.ip, "-p", str(IPERF_PORT), "-t", f"{secs:g}", "-J"],
                        timeout=secs + 30)
    return float(json.loads(out.stdout)["end"]["sum_received"]["bits_per_second"]) / 1e9


def connect_rate(src: TPod, dst: TPod, secs: float) -> float:
    out = netns.run_cmd(src.netns, [*CLIENT_CPU, sys.executable, "-c", CONNECT_CLIENT, dst.ip, str(CONNECT_PORT),
                                    f"{secs:g}"],
                        timeout=secs + 30)
    rate, failed = out.stdout.split()
    if int(failed):
        print(f"  warning: {failed} connects from {src.name} failed", flush=True)
    return float(rate)


SCENARIOS = (("none", "no osdn tables", -1), ("base", "osdn ruleset, no policy", 0),
             ("1k", "a2 isolated, peer set of 1,000", 1_000), ("10k", "a2 isolated, peer set of 10,000", 10_000),
             ("100k", "a2 isolated, peer set of 100,000", 100_000))


def bench_traffic(stack: contextlib.ExitStack, quick: bool, cross: bool) -> list[str]:
    """Per ruleset, the same client alternately to a4 (never isolated: the no-policy path, the
    baseline) and to a2 (isolated, allowed by the rule with the big peer set), so each policy figure
    has a baseline measured seconds apart under the same load. In the first two rows neither is
    isolated: their ratio is the noise of the method."""
    topo = build_topology(stack)
    pods, nodes = topo.pods, topo.nodes
    dps = {n: stack.enter_context(Dataplane(nodes[n].netns)) for n in nodes}
    start_servers(stack, pods["a2"])
    start_servers(stack, pods["a4"])
    clients = [("same node", pods["a1"])] + ([("cross node", pods["b1"])] if cross else [])
    rounds, secs, conn_secs = (2, 1.0, 0.5) if quick else (8, 1.0, 1.0)
    got: dict[tuple[str, str, str, str], list[float]] = {}  # (scenario, pair, dest, metric) -> values
    loads: dict[str, float] = {}
    busy = 0
    for key, _, peers in SCENARIOS:
        t = time.perf_counter()
        for n, dp in dps.items():
            if peers < 0:
                dp.teardown()
            else:
                dp.sync(traffic_intent(n, peers, pods, nodes))
        loads[key] = time.perf_counter() - t
        check_enforcement(pods, isolated=peers > 0)
        for r in range(rounds):
            for label, src in clients:
                busy += not await_quiet()
                for dest in (("a4", "a2") if r % 2 == 0 else ("a2", "a4")):
                    got.setdefault((key, label, dest, "gbps"), []).append(iperf(src, pods[dest], secs))
                    got.setdefault((key, label, dest, "cps"), []).append(connect_rate(src, pods[dest], conn_secs))
        print(f"  {key}: done (load {load()})", flush=True)
    lines = [f"clients a1 (same bridge) and b1 (other node, VXLAN) -> a4 (not isolated: the baseline) and a2 "
             f"(isolated; allowed by the rule whose peer set holds the elements), alternately, {rounds} rounds;",
             f"iperf3 one stream {secs:g} s; Python connect loop {conn_secs:g} s (RST close). ratio = a2 / a4: median "
             "of the per-round ratios [lowest - highest]",
             f"{'pair':<10} {'ruleset':<33} {'Gbit/s a4':>9} {'a2':>6} {'ratio':>6} {'(range)':>12}  "
             f"{'conn/s a4':>9} {'a2':>7} {'ratio':>6} {'(range)':>12} {'load':>7}"]
    for label, _ in clients:
        for key, title, _ in SCENARIOS:
            cells = []
            for metric, fmt in (("gbps", "{:>9.2f} {:>6.2f}"), ("cps", "{:>9,.0f} {:>7,.0f}")):
                base, pol = got[(key, label, "a4", metric)], got[(key, label, "a2", metric)]
                ratios = [b / a for a, b in zip(base, pol, strict=True)]
                cells.append(fmt.format(statistics.median(base), statistics.median(pol))
                             + f" {statistics.median(ratios):>6.1%} {f'[{min(ratios):.0%}-{max(ratios):.0%}]':>12}")
            lines.append(f"{label:<10} {title:<33} {'  '.join(cells)} {loads[key] * 1000:>5.0f}ms")
    lines.append("target: a2 >= 95 % of a4. load: putting that row's ruleset into both nodes' kernels (element "
                 "diff from the row above)")
    lines.append(f"each a4/a2 pair waited (up to 3 s) for the other jobs on the machine to leave the CPUs idle; "
                 f"{busy} of {rounds * len(clients) * len(SCENARIOS)} pairs ran while they did not")
    return lines


def cpu_busy(interval: float = 0.25) -> float:
    """Share of the machine's CPU time spent non-idle over `interval` (all CPUs, from /proc/stat)."""
    def sample() -> tuple[int, int]:
        with open("/proc/stat") as fh:
            values = [int(v) for v in fh.readline().split()[1:]]
        return sum(values), values[3] + values[4]  # total, idle + iowait
    total0, idle0 = sample()
    time.sleep(interval)
    total1, idle1 = sample()
    return 1.0 - (idle1 - idle0) / max(1, total1 - total0)


def await_quiet(limit: float = 3.0, threshold: float = 0.15) -> bool:
    """Wait until other jobs leave the CPUs (nearly) idle, at most `limit` seconds; True if they did.
    The bench's own traffic is not running while it waits, so what it sees is somebody else's."""
    deadline = time.monotonic() + limit
    while cpu_busy() > threshold:
        if time.monotonic() > deadline:
            return False
    return True


def check_enforcement(pods: dict[str, TPod], isolated: bool) -> None:
    """The measured pairs are allowed; with a policy, a3 (not a peer) is refused: a2 is really isolated."""
    assert probe(pods["a3"], pods["a4"].ip, CONNECT_PORT, 2.0), "a3 -> a4 must be allowed"
    assert probe(pods["a1"], pods["a2"].ip, CONNECT_PORT, 2.0), "a1 -> a2 must be allowed"
    assert probe(pods["b1"], pods["a2"].ip, CONNECT_PORT, 2.0), "b1 -> a2 must be allowed"
    refused = not probe(pods["a3"], pods["a2"].ip, CONNECT_PORT, 0.3)
    assert refused == isolated, f"a3 -> a2 {'connected' if not refused else 'refused'} (isolated={isolated})"


# -- 3. policy latency in a real lab ------------------------------------------------------------

@dataclass
class LabNodes:
    nft: dict[str, Nft]
    web_ip: dict[str, str]  # node -> its web pod's IP

    def has(self, node: str, set_name: str, elem: str) -> bool:
        try:
            self.nft[node].run(f"get element inet osdn {set_name} {{ {elem} }}")
            return True
        except KernelError:
            return False

    def has_policy(self, node: str, pid: int) -> bool:
        """The policy (ids as in render.policy) selects this node's web pod and its rule lists node1's."""
        return (self.has(node, "np_tgt", f"{pid} . {self.web_ip[node]}")
                and self.has(node, "np_pip", f"{pid + 1} . {self.web_ip['node1']}"))

    def wait_all(self, cond: Callable[[str], bool], t0: float, want: bool = True,
                 timeout: float = 10.0) -> dict[str, float]:
        """Seconds from `t0` until `cond(node)` is `want`, per node (polled every ~2 ms)."""
        seen: dict[str, float] = {}
        while len(seen) < len(self.nft):
            for n in self.nft:
                if n not in seen and cond(n) == want:
                    seen[n] = time.perf_counter() - t0
            if time.perf_counter() - t0 > timeout:
                raise SystemExit(f"not enforced on {sorted(set(self.nft) - set(seen))} after {timeout:.0f}s")
            time.sleep(0.002)
        return seen


def start_lab(stack: contextlib.ExitStack, keep_logs: str = "") -> cluster.LabInfo:
    name = f"bdp{os.getpid() % 100000}"
    lab_dir = tempfile.mkdtemp(prefix=f"osdn-bench-{name}-")
    stack.callback(shutil.rmtree, lab_dir, True)
    if keep_logs:
        stack.callback(copy_logs, lab_dir, keep_logs)
    stack.callback(cluster.down, name, lab_dir)
    return cluster.up(cluster.UpOptions(name=name, nodes=3, mode="networkpolicy", lab_dir=lab_dir),
                      lambda msg: None)


def copy_logs(lab_dir: str, dest: str) -> None:
    os.makedirs(dest, exist_ok=True)
    for entry in os.listdir(lab_dir):
        if entry.endswith(".log"):
            shutil.copy(os.path.join(lab_dir, entry), dest)
    print(f"lab logs copied to {dest}", flush=True)


def bench_latency(stack: contextlib.ExitStack, quick: bool, keep_logs: str = "") -> list[str]:
    info = start_lab(stack, keep_logs)
    client = stack.enter_context(Client(load_config(info.admin_conf)))
    for i, node in enumerate(info.nodes):
        create_pod(client, PodRequest(f"web{i}", "bench", node.name, {"app": "web"}, "python", [80]))
    lab = LabNodes({n.name: stack.enter_context(Nft(n.netns)) for n in info.nodes},
                   {n.name: wait_pod_ip(client, "bench", f"web{i}") for i, n in enumerate(info.nodes)})
    time.sleep(1.5)  # let the pods' syncs pass and the agents' token buckets (min-sync-period 1 s) refill
    rounds = 10 if quick else 30
    adds, dels = [], []
    for r in range(rounds):
        name = f"lat-{r}"
        pid = policy_id(name)
        t0 = time.perf_counter()
        client.create(policy_object("bench", name, {"app": "web"}, {"app": "web"}, None), namespace="bench")
        adds.append(max(lab.wait_all(partial(lab.has_policy, pid=pid), t0).values()))
        time.sleep(1.0)
        t0 = time.perf_counter()
        client.delete("NetworkPolicy", name, "bench")
        dels.append(max(lab.wait_all(partial(lab.has_policy, pid=pid), t0, want=False).values()))
        time.sleep(1.0)
    burst = bench_burst(client, lab, 5)
    peer_lag = bench_peer_pods(stack, client, lab, info, 3 if quick else 6)
    cli = bench_cli_create(info, lab)
    return [
        "lab: 3 nodes, agents with the defaults (min-sync-period 1 s, burst 2, sync-period 30 s), a pod per node;",
        f"from the API create (the HTTP POST `osdn create -f` makes) until every node's kernel holds the policy's "
        f"elements; {rounds} rounds, 1 s between requests",
        f"  policy create -> enforced on all 3 nodes  p50 {ms(pct(adds, .5)):>8}  p99 {ms(pct(adds, .99)):>8}  "
        f"max {ms(max(adds)):>8}   target p99 < 200 ms",
        f"  policy delete -> gone from all 3 nodes    p50 {ms(pct(dels, .5)):>8}  p99 {ms(pct(dels, .99)):>8}  "
        f"max {ms(max(dels)):>8}",
        f"  5 policies created back to back: enforced after {', '.join(f'{x * 1000:.0f}' for x in burst)} ms "
        "(creates that arrive while a sync runs share the next one; at most 2 syncs back to back, then one "
        "per min-sync-period)",
        f"  new peer pod: its IP's watch event -> allowed on all nodes  p50 {ms(pct(peer_lag, .5))}  "
        f"max {ms(max(peer_lag))} ({len(peer_lag)} pods, one node after the other)",
        f"  `osdn create -f` as a process: exits after {ms(cli[0])}; enforced on all nodes {ms(cli[1])} after "
        f"its start (Python start-up and imports included)",
    ]


def policy_id(name: str) -> int:
    """The policy's id in the nft sets (render.policy's, with no other policy around)."""
    return policy_ids((Policy("bench", name, frozenset()),))[("bench", name)]


def bench_burst(client: Client, lab: LabNodes, count: int) -> list[float]:
    """`count` creates in a row: when each is enforced everywhere (seconds from the first create)."""
    names = [f"burst-{i}" for i in range(count)]
    time.sleep(2.0)  # the token buckets full again: the burst starts from a quiet cluster
    t0 = time.perf_counter()
    for name in names:
        client.create(policy_object("bench", name, {"app": "web"}, {"app": "web"}, None), namespace="bench")
    done = [max(lab.wait_all(partial(lab.has_policy, pid=policy_id(name)), t0).values()) for name in names]
    time.sleep(1.5)
    for name in names:
        client.delete("NetworkPolicy", name, "bench")
    for name in names:
        lab.wait_all(partial(lab.has_policy, pid=policy_id(name)), time.perf_counter(), want=False)
    time.sleep(2.0)
    return done


def bench_peer_pods(stack: contextlib.ExitStack, client: Client, lab: LabNodes, info: cluster.LabInfo,
                    count: int) -> list[float]:
    """A policy allows role=client; each new client pod (on each node in turn) must reach every kernel's
    peer set. Timed from the moment a watch (like the agents' informers) delivers the pod's IP."""
    client.create(policy_object("bench", "peers", {"app": "web"}, {"role": "client"}, None), namespace="bench")
    rid = policy_id("peers") + 1
    seen_ip: dict[str, tuple[str, float]] = {}

    def on_pod(_type: str, new: Obj | None, _old: Obj | None) -> None:
        ip = ((new or {}).get("status") or {}).get("podIP")
        if new is not None and ip and new["metadata"]["name"] not in seen_ip:
            seen_ip[new["metadata"]["name"]] = (str(ip), time.perf_counter())

    informer = Informer(load_config(info.admin_conf), "Pod", namespace="bench", handlers=[on_pod]).start()
    stack.callback(informer.stop)
    informer.wait_synced(10)
    time.sleep(1.5)
    lags = []
    for i in range(count):
        name = f"cli{i}"
        create_pod(client, PodRequest(name, "bench", info.nodes[i % len(info.nodes)].name, {"role": "client"},
                                      "python", [80]))
        deadline = time.monotonic() + 60
        while name not in seen_ip and time.monotonic() < deadline:
            time.sleep(0.005)
        ip, t0 = seen_ip[name]
        lags.append(max(lab.wait_all(partial(lab.has, set_name="np_pip", elem=f"{rid} . {ip}"), t0).values()))
        time.sleep(1.5)
    client.delete("NetworkPolicy", "peers", "bench")
    time.sleep(1.5)
    return lags


def bench_cli_create(info: cluster.LabInfo, lab: LabNodes) -> tuple[float, float]:
    name = "via-cli"
    pid = policy_id(name)
    manifest = json.dumps(policy_object("bench", name, {"app": "web"}, {"app": "web"}, None))
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "osdn", "--config", info.admin_conf, "create", "-f", "-"],
                   input=manifest, text=True, check=True, capture_output=True)
    exited = time.perf_counter() - t0
    seen = lab.wait_all(lambda n: lab.has_policy(n, pid), t0)
    return exited, max(seen.values())


# -- main -------------------------------------------------------------------------------------------

def leftovers() -> list[str]:
    return netns.list_netns(PREFIX) + cluster.leftovers(f"bdp{os.getpid() % 100000}")


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """SIGTERM and SIGHUP end the run like Ctrl-C does: through the cleanup."""
    def stop(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")
    old = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short runs, fewer rounds (about 1 minute)")
    ap.add_argument("--only", default="traffic,apply,latency,scale",
                    help="comma-separated sections: traffic, apply, latency, scale")
    ap.add_argument("--no-cross-node", action="store_true", help="traffic: same-node pair only")
    ap.add_argument("--keep-lab-logs", default="", metavar="DIR", help="latency: copy the lab's logs to DIR")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench/dataplane.py needs root (network namespaces, nftables)")
    only = set(args.only.split(","))
    report = Report()
    header = (f"osdn data-plane benchmark: {os.cpu_count()} cores, load {load()} at start, "
              f"{'--quick' if args.quick else 'full run'}")
    print(header, flush=True)
    started = time.perf_counter()
    ok = False
    try:
        with interruptible(), contextlib.ExitStack() as stack:
            if "scale" in only:
                report.section("200 x 200 policy (rules and elements)", bench_scale())
            if "apply" in only:
                report.section("full ruleset apply at 10k pods / 1k policies", bench_apply(stack, args.quick))
            if "traffic" in only:
                with contextlib.ExitStack() as tstack:
                    report.section("pod-to-pod traffic vs the no-policy baseline",
                                   bench_traffic(tstack, args.quick, not args.no_cross_node))
            if "latency" in only:
                lines = bench_latency(stack, args.quick, args.keep_lab_logs)
                report.section("policy create -> kernel on every node (real lab)", lines)
        ok = True
    finally:
        left = leftovers()
        print(f"\ncleanup: {'nothing left' if not left else 'LEFT: ' + ', '.join(left)}", flush=True)
    if ok:
        report.print(header + f"; load {load()} at the end; {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
