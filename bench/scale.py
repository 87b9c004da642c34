"""Change -> kernel latency on every node of a real lab holding 10,000 pods, 1,000 NetworkPolicies and
1,000 services (bench/services.py `--only latency`; item 4 of issue 11).

The lab has 3 nodes (agents with their defaults: min-sync-period 1 s, burst 2, sync-period 30 s).
Its kubelet is stopped first: the 10,000 pods are API objects on 97 other ("ghost") nodes, given an
IP and Ready through their status, as a real cluster's other nodes would report them; so every lab
agent holds them all in its sets, and the endpoints controller builds the 1,000 services' Endpoints
from them. Then, one round after the other; each measured write comes once no object of a kind the
agents sync on has changed for `REFILL` s, in any namespace (the controllers' follow-on writes, e.g. the
Endpoints and slices after a pod add, included; at most `QUIET_CAP` s of waiting), so it meets a full
token bucket (min-sync-period 1 s, burst 2: a change that comes right behind two others waits for the
bucket by design, as in kube-proxy; that wait is not measured):
- policy create: a new NetworkPolicy -> its peer element (`np_pip`) in every node's kernel;
- pod add: a pod's status gets its IP (it is a peer of an existing policy) -> `np_pip` everywhere;
- endpoint change: a service's first Endpoints address is written -> its `svc_dispatch` entry everywhere.
Each figure runs from just before the API write until each node's kernel committed the element: a
netlink listener per node namespace (bench/nft_probe.py, the group `nft monitor` reads) timestamps the
NEWSETELEM notification the kernel sends while it commits the agent's transaction, so no node waits for
another's check and nothing reloads the 32k-element table (the previous probe, a `get element` per node
one after the other, cost libnftables ~0.6 s per node and per commit). Per node, and for the slowest
node also from the moment the bench's own informer saw the watch event: the first includes the API
server and the watch, the second is about the agents' own part. The rounds start once the endpoints
controller has written the 1,000 services' Endpoints (until then its writes keep the agents syncing).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from nft_probe import CommitProbe
from nft_probe import key as nft_key

from osdn.client import Client, load_config
from osdn.errors import KernelError
from osdn.kernel.nft import Nft
from osdn.lab import cluster
from osdn.lab.state import load_state
from osdn.master.endpoints import MANAGED_LABEL
from osdn.node.intent import Policy
from osdn.node.render.policy import policy_ids

Obj = dict[str, Any]
PODS, POLICIES, SERVICES, NAMESPACES, GHOSTS = 10_000, 1_000, 1_000, 100, 97
REFILL = 2.2  # s: the token bucket (burst 2, one token per min-sync-period of 1 s) is full again
GHOST_NET = ipaddress.IPv4Network("10.130.0.0/15")  # inside the lab's 10.128.0.0/14, beside the lab nodes'


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * p))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def pod_ip(i: int) -> str:
    return str(GHOST_NET.network_address + 2 + i)


def pod_obj(ns: str, name: str, j: int, node: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns,
                                                             "labels": {"app": f"a{j % 10}", "role": f"r{j % 5}"}},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "x",
                                                      "ports": [{"name": "http", "containerPort": 8080}]}]}}


def ready_status(ip: str) -> Obj:
    return {"status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def policy_obj(ns: str, name: str, j: int) -> Obj:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": name, "namespace": ns},
            "spec": {"podSelector": {"matchLabels": {"app": f"a{j % 10}"}},
                     "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": f"r{j % 5}"}}}],
                                  "ports": [{"protocol": "TCP", "port": 8080}]}]}}


def service_obj(ns: str, name: str, j: int | None) -> Obj:
    spec: Obj = {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]}
    if j is not None:
        spec["selector"] = {"app": f"a{j % 10}"}
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns}, "spec": spec}


def in_parallel(conf: str, jobs: list[Callable[[Client], object]], threads: int = 4) -> None:
    clients = [Client(load_config(conf)) for _ in range(threads)]
    try:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda ij: ij[1](clients[ij[0] % threads]), enumerate(jobs)))
    finally:
        for c in clients:
            c.close()


def populate(conf: str) -> dict[str, list[int]]:
    """The cluster: namespaces, ghost pods (then their IPs), policies, services. Pod indexes per ns."""
    in_parallel(conf, [lambda c, k=k: c.create({"apiVersion": "v1", "kind": "Namespace",
                                                "metadata": {"name": f"ns{k}"}}) for k in range(NAMESPACES)])
    per_ns = PODS // NAMESPACES
    by_ns: dict[str, list[int]] = {f"ns{k}": [] for k in range(NAMESPACES)}
    jobs: list[Callable[[Client], object]] = []
    for i in range(PODS):
        ns, j = f"ns{i // per_ns}", i % per_ns
        by_ns[ns].append(i)
        jobs.append(lambda c, ns=ns, j=j, i=i: c.create(pod_obj(ns, f"p{j}", j, f"ghost{i % GHOSTS}"), ns))
    in_parallel(conf, jobs)
    in_parallel(conf, [lambda c, i=i: c.patch("Pod", f"p{i % per_ns}", ready_status(pod_ip(i)), f"ns{i // per_ns}",
                                              subresource="status") for i in range(PODS)])
    in_parallel(conf, [lambda c, m=m: c.create(policy_obj(f"ns{m % NAMESPACES}", f"np{m // NAMESPACES}",
                                                          m // NAMESPACES), f"ns{m % NAMESPACES}")
                       for m in range(POLICIES)])
    in_parallel(conf, [lambda c, m=m: c.create(service_obj(f"ns{m % NAMESPACES}", f"s{m // NAMESPACES}",
                                                           m // NAMESPACES), f"ns{m % NAMESPACES}")
                       for m in range(SERVICES)])
    return by_ns


class Kernels:
    """Every lab node's kernel: a commit-time probe per node namespace (bench/nft_probe.py), and
    libnftables handles for the one-off checks (the bulk load settled, a probe that saw nothing)."""

    def __init__(self, stack: contextlib.ExitStack, info: cluster.LabInfo) -> None:
        self.stack = stack
        self.nft = {n.name: stack.enter_context(Nft(n.netns)) for n in info.nodes}
        self.netns = {n.name: n.netns for n in info.nodes}
        self.probes: dict[str, CommitProbe] = {}

    def start_probes(self) -> None:
        """After the bulk load: its commits would have sent a notification per element (32k each)."""
        for node, ns in self.netns.items():
            self.probes[node] = probe = CommitProbe(ns)
            self.stack.callback(probe.close)

    def has(self, node: str, set_name: str, elem: str) -> bool:
        try:
            self.nft[node].run(f"get element inet osdn {set_name} {{ {elem} }}")
            return True
        except KernelError:
            return False

    def settle(self, set_name: str, elem: str, timeout: float) -> float:
        """Seconds until every node holds `elem`, polled with `get element` (each costs libnftables
        a reload of the table's ~32k elements: fine once, not for the measured rounds)."""
        t0 = time.perf_counter()
        left = set(self.nft)
        while left:
            left = {n for n in left if not self.has(n, set_name, elem)}
            if left and time.perf_counter() - t0 > timeout:
                raise SystemExit(f"{set_name} {{ {elem} }} not on {sorted(left)} after {timeout:.0f}s")
            time.sleep(0.1 if left else 0)
        return time.perf_counter() - t0

    def expect(self, set_name: str, raw: bytes) -> None:
        """Before the write: record when `raw` (key bytes, nft_probe.key) is committed on each node."""
        for probe in self.probes.values():
            probe.expect(set_name, raw)

    def wait_all(self, set_name: str, raw: bytes, text: str, t0: float, timeout: float = 20.0) -> dict[str, float]:
        """Per node, seconds from `t0` until the kernel committed the element (`expect`ed before)."""
        while True:
            seen = {n: p.seen(set_name, raw) for n, p in self.probes.items()}
            if all(v is not None for v in seen.values()):
                return {n: v - t0 for n, v in seen.items() if v is not None}
            if time.perf_counter() - t0 > timeout:
                missing = sorted(n for n, v in seen.items() if v is None)
                there = [n for n in missing if self.has(n, set_name, text)]
                raise SystemExit(f"{set_name} {{ {text} }}: no commit seen on {missing} after {timeout:.0f}s "
                                 f"(in the kernel all the same: {there or 'none'}; notifications lost: "
                                 f"{ {n: p.lost for n, p in self.probes.items()} })")
            time.sleep(0.001)


def stop_kubelet(lab_dir: str) -> None:
    state = load_state(lab_dir)
    for p in state.processes if state else []:
        if p.role == "kubelet":
            os.kill(p.pid, signal.SIGTERM)


def start_lab(stack: contextlib.ExitStack) -> cluster.LabInfo:
    name = f"bsv{os.getpid() % 100000}"
    lab_dir = tempfile.mkdtemp(prefix=f"osdn-bench-{name}-")
    stack.callback(shutil.rmtree, lab_dir, True)
    stack.callback(cluster.down, name, lab_dir)
    keep = os.environ.get("OSDN_BENCH_KEEP_LOGS")
    if keep:  # the agents' logs survive the lab
        stack.callback(lambda: shutil.copytree(lab_dir, keep, dirs_exist_ok=True,
                                               ignore=lambda d, names: [n for n in names if not n.endswith(".log")]))
    return cluster.up(cluster.UpOptions(name=name, nodes=3, mode="networkpolicy", lab_dir=lab_dir), lambda m: None)


Round = tuple[dict[str, float], float]  # per node: seconds from the API write; the slowest from the watch event


def bench_scale_latency(stack: contextlib.ExitStack, quick: bool) -> list[str]:
    info = start_lab(stack)
    stop_kubelet(info.dir)
    t = time.perf_counter()
    populate(info.admin_conf)
    made = time.perf_counter() - t
    client = stack.enter_context(Client(load_config(info.admin_conf)))
    kernels = Kernels(stack, info)
    keys = {(f"ns{m % NAMESPACES}", f"np{m // NAMESPACES}") for m in range(POLICIES)}
    last = pod_ip(PODS - 1)  # ns99/p99: role r4, a peer of ns99/np4
    settle = kernels.settle("np_pip", f"{policy_id(keys, ('ns99', 'np4')) + 1} . {last}", 180)
    controllers = endpoints_done(client)
    kernels.start_probes()
    watch = Watch(stack, info.admin_conf)
    rounds = 8 if quick else 30
    got: dict[str, list[Round]] = {"policy create": [], "pod add (its IP)": [], "endpoint change": []}
    loads = [os.getloadavg()[0]]
    for r in range(rounds):
        got["policy create"].append(round_policy(client, kernels, watch, keys, r))
        got["pod add (its IP)"].append(round_pod(client, kernels, watch, keys, r))
        got["endpoint change"].append(round_endpoint(client, kernels, watch, r))
        loads.append(os.getloadavg()[0])
    lines = [f"lab: 3 nodes; API objects: {PODS:,} pods (on {GHOSTS} ghost nodes, with IPs, Ready), {POLICIES:,} "
             f"NetworkPolicies, {SERVICES:,} services with their Endpoints; written in {made:.0f} s, "
             f"every node's kernel had them {settle:.1f} s after the last write, the endpoints controller had "
             f"written all Endpoints {controllers:.0f} s later (the rounds start 5 s after that)",
             f"{rounds} rounds per change, each write once nothing the agents sync on changed for {REFILL} s "
             f"(in any namespace; {watch.capped} writes gave up waiting after {QUIET_CAP:.0f} s); per node, until its kernel "
             "committed the element (netlink NEWSETELEM notification; target p99 < 100 ms on every node), from the "
             "API write, and for the slowest node also from the watch event (the bench's own informer); "
             f"load (1 min) {min(loads):.1f}-{max(loads):.1f} during the rounds ({loads[0]:.1f} at the first, "
             f"{loads[-1]:.1f} at the end)"]
    return lines + latency_rows(got)


def latency_rows(got: dict[str, list[Round]]) -> list[str]:
    row = "  {:<16} {:<28} p50 {:>9}  p99 {:>9}  max {:>9}"
    lines = []
    for what, rounds in got.items():
        nodes = sorted(rounds[0][0])
        series = [(f"{n}, from the API write", [r[0][n] for r in rounds]) for n in nodes]
        series += [("all nodes, from the API write", [max(r[0].values()) for r in rounds]),
                   ("all nodes, from the watch event", [r[1] for r in rounds])]
        lines += [row.format(what, label, ms(pct(v, .5)), ms(pct(v, .99)), ms(max(v))) for label, v in series]
        slow = [f"#{i} " + "/".join(f"{t[0][n] * 1000:.0f}" for n in nodes) for i, t in enumerate(rounds)
                if max(t[0].values()) >= 0.1]
        lines.append(f"  {'':<16} rounds >= 100 ms on some node ({'/'.join(nodes)}, ms): {', '.join(slow) or 'none'}")
    return lines


def endpoints_done(client: Client, timeout: float = 300) -> float:
    """Seconds until the endpoints controllers have written the Endpoints and EndpointSlices of all
    1,000 services, plus 5 s for the agents' syncs of the last ones: until then each of their writes
    is an event every agent syncs (the model already forwarded to the selected pods, so the syncs
    change nothing, but they spend the token bucket a measured change would meet)."""
    t0 = time.perf_counter()
    while (len(client.list("Endpoints", label_selector=MANAGED_LABEL).get("items") or []) < SERVICES
           or len(client.list("EndpointSlice").get("items") or []) < SERVICES):
        if time.perf_counter() - t0 > timeout:
            raise SystemExit(f"the endpoints controllers did not write {SERVICES} Endpoints and slices in "
                             f"{timeout:.0f} s")
        time.sleep(1)
    time.sleep(5)
    return time.perf_counter() - t0


QUIET_KINDS = ("Pod", "NetworkPolicy", "Service", "Endpoints", "EndpointSlice")  # what the agents sync on
QUIET_CAP = 10.0  # s: a measured write waits at most this long for the cluster to be quiet


class Watch:
    """When the bench's own informers saw each measured object (the agents watch the same server), and
    when any object of the kinds the agents sync on last changed, in any namespace: the controllers'
    follow-on writes (an Endpoints update after a pod add, the slice mirrored from a manual Endpoints
    1-2 s later) spend the agents' tokens too, so a measured write waits until they have stopped."""

    def __init__(self, stack: contextlib.ExitStack, conf: str) -> None:
        from osdn.client.informer import Informer

        self.seen: dict[tuple[str, str], float] = {}
        self.last_change = time.perf_counter()
        self.capped = 0  # measured writes that did not find REFILL s of quiet within QUIET_CAP
        for kind, ns in (("NetworkPolicy", "ns5"), ("Pod", "ns7"), ("Endpoints", "ns9")):
            inf = Informer(load_config(conf), kind, namespace=ns, handlers=[self._handler(kind)]).start()
            stack.callback(inf.stop)
            inf.wait_synced(60)
        for kind in QUIET_KINDS:
            inf = Informer(load_config(conf), kind, handlers=[self._changed]).start()
            stack.callback(inf.stop)
            inf.wait_synced(120)

    def _changed(self, _type: str, _new: Obj | None, _old: Obj | None) -> None:
        self.last_change = time.perf_counter()

    def quiet(self, seconds: float) -> None:
        """Until nothing the agents sync on changed for `seconds` (at most QUIET_CAP): a full token bucket."""
        start = time.perf_counter()
        while True:
            now = time.perf_counter()
            left = self.last_change + seconds - now
            if left <= 0:
                return
            if now - start >= QUIET_CAP:
                self.capped += 1
                return
            time.sleep(min(left, 0.05))

    def _handler(self, kind: str) -> Callable[[str, Obj | None, Obj | None], None]:
        def on_event(_type: str, new: Obj | None, _old: Obj | None) -> None:
            if new is not None and (kind != "Pod" or (new.get("status") or {}).get("podIP")):
                self.seen.setdefault((kind, new["metadata"]["name"]), time.perf_counter())
        return on_event

    def lag(self, kind: str, name: str, done: float) -> float:
        """Seconds from the watch event of `name` to `done` (waits for the event)."""
        deadline = time.monotonic() + 60
        while (kind, name) not in self.seen and time.monotonic() < deadline:
            time.sleep(0.002)
        return done - self.seen[(kind, name)]


def policy_id(keys: set[tuple[str, str]], key: tuple[str, str]) -> int:
    return policy_ids(tuple(Policy(ns, name, frozenset()) for ns, name in keys))[key]


def measure(kernels: Kernels, watch: Watch, set_name: str, elem: tuple[str, tuple[str | int, ...]],
            write: Callable[[], object], kind: str, name: str) -> Round:
    """`write` once the bucket is full again (nothing synced on for `REFILL` s); per node, seconds until
    the element is committed."""
    fields, values = elem
    raw = nft_key(fields, *values)
    kernels.expect(set_name, raw)
    watch.quiet(REFILL)
    t0 = time.perf_counter()
    write()
    per_node = kernels.wait_all(set_name, raw, " . ".join(map(str, values)), t0)
    return per_node, watch.lag(kind, name, t0 + max(per_node.values()))


def round_policy(client: Client, kernels: Kernels, watch: Watch, keys: set[tuple[str, str]], r: int) -> Round:
    """ns5/lat-r: selects app a1, peers role r2 (ns5/p2 is one: index 502)."""
    name = f"lat-{r}"
    pid = policy_id(keys | {("ns5", name)}, ("ns5", name))
    obj = policy_obj("ns5", name, 1)
    obj["spec"]["ingress"] = [{"from": [{"podSelector": {"matchLabels": {"role": "r2"}}}]}]
    took = measure(kernels, watch, "np_pip", ("mark.ipv4_addr", (pid + 1, pod_ip(502))),
                   lambda: client.create(obj, "ns5"), "NetworkPolicy", name)
    client.delete("NetworkPolicy", name, "ns5")
    return took


def round_pod(client: Client, kernels: Kernels, watch: Watch, keys: set[tuple[str, str]], r: int) -> Round:
    """A new pod in ns7 with role r0: a peer of ns7/np0 once it has an IP."""
    name, ip = f"new{r}", str(GHOST_NET.network_address + 60_000 + r)
    client.create(pod_obj("ns7", name, 0, "ghost0"), "ns7")
    return measure(kernels, watch, "np_pip", ("mark.ipv4_addr", (policy_id(keys, ("ns7", "np0")) + 1, ip)),
                   lambda: client.patch("Pod", name, ready_status(ip), "ns7", subresource="status"), "Pod", name)


def round_endpoint(client: Client, kernels: Kernels, watch: Watch, r: int) -> Round:
    """A selector-less service gets its first Endpoints address (written by hand); its (empty) service
    entry is synced during the bucket's refill."""
    name = f"ep{r}"
    vip = client.create(service_obj("ns9", name, None), "ns9")["spec"]["clusterIP"]
    endpoints = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name, "namespace": "ns9"},
                 "subsets": [{"addresses": [{"ip": pod_ip(900 + r)}],
                              "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}]}
    return measure(kernels, watch, "svc_dispatch", ("ipv4_addr.inet_proto.inet_service", (vip, "tcp", 80)),
                   lambda: client.create(endpoints, "ns9"), "Endpoints", name)


# -- in process: compile and render of one change at the same scale -----------------------------

def scale_objects() -> list[Obj]:
    """API objects of the 10k-pod / 1k-policy / 1k-service cluster (100 nodes; Endpoints of 10 pods each)."""
    from dataplane import cluster_objects

    objs = cluster_objects(PODS, POLICIES)
    for m in range(SERVICES):
        ns, name = f"ns{m % NAMESPACES}", f"s{m // NAMESPACES}"
        svc = service_obj(ns, name, m // NAMESPACES)
        svc["spec"]["clusterIP"] = f"172.30.{4 + m // 250}.{m % 250 + 1}"
        objs.append(svc)
        objs.append({"kind": "Endpoints", "metadata": {"name": name, "namespace": ns},
                     "subsets": [{"addresses": [{"ip": f"10.128.{m % 200}.{k + 2}"} for k in range(10)],
                                  "ports": [{"name": "http", "port": 8080}]}]})
    for i, obj in enumerate(objs):
        obj["metadata"]["resourceVersion"] = str(i)
    return objs


def change(kind: str, k: int) -> Obj:
    """The k-th change of one kind: a new pod with an IP (a peer of policies of ns3), a new policy in
    ns7, a service's Endpoints replaced by one new address."""
    if kind == "Pod":
        obj = {**pod_obj("ns3", f"new{k}", 1, "n5"), "status": {"podIP": f"10.131.{k // 200}.{k % 200 + 9}"}}
    elif kind == "NetworkPolicy":
        obj = policy_obj("ns7", f"newpol{k}", 3)
    else:
        obj = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": f"s{k % 10}", "namespace": "ns0"},
               "subsets": [{"addresses": [{"ip": f"10.131.1.{k + 9}"}], "ports": [{"name": "http", "port": 8080}]}]}
    obj["metadata"]["resourceVersion"] = f"x{kind}{k}"
    return obj


def bench_compile() -> list[str]:
    """compile_intent (from scratch) vs the agent's IncrementalCompiler, and render, per change."""
    from dataplane import node_facts

    from osdn.node.compile import compile_intent
    from osdn.node.incremental import IncrementalCompiler
    from osdn.node.render import render_node
    from osdn.node.render.incremental import IncrementalRender

    objs = scale_objects()
    facts = node_facts(objs, "n0")
    inc = IncrementalCompiler()
    inc.resync([(o["kind"], o) for o in objs])
    rows = [("from scratch: compile_intent", timed(lambda: compile_intent(objs, facts))),
            ("incremental, first compile", timed(lambda: inc.compile(facts)))]
    renderer = IncrementalRender()
    renderer.render(inc.compile(facts))
    rows.append(("incremental, nothing changed: compile", median([timed(lambda: inc.compile(facts))
                                                                 for _ in range(5)])))
    for what, kind in (("a pod added (its IP)", "Pod"), ("a policy added", "NetworkPolicy"),
                       ("an endpoint added", "Endpoints")):
        compiles, renders, incs = [], [], []
        for k in range(5):
            obj = change(kind, k)
            inc.update(kind, (obj["metadata"]["namespace"], obj["metadata"]["name"]), obj)
            t = time.perf_counter()
            intent = inc.compile(facts)
            compiles.append(time.perf_counter() - t)
            renders.append(timed(lambda intent=intent: render_node(intent)))
            incs.append(timed(lambda intent=intent: renderer.render(intent)))
        rows += [(f"incremental, {what}: compile", median(compiles)),
                 (f"{'':>13}{what}: full render", median(renders)),
                 (f"{'':>13}{what}: incremental render", median(incs))]
    return [f"{PODS:,} pods, {POLICIES:,} policies, {SERVICES:,} services with Endpoints; node n0 (100 local pods); "
            "median of 5 changes each",
            *(f"  {what:<52} {ms(t):>10}" for what, t in rows)]


def bench_kernel(stack: contextlib.ExitStack, quick: bool, prefix: str) -> list[str]:
    """In process, a real network namespace: change -> compile -> render -> plan -> one nft transaction,
    the agent's path (incremental render) and the previous one (whole ruleset rendered every sync) in
    the same run, one after the other on the same kernel; and the periodic full sync with nothing to do."""
    from dataplane import node_facts

    from osdn.kernel import netns
    from osdn.node.dataplane import Dataplane
    from osdn.node.incremental import IncrementalCompiler
    from osdn.node.plan import plan
    from osdn.node.render import render_node

    objs = scale_objects()
    facts = node_facts(objs, "n0")
    name = f"{prefix}scale"
    netns.ensure_netns(name)
    stack.callback(netns.delete_netns, name)
    rounds = 10 if quick else 40
    lines = [f"{PODS:,} pods, {POLICIES:,} policies, {SERVICES:,} services; node n0 (100 local pods) in namespace "
             f"{name}; {rounds} changes of each kind per path; from the object change to the nft transaction's end"]
    row = "  {:<34} {:<20} p50 {:>9}  p99 {:>9}  max {:>9}"
    for label, incremental in (("incremental render", True), ("full render (before)", False)):
        comp = IncrementalCompiler()
        comp.resync([(o["kind"], o) for o in objs])
        with Dataplane(name, incremental=incremental) as dp:
            dp.sync(comp.compile(facts))
            for what, kind in (("policy create", "NetworkPolicy"), ("pod add (its IP)", "Pod"),
                               ("endpoint change", "Endpoints")):
                took = []
                for k in range(rounds):
                    obj = change(kind, 100 + k)
                    t = time.perf_counter()
                    comp.update(kind, (obj["metadata"]["namespace"], obj["metadata"]["name"]), obj)
                    stats = dp.sync(comp.compile(facts))
                    took.append(time.perf_counter() - t)
                    assert stats.changed, (what, stats)
                    if kind == "NetworkPolicy":  # back to 1,000 policies, untimed
                        comp.update(kind, ("ns7", obj["metadata"]["name"]), None)
                        dp.sync(comp.compile(facts))
                lines.append(row.format(what, label, ms(pct(took, .5)), ms(pct(took, .99)), ms(max(took))))
            intent = comp.compile(facts)
            full = [timed(lambda intent=intent: dp.sync(intent, full=True)) for _ in range(5)]
            checked = dp.sync(intent, full=True).checked
            observe = [timed(lambda intent=intent: plan(render_node(intent), dp.observe())) for _ in range(3)]
            lines.append(f"  periodic full sync, nothing to do ({label}): {ms(median(full))} "
                         f"({'generation unchanged: no kernel read' if checked else 'kernel read'}); "
                         f"before: render, read the kernel back, plan: {ms(median(observe))}")
            dp.teardown()
    return lines


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t
