"""Services benchmark: cluster DNS against dnsmasq, and change-to-kernel latency at scale.

Sections (`--only`):
- dns: queries/s and latency (p50/p99) of the node DNS server (`osdn.node.dns`, with 1,000 services
  in its zone) for a service name and for a cached outside name, next to dnsmasq (Debian) answering
  the same names in the same run: the service name from its own table (`--host-record`, its best
  case), the outside name from its cache after forwarding it once to the same upstream. One client
  process (pinned to CPU 0) keeps `--window` queries in flight over UDP; the servers share CPU 1.
- compile: in process, the node's compile from scratch (`compile_intent`) against the agent's
  incremental compiler, and the full against the incremental render, for one pod / policy / endpoint
  change at that scale.
- kernel: in process, on a real network namespace at that scale, change -> compile -> render -> plan
  -> nft transaction per policy create, pod add and endpoint change (p50/p99), for the agent's
  incremental render and the previous whole-ruleset render in the same run; and the periodic full
  sync with nothing to do (nft generation check) against reading the kernel back.
- latency: in a real `osdn lab` (3 nodes) holding 10,000 pods, 1,000 NetworkPolicies and 1,000
  services (see bench/scale.py), how long a policy create, a pod add and an endpoint change take from
  the API write until each node's kernel committed the result (a netlink listener per node namespace,
  bench/nft_probe.py), per node and for the slowest (target p99 < 100 ms).
- traffic: TCP connects/s through a ClusterIP against the same endpoint pod directly, at 1, 1,000
  and 10,000 services, plus the load and +1-service cost (bench/service_traffic.py; namespaces
  `osdnb-<pid>-*`).

Needs root. Namespaces `osdnbs-<pid>-*` (linked only to each other) and a lab `bsv<pid>` in a
temporary directory; everything is removed on exit, Ctrl-C or failure. Prints figures; never fails
on timing.

    python bench/services.py [--quick] [--only dns,compile,kernel,latency,traffic]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from osdn.kernel import netns  # noqa: E402

PREFIX = f"osdnbs-{os.getpid()}-"
CLIENT_CPU, SERVER_CPU = ["taskset", "-c", "0"], ["taskset", "-c", str(max(0, (os.cpu_count() or 1) - 1))]
SRV, CLI = PREFIX + "srv", PREFIX + "cli"
OSDN_IP, DNSMASQ_IP, UPSTREAM_IP, CLIENT_IP = "10.99.0.1", "10.99.0.3", "10.99.0.53", "10.99.0.2"
SERVICE_NAME, SERVICE_IP = "web.p.svc.cluster.local", "172.30.0.20"
OUTSIDE_NAME, OUTSIDE_IP = "web.ext.test", "203.0.113.80"

OSDN_SERVER = r"""
import sys, threading
from osdn.node.dns.server import DnsConfig, DnsServer, SharedZone
zone = SharedZone()
for i in range(1000):
    zone.update("Service", {"metadata": {"name": f"s{i}", "namespace": f"ns{i % 100}"},
                            "spec": {"clusterIP": f"172.30.{4 + i // 250}.{i % 250 + 1}",
                                     "ports": [{"name": "http", "port": 80}]}}, None)
zone.update("Service", {"metadata": {"name": "web", "namespace": "p"},
                        "spec": {"clusterIP": sys.argv[4], "ports": [{"name": "http", "port": 80}]}}, None)
server = DnsServer(DnsConfig(sys.argv[1], sys.argv[2], upstreams=(sys.argv[3],)), zone).start()
print("ready", flush=True)
threading.Event().wait()
"""

LOAD_CLIENT = r"""
import random, socket, struct, sys, time
server, name, seconds, window, vary = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "vary"
def wire(n):
    return b"".join(bytes([len(p)]) + p.encode() for p in n.split(".")) + b"\x00\x00\x01\x00\x01"
question = wire(name)
letters = [i for i, c in enumerate(name) if c.isalpha()][:16]
def cased(n):  # query n's name: letter i upper-case iff bit i of n is set (65,536 distinct spellings)
    chars = list(name)
    for bit, i in enumerate(letters):
        if n >> bit & 1:
            chars[i] = chars[i].upper()
    return wire("".join(chars))
count = 0
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.connect((server, 53)); s.settimeout(1.0)
sent, lat, lost, qid = {}, [], 0, random.randrange(65536)
def send():
    global qid
    qid = (qid + 1) % 65536
    sent[qid] = time.perf_counter()
    global count
    count += 1
    s.send(struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + (cased(count) if vary else question))
def fill():
    while len(sent) < window:
        send()
warm = time.perf_counter() + 0.5
fill()
end = warm + seconds
while True:
    try:
        reply = s.recv(2048)
    except socket.timeout:
        lost += len(sent); sent.clear(); fill(); continue
    now = time.perf_counter()
    t0 = sent.pop(struct.unpack("!H", reply[:2])[0], None)
    if t0 is not None and now >= warm:
        if reply[3] & 0x0F or reply[6:8] == b"\x00\x00":
            sys.exit(f"bad answer for {name} from {server}: rcode {reply[3] & 0x0F}")
        lat.append(now - t0)
    if now >= end:
        break
    fill()
lat.sort()
if not lat:
    sys.exit(f"no answer from {server} for {name} in {seconds} s ({lost} lost)")
print(len(lat) / seconds, lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))], lost)
"""


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def sh(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=30)


def build_netns(stack: contextlib.ExitStack) -> None:
    """Two namespaces joined by a veth: the servers' and the client's."""
    for name in (SRV, CLI):
        stack.callback(netns.delete_netns, name, True)
        netns.ensure_netns(name)
        sh("ip", "-n", name, "link", "set", "lo", "up")
    sh("ip", "link", "add", "eth0", "netns", SRV, "type", "veth", "peer", "name", "eth0", "netns", CLI)
    for ip in (OSDN_IP, DNSMASQ_IP, UPSTREAM_IP):
        sh("ip", "-n", SRV, "addr", "add", f"{ip}/24", "dev", "eth0")
    sh("ip", "-n", CLI, "addr", "add", f"{CLIENT_IP}/24", "dev", "eth0")
    for name in (SRV, CLI):
        sh("ip", "-n", name, "link", "set", "eth0", "up")


def start(stack: contextlib.ExitStack, argv: list[str], ready: str = "") -> subprocess.Popen[str]:
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)

    def stop() -> None:
        proc.kill()
        proc.wait(timeout=5)
    stack.callback(stop)
    if ready:
        line = proc.stdout.readline() if proc.stdout else ""
        if line.strip() != ready:
            raise SystemExit(f"{argv[0]} did not start: {line.strip()}")
    return proc


def dnsmasq(*extra: str) -> list[str]:
    return [*SERVER_CPU, "ip", "netns", "exec", SRV, "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null",
            "--no-resolv", "--no-hosts", "--user=root", "--pid-file=", "--log-facility=/dev/null",
            "--bind-interfaces", *extra]


def wait_answer(server: str, name: str, timeout: float = 10.0) -> None:
    from osdn.lab.topology import dns_query
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError):
            if dns_query(CLI, server, name, timeout=0.3):
                return
        if time.monotonic() > deadline:
            raise SystemExit(f"DNS server {server} does not answer {name}")
        time.sleep(0.1)


def load(server: str, name: str, seconds: float, window: int, vary: bool = False) -> tuple[float, float, float, int]:
    out = subprocess.run([*CLIENT_CPU, "ip", "netns", "exec", CLI, sys.executable, "-c", LOAD_CLIENT, server, name,
                          str(seconds), str(window), "vary" if vary else "same"], capture_output=True, text=True,
                         timeout=seconds + 60)
    if out.returncode:
        raise SystemExit(f"load client failed: {out.stderr.strip() or out.stdout.strip()}")
    qps, p50, p99, lost = out.stdout.split()
    return float(qps), float(p50), float(p99), int(lost)


def bench_dns(stack: contextlib.ExitStack, quick: bool, window: int) -> list[str]:
    if not shutil.which("dnsmasq"):
        return ["dnsmasq not installed (apt-get install dnsmasq-base): section skipped"]
    build_netns(stack)
    start(stack, dnsmasq(f"--listen-address={UPSTREAM_IP}", "--local=/ext.test/", "--local-ttl=300",
                         f"--host-record={OUTSIDE_NAME},{OUTSIDE_IP}"))
    start(stack, dnsmasq(f"--listen-address={DNSMASQ_IP}", f"--server={UPSTREAM_IP}", "--cache-size=10000",
                         "--local-ttl=5", f"--host-record={SERVICE_NAME},{SERVICE_IP}"))
    start(stack, [*SERVER_CPU, sys.executable, "-c", OSDN_SERVER, SRV, OSDN_IP, UPSTREAM_IP, SERVICE_IP], "ready")
    for server in (OSDN_IP, DNSMASQ_IP):
        for name in (SERVICE_NAME, OUTSIDE_NAME):
            wait_answer(server, name)  # also fills the caches with the outside name
    seconds = 2.0 if quick else 5.0
    lines = [f"one UDP client keeping {window} queries in flight, {seconds:.0f} s per row (after 0.5 s warm-up); "
             "osdn's zone holds 1,001 services",
             f"{'name':<26} {'server':<8} {'queries/s':>10} {'p50':>10} {'p99':>10} {'lost':>5}"]
    rates: dict[tuple[str, str], float] = {}
    for name, what, vary in ((SERVICE_NAME, "service name", False), (OUTSIDE_NAME, "cached outside name", False),
                             (SERVICE_NAME, "service name, 0x20 case", True),
                             (OUTSIDE_NAME, "outside name, 0x20 case", True)):
        for server, label in ((OSDN_IP, "osdn"), (DNSMASQ_IP, "dnsmasq")):
            qps, p50, p99, lost = load(server, name, seconds, window, vary)
            rates[(what, label)] = qps
            lines.append(f"{what:<26} {label:<8} {qps:>10,.0f} {ms(p50):>10} {ms(p99):>10} {lost:>5}")
    lines.append("(0x20 case: each query spells the name in another mix of letter case, 65,536 spellings, so no two "
                 "queries of a row are the same bytes: osdn's byte-keyed fast path never hits, every query is parsed)")
    for what in ("service name", "cached outside name", "service name, 0x20 case", "outside name, 0x20 case"):
        lines.append(f"osdn / dnsmasq, {what}: {rates[(what, 'osdn')] / rates[(what, 'dnsmasq')]:.0%} of the rate")
    return lines


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    import signal

    def stop(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")
    old = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short runs, fewer rounds")
    ap.add_argument("--only", default="dns,compile,kernel,latency,traffic",
                    help="comma-separated sections: dns, compile, kernel, latency, traffic")
    ap.add_argument("--window", type=int, default=16, help="dns: queries in flight")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench/services.py needs root (network namespaces, nftables)")
    only = set(args.only.split(","))
    print(f"osdn services benchmark: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}", flush=True)
    try:
        with interruptible(), contextlib.ExitStack() as stack:
            if "dns" in only:
                with contextlib.ExitStack() as dstack:
                    print("\n== DNS: osdn node DNS server vs dnsmasq (same run) ==", flush=True)
                    print("\n".join(bench_dns(dstack, args.quick, args.window)), flush=True)
            if "compile" in only:
                from scale import bench_compile
                print("\n== compile and render of one change, in process ==", flush=True)
                print("\n".join(bench_compile()), flush=True)
            if "kernel" in only:
                from scale import bench_kernel
                print("\n== change -> kernel in process at 10k pods / 1k policies / 1k services: incremental vs "
                      "full render (same run) ==", flush=True)
                print("\n".join(bench_kernel(stack, args.quick, PREFIX)), flush=True)
            if "traffic" in only:
                from service_traffic import bench as bench_traffic
                print("\n== ClusterIP vs direct connect rate at 1 / 1,000 / 10,000 services "
                      "(bench/service_traffic.py) ==", flush=True)
                print("\n".join(bench_traffic(args.quick, [1, 1000, 10000], live=False)), flush=True)
            if "latency" in only:
                from scale import bench_scale_latency
                print("\n== change -> kernel on every node at 10k pods / 1k policies / 1k services ==",
                      flush=True)
                print("\n".join(bench_scale_latency(stack, args.quick)), flush=True)
    finally:
        left = netns.list_netns(PREFIX)
        print(f"\ncleanup: {'nothing left' if not left else 'LEFT: ' + ', '.join(left)}", flush=True)


if __name__ == "__main__":
    main()
