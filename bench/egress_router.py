"""Egress router benchmark: the HTTP proxy vs squid, DNS-proxy TCP forwarding vs haproxy, redirect vs direct.

Same run, same machine, same load generators, one after the other:
- HTTP proxy mode: `osdn egress-router http-proxy` and Debian's squid, each configured as the upstream
  egress-http-proxy.sh configures squid (its five lines + the generated ACLs for `*`; squid also gets
  a pid/log path outside /var). wrk drives absolute-URL requests through each proxy to one origin
  (an asyncio/uvloop server with fixed bodies): small (100 B) bodies with keep-alive and with
  `Connection: close`, and 10 MB bodies; CONNECT: a client opens tunnels to a sink and pushes data.
- DNS proxy mode: `osdn egress-router dns-proxy` (nftables DNAT in the router's namespace; a --before
  revision older than the kernel mode runs the userspace forwarder) and Debian's haproxy with the
  config egress-dns-proxy.sh generates (chroot/user/pidfile lines adapted to run outside the image),
  each in a router namespace of its own between one client and one server namespace (veth pairs,
  `osdn-bd<pid>-*`,
  destroyed on exit): iperf3 throughput through the forwarder, wrk with `Connection: close` (a new
  forwarded TCP connection per request) and with keep-alive. Its CPU figure is the whole run's:
  load generators, servers, the proxy and the softirq threads (the kernel's forwarding runs in the
  sending task's context or in ksoftirqd, so a DNAT is not free by construction); the proxy
  process's own CPU is printed beside it.
- Redirect mode: iperf3 from a client pod to the router pod's cluster IP (DNAT/SNAT out of macvlan0)
  vs iperf3 from the router pod's own namespace straight to the server (the same wire, no NAT).
Each proxy figure comes with what it cost the proxy: CPU seconds (user + system, the proxy process
and its forked workers, from /proc) per request, tunnel, MB or Gbit moved. On a shared 2-core machine
the rates move with the neighbours' load; the CPU cost per unit moves far less, so it is the figure
to compare. The origin and the CONNECT sink are uvloop servers, so the load generators are not the
bottleneck of either proxy.
Loopback and throw-away namespaces only (redirect: a 1-node lab topology `osdn-b<pid>-*`, destroyed on
exit). Needs root, wrk, iperf3, squid, haproxy. Prints figures; never fails on timing.

    python bench/egress_router.py [--seconds 5] [--rounds 2] [--only http|dns|redirect] [--workers 2,1]
                                  [--before REV] [--case TEXT] [--acl 'RULES']

--workers gives one osdn column per EGRESS_PROXY_WORKERS count (squid runs one process, haproxy one
per CPU: `--workers ,1` shows both the default and a single worker); --before REV adds a column with
the proxies of an older git revision, run beside the current code and the reference in the same rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import re
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from osdn.egress.dns_config import parse_dns_destinations, render_haproxy_config
from osdn.egress.http_acl import parse_http_destinations, render_squid_conf

REPO = Path(__file__).resolve().parents[1]
CASE_FILTER = ""  # --case
HTTP_ACL = "*"  # --acl: EGRESS_HTTP_PROXY_DESTINATION of both HTTP proxies (it must allow 127.0.0.1)
CLIENT_NS = ""  # DNS proxy mode: the client's namespace (wait_port connects from there)
ORIGIN = r"""
import asyncio, sys, uvloop
SMALL = b"x" * 100
BIG = b"y" * (10 * 1024 * 1024)
class H(asyncio.Protocol):
    def connection_made(self, t): self.t, self.buf = t, b""
    def data_received(self, d):
        self.buf += d
        while b"\r\n\r\n" in self.buf:
            head, _, self.buf = self.buf.partition(b"\r\n\r\n")
            body = BIG if b" /big" in head.split(b"\r\n", 1)[0] else SMALL
            close = b"connection: close" in head.lower()
            self.t.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n" % (len(body), b"Connection: close\r\n" if close else b"") + body)
            if close: self.t.close(); return
async def main():
    srv = await asyncio.get_running_loop().create_server(H, (sys.argv[2:] or ["127.0.0.1"])[0], int(sys.argv[1]), backlog=4096)
    await srv.serve_forever()
uvloop.run(main())
"""
SINK = r"""
import asyncio, sys, uvloop
class S(asyncio.Protocol):
    def connection_made(self, t): self.t = t
    def data_received(self, d): pass
    def eof_received(self): self.t.write(b"done"); self.t.close()
async def main():
    srv = await asyncio.get_running_loop().create_server(S, "127.0.0.1", int(sys.argv[1]), backlog=4096)
    await srv.serve_forever()
uvloop.run(main())
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 10, host: str = "127.0.0.1", ns: str | None = None) -> None:
    """Until a TCP connection to host:port (from namespace `ns`) succeeds."""
    def attempt() -> bool:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return True
        return False

    deadline = time.monotonic() + timeout
    while not (netns_run(ns, attempt) if ns else attempt()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing answers on {host}:{port}")
        time.sleep(0.05)


def netns_run(ns: str, fn: Callable[[], bool]) -> bool:
    from osdn.kernel import netns
    return bool(netns.run_in_netns(ns, fn))


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by process `pid` and its children (forked workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total, children = 0.0, {pid}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                if int(entry) == pid or int(fields[1]) in children:
                    children.add(int(entry))
                    total += (int(fields[11]) + int(fields[12])) / tick
    return total


def kernel_threads_cpu() -> float:
    """CPU seconds of the softirq threads (ksoftirqd/N): network work the kernel deferred there."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0.0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                head, _, tail = Path(f"/proc/{entry}/stat").read_text().rpartition(")")
                if "(ksoftirqd/" in head:
                    fields = tail.split()
                    total += (int(fields[11]) + int(fields[12])) / tick
    return total


def children_cpu() -> float:
    """CPU seconds (user + system) of this process's finished children (wrk, iperf3 -c)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def whole_cpu(pids: list[int]) -> float:
    """Everything the experiment costs: the load generators, the servers and proxy `pids`, the
    softirq threads. On veth pairs the kernel's forwarding (NAT included) runs in the context of the
    task that sent the packet or in ksoftirqd, so it is counted; the neighbours' processes are not."""
    return children_cpu() + kernel_threads_cpu() + sum(tree_cpu(p) for p in pids)


@contextlib.contextmanager
def process(argv: list[str], port: int | None, env: dict[str, str] | None = None,
            ns: str | None = None, host: str = "127.0.0.1") -> Iterator[subprocess.Popen[bytes]]:
    """`argv` running (in namespace `ns`: nsenter execs it, so the pid is the program's) until exit."""
    from osdn.kernel import netns
    if ns:
        argv = ["nsenter", f"--net={netns.netns_path(ns)}", "--", *argv]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                            start_new_session=True, cwd="/")  # the code is the one PYTHONPATH names
    try:
        if port:
            wait_port(port, host=host, ns=None if host == "127.0.0.1" else CLIENT_NS)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wrk(url_path: str, port: int, seconds: int, conns: int, close: bool, host: str = "127.0.0.1",
        ns: str | None = None) -> tuple[float, float]:
    """(requests/s, MB/s) of wrk sending `GET <url_path>` to host:port (from namespace `ns`)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        lua.write(f'wrk.path = "{url_path}"\n' + ('wrk.headers["Connection"] = "close"\n' if close else ""))
        lua.flush()
        argv = ["wrk", "-t2", f"-c{conns}", f"-d{seconds}s", "-s", lua.name, f"http://{host}:{port}"]
        out = subprocess.run(["ip", "netns", "exec", ns, *argv] if ns else argv, capture_output=True, text=True,
                             timeout=seconds + 30).stdout
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    rps = float(found.group(1)) if found else 0.0
    m = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", out)
    scale = {"B": 1e-6, "KB": 1e-3, "MB": 1, "GB": 1e3}
    return rps, (float(m.group(1)) * scale.get(m.group(2), 1) if m else 0.0)


async def connect_run(proxy: int, sink: int, seconds: float, size: int) -> tuple[float, float]:
    """(tunnels/s, MB/s): CONNECT tunnels to the sink, each carrying `size` bytes, 8 at a time."""
    payload = b"z" * min(size, 1 << 20)
    done = moved = 0
    stop = time.monotonic() + seconds

    async def one() -> None:
        nonlocal done, moved
        while time.monotonic() < stop:
            r, w = await asyncio.open_connection("127.0.0.1", proxy)
            w.write(f"CONNECT 127.0.0.1:{sink} HTTP/1.1\r\nHost: 127.0.0.1:{sink}\r\n\r\n".encode())
            await r.readuntil(b"\r\n\r\n")
            left = size
            while left:
                w.write(payload[:left])
                await w.drain()
                left -= min(left, len(payload))
            w.write_eof()
            await r.read()
            w.close()
            done += 1
            moved += size

    t0 = time.monotonic()
    await asyncio.gather(*(one() for _ in range(8)))
    took = time.monotonic() - t0
    return done / took, moved / took / 1e6


def iperf(port: int, seconds: int, ns: str | None = None, host: str = "127.0.0.1") -> float:
    argv = ["iperf3", "-c", host, "-p", str(port), "-t", str(seconds), "-J"]
    if ns:
        argv = ["ip", "netns", "exec", ns, *argv]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30).stdout
    result = json.loads(out)
    if "error" in result:
        raise RuntimeError(f"iperf3 to {host}:{port}: {result['error']}")
    return float(result["end"]["sum_received"]["bits_per_second"]) / 1e9


Case = tuple[str, str, Callable[[int], float]]
Row = tuple[str, str, list[float], list[list[float]]]  # case, unit, best rate per side, per meter lowest CPU/unit per side
Meter = Callable[[], float]  # CPU seconds used so far


@dataclass(frozen=True)
class Variant:
    """One osdn proxy under test: its label, worker count and, for a before/after run, a source tree."""

    label: str
    workers: str
    code: str | None = None

    def env(self, base: dict[str, str]) -> dict[str, str]:
        return {**base, "EGRESS_PROXY_WORKERS": self.workers, "PYTHONPATH": self.code or str(REPO)}


def variants(workers: str, before: str | None, tmp: Path) -> list[Variant]:
    """One variant per worker count of `workers` (comma-separated; "" is the default count), and the
    code of git revision `before` with the first count."""
    counts = workers.split(",")
    out = [Variant(f"osdn w{c}" if c else "osdn", c) for c in counts]
    if before:
        tree = tmp / "before"
        tree.mkdir()
        archive = subprocess.run(["git", "archive", before, "osdn"], capture_output=True, check=True,
                                 cwd=REPO).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
        out.append(Variant(f"{before[:10]}" + (f" w{counts[0]}" if counts[0] else ""), counts[0], str(tree)))
    return out


def proxy_meters(pids: list[int]) -> list[list[Meter]]:
    """One meter per side: the CPU of the proxy process and its workers."""
    return [[functools.partial(tree_cpu, pid)] for pid in pids]


def best_of(rounds: int, seconds: int, cases: list[Case], ports: list[int], meters: list[list[Meter]]) -> list[Row]:
    """Each case on every proxy, alternating, `rounds` times: the best rate of each and, per meter,
    its lowest CPU cost per unit (CPU seconds over the units moved, which the neighbours on a shared
    machine disturb far less than the rate). `meters[side]` are the side's meters."""
    out = []
    for name, unit, fn in cases:
        if CASE_FILTER not in name:
            continue
        rates: list[list[float]] = [[] for _ in ports]
        costs: list[list[list[float]]] = [[[] for _ in ports] for _ in meters[0]]
        for _ in range(rounds):
            for side, port in enumerate(ports):
                before = [m() for m in meters[side]]
                rate = fn(port)
                rates[side].append(rate)
                for k, (m, b) in enumerate(zip(meters[side], before, strict=True)):
                    costs[k][side].append((m() - b) / (rate * seconds) if rate else float("inf"))
        out.append((name, unit, [max(r) for r in rates], [[min(c) for c in per] for per in costs]))
    return out


def print_rows(rows: list[Row], labels: list[str], meters: tuple[str, ...] = ("CPU per unit",)) -> None:
    print(f"{'case':34} " + " ".join(f"{x:>16}" for x in labels) + "".join(
        f"   {m}: " + " ".join(f"{x:>12}" for x in labels) for m in meters))
    for case, unit, rates, costs in rows:
        scale, per = (1e6, "us/" + unit.split("/")[0]) if unit in ("req/s", "tun/s") else (1e3, "ms/" + unit.split("/")[0])
        digits = 2 if unit == "Gbit/s" else 0
        print(f"{case:34} " + " ".join(f"{r:>9.{digits}f} {unit:6}" for r in rates) + "".join(
            "   " + " " * (len(m) - 12) + "".join(f"{c * scale:>13.1f}" for c in side) for m, side in
            zip(meters, costs, strict=True)) + f" {per}")


HTTP_PROXY = "import os, sys; from osdn.egress.main import run_http_proxy; sys.exit(run_http_proxy(dict(os.environ), port=int(sys.argv[1])))"


def bench_http(seconds: int, rounds: int, tmp: Path, ours: list[Variant]) -> None:
    origin, sink, squid = free_port(), free_port(), free_port()
    conf = render_squid_conf(parse_http_destinations(HTTP_ACL)).replace("http_port 8080", f"http_port 127.0.0.1:{squid}")
    (tmp / "squid.conf").write_text(conf + f"pid_filename {tmp}/squid.pid\ncache_log /dev/null\n")
    env = {**os.environ, "EGRESS_HTTP_PROXY_DESTINATION": HTTP_ACL}
    print(f"\nHTTP proxy mode ({seconds} s per figure, best of {rounds} alternating rounds; loopback)")
    ports = [free_port() for _ in ours]
    with contextlib.ExitStack() as stack:
        stack.enter_context(process([sys.executable, "-c", ORIGIN, str(origin)], origin))
        stack.enter_context(process([sys.executable, "-c", SINK, str(sink)], sink))
        pids = [stack.enter_context(process([sys.executable, "-c", HTTP_PROXY, str(port)], port, v.env(env))).pid
                for v, port in zip(ours, ports, strict=True)]
        pids.append(stack.enter_context(process(["squid", "-N", "-f", str(tmp / "squid.conf")], squid)).pid)
        print_rows(best_of(rounds, seconds, http_cases(origin, sink, seconds), [*ports, squid], proxy_meters(pids)),
                   [v.label for v in ours] + ["squid 5.7"])


def http_cases(origin: int, sink: int, seconds: int) -> list[Case]:
    small = f"http://127.0.0.1:{origin}/small"
    big = f"http://127.0.0.1:{origin}/big"
    return [
        ("GET 100 B, keep-alive, 32 conns", "req/s", lambda p: wrk(small, p, seconds, 32, False)[0]),
        ("GET 100 B, Connection: close, 32", "req/s", lambda p: wrk(small, p, seconds, 32, True)[0]),
        ("GET 10 MB, keep-alive, 4 conns", "MB/s", lambda p: wrk(big, p, seconds, 4, False)[1]),
        ("CONNECT tunnels (1 KB each), 8", "tun/s", lambda p: asyncio.run(connect_run(p, sink, seconds, 1024))[0]),
        ("CONNECT 64 MB tunnels, 8", "MB/s", lambda p: asyncio.run(connect_run(p, sink, seconds, 64 << 20))[1]),
    ]


def router_ip(side: int) -> str:
    return f"10.99.{10 + side}.2"


def server_ip(side: int) -> str:
    return f"10.99.{30 + side}.1"


@contextlib.contextmanager
def dns_namespaces(sides: int) -> Iterator[tuple[str, list[str], str]]:
    """A client and a server namespace and one router namespace per side between them, on veth pairs:
    client 10.99.(10+i).1 -- 10.99.(10+i).2 router i 10.99.(30+i).2 -- 10.99.(30+i).1 server (the
    router's second leg plays macvlan0). A router of its own per proxy: the kernel side's conntrack
    and NAT hooks do not touch the others' connections. Destroyed on exit."""
    tag = f"osdn-bd{os.getpid() % 100000}"
    c, sv, routers = f"{tag}-c", f"{tag}-s", [f"{tag}-r{i}" for i in range(sides)]

    def ip(*args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True)
    try:
        for ns in (c, sv, *routers):
            ip("netns", "add", ns)
            ip("-n", ns, "link", "set", "lo", "up")
        for i, r in enumerate(routers):
            for a, b, net, a_dev, b_dev in ((c, r, 10 + i, f"c{i}", "eth0"), (r, sv, 30 + i, "eth1", f"s{i}")):
                ip("link", "add", "bdveth0", "netns", a, "type", "veth", "peer", "name", "bdveth1", "netns", b)
                ip("-n", a, "link", "set", "bdveth0", "name", a_dev)
                ip("-n", b, "link", "set", "bdveth1", "name", b_dev)
                for ns, dev, host in ((a, a_dev, 1 if a == c else 2), (b, b_dev, 2 if a == c else 1)):
                    ip("-n", ns, "addr", "add", f"10.99.{net}.{host}/24", "dev", dev)
                    ip("-n", ns, "link", "set", dev, "up")
        yield c, routers, sv
    finally:
        for ns in (c, sv, *routers):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def bench_dns(seconds: int, rounds: int, tmp: Path, ours: list[Variant]) -> None:
    origin, backend = free_port(), free_port()
    fronts = [(free_port(), free_port()) for _ in range(len(ours) + 1)]  # (-> HTTP origin, -> iperf3 server)
    theirs = len(ours)

    def dest(side: int) -> str:
        return f"{fronts[side][0]} {server_ip(side)} {origin}\n{fronts[side][1]} {server_ip(side)} {backend}"

    conf = render_haproxy_config(parse_dns_destinations(dest(theirs)), ["127.0.0.1"], {})
    conf = conf.replace("    chroot      /var/lib/haproxy\n", "").replace(
        "/var/lib/haproxy/run/haproxy.pid", str(tmp / "haproxy.pid")).replace(
        "    user        haproxy\n    group       haproxy\n", "")
    (tmp / "haproxy.cfg").write_text(conf)
    print(f"\nDNS proxy mode: TCP forwarding ({seconds} s per figure, best of {rounds} alternating rounds; "
          "client, router and server namespaces on veth pairs)")
    side_of = {f[0]: i for i, f in enumerate(fronts)}  # HTTP front -> side

    def request(p: int, close: bool) -> float:
        return wrk(f"http://{server_ip(side_of[p])}:{origin}/small", p, seconds, 32, close,
                   router_ip(side_of[p]), CLIENT_NS)[0]
    cases: list[Case] = [
        ("iperf3 1 stream", "Gbit/s", lambda p: iperf(fronts[side_of[p]][1], seconds, CLIENT_NS, router_ip(side_of[p]))),
        ("new connection per request, 32", "req/s", lambda p: request(p, True)),
        ("keep-alive requests, 32 conns", "req/s", lambda p: request(p, False))]
    global CLIENT_NS
    with dns_namespaces(len(fronts)) as (client, routers, server), contextlib.ExitStack() as stack:
        CLIENT_NS = client
        servers = [stack.enter_context(process([sys.executable, "-c", ORIGIN, str(origin), "0.0.0.0"], None,
                                               ns=server)).pid,
                   stack.enter_context(process(["iperf3", "-s", "-p", str(backend)], None, ns=server)).pid]
        time.sleep(1)
        pids = [stack.enter_context(process([sys.executable, "-m", "osdn", "egress-router", "dns-proxy"], fronts[i][0],
                                            v.env({**os.environ, "EGRESS_DNS_PROXY_DESTINATION": dest(i)}),
                                            ns=routers[i], host=router_ip(i))).pid
                for i, v in enumerate(ours)]
        pids.append(stack.enter_context(process(["haproxy", "-db", "-f", str(tmp / "haproxy.cfg")], fronts[theirs][0],
                                                ns=routers[theirs], host=router_ip(theirs))).pid)
        meters: list[list[Meter]] = [[functools.partial(whole_cpu, [pid, *servers]), functools.partial(tree_cpu, pid)]
                                     for pid in pids]
        print_rows(best_of(rounds, seconds, cases, [f[0] for f in fronts], meters),
                   [v.label for v in ours] + ["haproxy 2.6"], ("whole-run CPU", "proxy process"))


def bench_redirect(seconds: int, rounds: int, tmp: Path, ours: list[Variant]) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "kernel"))
    from osdn.kernel import links, netns
    from osdn.lab.topology import build, destroy, plan_lab
    from osdn.node.macvlan import attach_macvlan

    topo = plan_lab(f"b{os.getpid() % 100000}", 1)
    state = build(topo, str(tmp / "lab"))
    try:
        node, gw = topo.nodes[0], "10.128.0.1"
        links.ensure_node_bridge(node.netns, "osdnbr0", f"{gw}/23", 1450, ["10.128.0.0/14"])
        pods = {}
        for name, ip in (("client", "10.128.0.10"), ("router", "10.128.0.11")):
            pods[name] = f"{topo.prefix}pod-{name}"
            state.add_namespace(pods[name])
            netns.ensure_netns(pods[name])
            links.ensure_pod_interface(links.PodInterface(node.netns, pods[name], "osdnbr0",
                                                          links.osdn_link_name("v", name), f"{ip}/23", gw, mtu=1450,
                                                          routes=tuple(links.default_pod_routes(gw, ["10.128.0.0/14"]))))
        attach_macvlan(node.netns, {"metadata": {"annotations": {"pod.network.openshift.io/assign-macvlan": "true"}},
                                    "spec": {"containers": [{"name": "r", "securityContext": {"privileged": True}}]}},
                       pods["router"])
        env = {"PATH": os.environ["PATH"], "EGRESS_SOURCE": "198.18.0.120/24", "EGRESS_GATEWAY": "198.18.0.1",
               "EGRESS_DESTINATION": "203.0.113.80", "EGRESS_ROUTER_MODE": "init"}
        subprocess.run(["ip", "netns", "exec", pods["router"], sys.executable, "-m", "osdn", "egress-router"],
                       env=env, check=True, timeout=30, capture_output=True)
        server = netns.spawn_in_netns(topo.web_netns, ["iperf3", "-s", "-p", "5201"], stdout=subprocess.DEVNULL)
        try:
            time.sleep(0.5)
            direct = max(iperf(5201, seconds, pods["router"], "203.0.113.80") for _ in range(rounds))
            redirect = max(iperf(5201, seconds, pods["client"], "10.128.0.11") for _ in range(rounds))
        finally:
            server.kill()
            server.wait()
        print(f"\nRedirect mode ({seconds} s iperf3, 1 stream)")
        print(f"  direct, from the router pod's macvlan0 to the server: {direct:6.2f} Gbit/s")
        print(f"  client pod -> router pod (DNAT/SNAT, macvlan0):      {redirect:6.2f} Gbit/s "
              f"({redirect / direct * 100:.0f} % of direct)")
    finally:
        destroy(state)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--only", choices=("http", "dns", "redirect"))
    ap.add_argument("--workers", default="", help="EGRESS_PROXY_WORKERS of the osdn proxies, comma-separated: "
                    "one osdn column per count (default: one per CPU)")
    ap.add_argument("--acl", default="*", help="EGRESS_HTTP_PROXY_DESTINATION of osdn and squid (\\n between "
                    "lines; it must allow 127.0.0.1)")
    ap.add_argument("--case", default="", help="only the cases whose name contains this text")
    ap.add_argument("--before", metavar="REV", help="also run the proxies of git revision REV (before/after)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="osdn-bench-egress-") as tmp:
        ours = variants(args.workers, args.before, Path(tmp))
        global CASE_FILTER, HTTP_ACL
        CASE_FILTER, HTTP_ACL = args.case, args.acl.replace("\\n", "\n")
        for name, fn in (("http", bench_http), ("dns", bench_dns), ("redirect", bench_redirect)):
            if args.only in (None, name):
                fn(args.seconds, args.rounds, Path(tmp), ours)


if __name__ == "__main__":
    main()
