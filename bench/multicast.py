"""Multicast benchmark: UDP packets/s that one pod's multicast delivers to N receiver pods spread over
3 nodes, against the same sender sending a unicast copy to each receiver, in the same run.

What: a real `osdn lab` (API server, controllers, 3 `osdn node` agents, CNI, kubelet) in multitenant
mode (or `--mode networkpolicy`), one project with multicast enabled (its NetNamespace annotated
`netnamespace.network.openshift.io/multicast-enabled=true`), a sender pod on node1 and N receiver pods
round-robin over node1..node3 (with N = 6: two next to the sender on its bridge, two on each other
node, reached over VXLAN).

How: in every receiver pod's namespace a Python process joins 239.9.9.9 on its pod IP, binds UDP
9999 (it gets the group's packets and unicast to its IP alike), counts datagrams by the first byte
of the payload (the phase's tag) and reports its counts and its namespace's UDP RcvbufErrors when
asked. The sender (a Python `sendto` loop in the sender pod's namespace, pinned to the first CPU;
the receivers to the last) sends datagrams of `--size` bytes as fast as it can for `--seconds`:
once to the group (one packet per round, replicated by the nodes' bridges and VXLAN head-end
replication), once to each receiver's IP in turn (N packets per round). Rounds alternate the order
so drift hits both. Reported per phase: sent/s, delivered/s per receiver and in total, loss (and how
much of it the receivers' socket buffers overflowed), the sender's CPU use, the VXLAN frames node1
sent per datagram sent, and the ratio of multicast to unicast deliveries/s.

Needs root. Everything it makes is removed on exit, Ctrl-C or failure: a lab named `bmc<pid>` in a
temporary directory (namespaces `osdn-bmc<pid>-*`, linked only to each other, never to the root
namespace) and the sender/receiver processes it starts in the lab's pod namespaces. Traffic goes
only to the group and to pod addresses inside the lab. Prints figures (with the load average at the
start and the end); never fails on timing.

    python bench/multicast.py [--quick] [--receivers N] [--seconds S] [--size BYTES] [--rounds R]
                              [--mode multitenant|networkpolicy] [--keep-lab-logs DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import dataplane as dp  # bench/dataplane.py: Report, load(), interruptible(), CPU pinning, stop_process

from osdn.client import Client, load_config
from osdn.errors import NotFoundError
from osdn.kernel import netns
from osdn.lab import cluster
from osdn.lab.pods import PodRequest, create_pod, pod_netns, wait_pod_ip
from osdn.model.objects import MULTICAST_ANNOTATION

GROUP, PORT = "239.9.9.9", 9999
PROJECT = "mcbench"
PROBE_TAG = 255
LAB = f"bmc{os.getpid() % 100000}"

RECEIVER = r"""
import json, select, socket, sys
group, port, ip = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE (root): past rmem_max
s.bind(("", port))
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(group) + socket.inet_aton(ip))
s.setblocking(False)
counts, buf = [0] * 256, bytearray(65536)

def rcvbuf_errors():
    with open("/proc/self/net/snmp") as fh:
        head, values = [line.split() for line in fh if line.startswith("Udp:")][:2]
    return int(values[head.index("RcvbufErrors")])

print("ready", flush=True)
while True:
    try:
        s.recv_into(buf)
        counts[buf[0]] += 1
    except BlockingIOError:
        if sys.stdin in select.select([s, sys.stdin], [], [])[0]:
            if not sys.stdin.readline():
                break
            print(json.dumps({"counts": counts, "rcvbuf_errors": rcvbuf_errors()}), flush=True)
"""

SENDER = r"""
import json, resource, socket, sys, time
port, secs, size, tag = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
addrs = [(t, port) for t in sys.argv[5:]]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
payload = bytes([tag]) + bytes(size - 1)
sent, errors = [0] * len(addrs), 0
def cpu():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime
cpu0 = cpu()
start = time.perf_counter()
end = start + secs
while time.perf_counter() < end:
    for _ in range(64):
        for i, a in enumerate(addrs):
            try:
                s.sendto(payload, a)
                sent[i] += 1
            except OSError:
                errors += 1
print(json.dumps({"sent": sent, "errors": errors, "seconds": time.perf_counter() - start, "cpu": cpu() - cpu0}))
"""


@dataclass
class Receiver:
    name: str
    node: str
    ip: str
    proc: subprocess.Popen[str]

    def report(self, timeout: float = 20.0) -> tuple[list[int], int]:
        """(datagrams counted per tag, its namespace's UDP RcvbufErrors) so far."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("r\n")
        self.proc.stdin.flush()
        if not select.select([self.proc.stdout], [], [], timeout)[0]:
            raise SystemExit(f"receiver {self.name} did not report within {timeout:.0f}s")
        got = json.loads(self.proc.stdout.readline())
        return got["counts"], got["rcvbuf_errors"]


@dataclass
class Phase:
    kind: str  # "multicast" | "unicast"
    sent: int
    seconds: float
    cpu: float
    send_errors: int
    expected: list[int]  # per receiver: what was sent to it
    got: list[int]  # per receiver
    overflow: list[int]  # per receiver namespace: RcvbufErrors during the phase
    vxlan_frames: int  # VXLAN frames node1 sent during the phase

    @property
    def delivered(self) -> int:
        return sum(self.got)

    @property
    def loss(self) -> float:
        return 1 - self.delivered / max(1, sum(self.expected))


# -- the lab ----------------------------------------------------------------------------------------

def start_lab(stack: contextlib.ExitStack, mode: str, keep_logs: str) -> cluster.LabInfo:
    lab_dir = tempfile.mkdtemp(prefix=f"osdn-bench-{LAB}-")
    stack.callback(shutil.rmtree, lab_dir, True)
    if keep_logs:
        stack.callback(dp.copy_logs, lab_dir, keep_logs)
    stack.callback(cluster.down, LAB, lab_dir)
    return cluster.up(cluster.UpOptions(name=LAB, nodes=3, mode=mode, lab_dir=lab_dir), lambda msg: None)


def enable_multicast(client: Client, project: str) -> None:
    """Annotate the project's NetNamespace (made by the master's controller shortly after the project)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            client.patch("NetNamespace", project, {"metadata": {"annotations": {MULTICAST_ANNOTATION: "true"}}})
            return
        except NotFoundError:
            if time.monotonic() > deadline:
                raise SystemExit(f"NetNamespace {project} did not appear within 30s") from None
            time.sleep(0.2)


def place_pods(client: Client, info: cluster.LabInfo, receivers: int) -> tuple[str, list[tuple[str, str, str]]]:
    """The sender on node1 and `receivers` pods round-robin over the nodes: (sender netns,
    [(receiver name, node, IP)])."""
    nodes = [n.name for n in info.nodes]
    spots = [("sender", nodes[0])] + [(f"recv{i + 1}", nodes[i % len(nodes)]) for i in range(receivers)]
    for name, node in spots:
        create_pod(client, PodRequest(name, PROJECT, node, {"app": "mcbench"}, "python", [80]))
    ips = {name: wait_pod_ip(client, PROJECT, name, timeout=120) for name, _ in spots}
    sender_ns = pod_netns(client.get("Pod", "sender", PROJECT))
    return sender_ns, [(name, node, ips[name]) for name, node in spots[1:]]


def start_receivers(stack: contextlib.ExitStack, client: Client, spots: list[tuple[str, str, str]]) -> list[Receiver]:
    out = []
    for name, node, ip in spots:
        proc = netns.spawn_in_netns(pod_netns(client.get("Pod", name, PROJECT)),
                                    [*dp.SERVER_CPU, sys.executable, "-c", RECEIVER, GROUP, str(PORT), ip],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        stack.callback(stop_receiver, proc)
        out.append(Receiver(name, node, ip, proc))
    for r in out:
        assert r.proc.stdout is not None
        if not select.select([r.proc.stdout], [], [], 30)[0] or r.proc.stdout.readline().strip() != "ready":
            raise SystemExit(f"receiver in pod {r.name} did not start")
    return out


def stop_receiver(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(OSError):
        if proc.stdin is not None:
            proc.stdin.close()  # EOF: the receiver exits
    try:
        proc.wait(2)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# -- traffic ----------------------------------------------------------------------------------------

@dataclass
class Sent:
    per_target: list[int]
    errors: int
    seconds: float
    cpu: float  # the sender's user + system CPU seconds (with the softirq work run in its context)


def send(sender_ns: str, targets: list[str], tag: int, secs: float, size: int) -> Sent:
    argv = [*dp.CLIENT_CPU, sys.executable, "-c", SENDER, str(PORT), f"{secs:g}", str(size), str(tag), *targets]
    out = json.loads(netns.run_cmd(sender_ns, argv, timeout=secs + 60).stdout)
    return Sent([int(x) for x in out["sent"]], int(out["errors"]), float(out["seconds"]), float(out["cpu"]))


def vxlan_tx(node_ns: str) -> int:
    out = netns.run_cmd(node_ns, ["ip", "-j", "-s", "link", "show", "dev", "osdnvx0"])
    return int(json.loads(out.stdout)[0]["stats64"]["tx"]["packets"])


def wait_delivery(sender_ns: str, receivers: list[Receiver], size: int, timeout: float = 60.0) -> None:
    """Probe bursts to the group until every receiver gets them (the annotation takes a sync of every
    node to land)."""
    t0 = time.monotonic()
    before = [r.report()[0][PROBE_TAG] for r in receivers]
    while True:
        send(sender_ns, [GROUP], PROBE_TAG, 0.05, size)
        time.sleep(0.2)
        now = [r.report()[0][PROBE_TAG] for r in receivers]
        if all(b > a for a, b in zip(before, now, strict=True)):
            return
        if time.monotonic() - t0 > timeout:
            missing = [r.name for r, a, b in zip(receivers, before, now, strict=True) if b <= a]
            raise SystemExit(f"multicast not delivered to {missing} after {timeout:.0f}s")
        before = now


def run_phase(kind: str, tag: int, sender_ns: str, node1_ns: str, receivers: list[Receiver], secs: float,
              size: int) -> Phase:
    targets = [GROUP] if kind == "multicast" else [r.ip for r in receivers]
    before = [r.report() for r in receivers]
    vx0 = vxlan_tx(node1_ns)
    out = send(sender_ns, targets, tag, secs, size)
    vx1 = vxlan_tx(node1_ns)
    time.sleep(0.5)  # let the receivers drain their socket buffers
    after = [r.report() for r in receivers]
    expected = out.per_target * len(receivers) if kind == "multicast" else out.per_target
    return Phase(kind, sum(out.per_target), out.seconds, out.cpu, out.errors, expected,
                 [a[0][tag] - b[0][tag] for a, b in zip(after, before, strict=True)],
                 [a[1] - b[1] for a, b in zip(after, before, strict=True)], vx1 - vx0)


# -- output -----------------------------------------------------------------------------------------

def rate(count: int, p: Phase) -> float:
    return count / p.seconds


def phase_line(label: str, p: Phase) -> str:
    per = [rate(g, p) for g in p.got]
    lost = sum(p.expected) - p.delivered
    overflow = f"{sum(p.overflow) / lost:.0%}" if lost > 0 else "-"
    return (f"{label:<6} {p.kind:<9} {rate(p.sent, p):>9,.0f} {rate(p.delivered, p):>12,.0f} "
            f"{f'{min(per):,.0f}-{max(per):,.0f}':>17} {p.loss:>6.1%} {overflow:>9} "
            f"{p.cpu / p.seconds:>7.0%} {p.vxlan_frames / max(1, p.sent):>8.2f}"
            + (f"  ({p.send_errors} send errors)" if p.send_errors else ""))


def cpu_per_delivery(p: Phase) -> float:
    """Microseconds of the sender's CPU time per datagram delivered (softirq work the kernel does in
    ksoftirqd or on other CPUs is not in it)."""
    return p.cpu / max(1, p.delivered) * 1e6


def summary(rounds: list[tuple[Phase, Phase]], receivers: list[Receiver], busy: int) -> list[str]:
    lines = [f"{'round':<6} {'phase':<9} {'sent/s':>9} {'delivered/s':>12} {'per receiver/s':>17} {'loss':>6} "
             f"{'rcvbuf':>9} {'snd CPU':>7} {'VXLAN/sent':>8}"]
    for i, (m, u) in enumerate(rounds):
        lines += [phase_line(str(i + 1), m), phase_line(str(i + 1), u)]
    ratios = [rate(m.delivered, m) / max(1e-9, rate(u.delivered, u)) for m, u in rounds]
    sends = [rate(m.sent, m) / max(1e-9, rate(u.sent, u)) for m, u in rounds]
    lines += [
        "rcvbuf: share of the lost datagrams the receivers' socket buffers dropped (8 MiB, receivers too slow); "
        "snd CPU: the sender's CPU time / phase time; VXLAN/sent: frames node1's VXLAN device sent per datagram",
        f"multicast / unicast, delivered/s in total: median {statistics.median(ratios):.2f}x "
        f"[{min(ratios):.2f}x - {max(ratios):.2f}x] over {len(rounds)} round(s); "
        f"datagrams sent/s: {statistics.median(sends):.2f}x; the sender's CPU per delivered datagram: multicast "
        f"{statistics.median(cpu_per_delivery(m) for m, _ in rounds):.1f} us, unicast "
        f"{statistics.median(cpu_per_delivery(u) for _, u in rounds):.1f} us",
        "per receiver, median delivered/s over the rounds (multicast | unicast, loss):"]
    for j, r in enumerate(receivers):
        mc = statistics.median(rate(m.got[j], m) for m, _ in rounds)
        uc = statistics.median(rate(u.got[j], u) for _, u in rounds)
        ml = statistics.median(1 - m.got[j] / max(1, m.expected[j]) for m, _ in rounds)
        ul = statistics.median(1 - u.got[j] / max(1, u.expected[j]) for _, u in rounds)
        lines.append(f"  {r.name:<7} {r.node:<6} {mc:>9,.0f} ({ml:>5.1%}) | {uc:>9,.0f} ({ul:>5.1%})")
    lines.append(f"each phase waited (up to 3 s) for the other jobs on the machine to leave the CPUs idle; "
                 f"{busy} of {2 * len(rounds)} phases ran while they did not")
    return lines


# -- main -------------------------------------------------------------------------------------------

def bench(stack: contextlib.ExitStack, args: argparse.Namespace) -> tuple[str, list[str]]:
    t0 = time.monotonic()
    info = start_lab(stack, args.mode, args.keep_lab_logs)
    client = stack.enter_context(Client(load_config(info.admin_conf)))
    up = time.monotonic() - t0
    sender_ns, spots = place_pods(client, info, args.receivers)
    receivers = start_receivers(stack, client, spots)
    t1 = time.monotonic()
    enable_multicast(client, PROJECT)
    wait_delivery(sender_ns, receivers, args.size)
    ready = time.monotonic() - t1
    node1_ns = info.nodes[0].netns
    rounds, busy = [], 0
    for i in range(args.rounds):
        phases = {}
        for kind in (("multicast", "unicast") if i % 2 == 0 else ("unicast", "multicast")):
            busy += not dp.await_quiet()
            phases[kind] = run_phase(kind, 2 * i + (kind == "unicast") + 1, sender_ns, node1_ns, receivers,
                                     args.seconds, args.size)
        rounds.append((phases["multicast"], phases["unicast"]))
        print(f"  round {i + 1}: done (load {dp.load()})", flush=True)
    where = "; ".join(f"{n.name} {', '.join(r.name for r in receivers if r.node == n.name) or '-'}"
                      for n in info.nodes)
    head = (f"lab {LAB}: 3 nodes, {args.mode} mode, up in {up:.0f} s; project {PROJECT} multicast-enabled, "
            f"delivered to every receiver {ready:.1f} s after the annotation; sender on {info.nodes[0].name}; "
            f"{len(receivers)} receivers: {where}; {args.size} B datagrams to {GROUP}:{PORT} or to each receiver "
            f"in turn, {args.seconds:g} s per phase, {args.rounds} round(s), the order alternating")
    return head, summary(rounds, receivers, busy)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 receivers, one 2 s round (about 30 s)")
    ap.add_argument("--receivers", type=int, default=0, help="receiver pods over the 3 nodes (default 6, quick 3)")
    ap.add_argument("--seconds", type=float, default=0, help="sending time per phase (default 5, quick 2)")
    ap.add_argument("--rounds", type=int, default=0, help="multicast + unicast rounds (default 5, quick 1)")
    ap.add_argument("--size", type=int, default=100, help="UDP payload bytes per datagram (default 100)")
    ap.add_argument("--mode", default="multitenant", choices=("multitenant", "networkpolicy"))
    ap.add_argument("--keep-lab-logs", default="", metavar="DIR", help="copy the lab's logs to DIR at the end")
    args = ap.parse_args()
    args.receivers = args.receivers or (3 if args.quick else 6)
    args.seconds = args.seconds or (2.0 if args.quick else 5.0)
    args.rounds = args.rounds or (1 if args.quick else 5)
    if not 1 <= args.size <= 1400 or args.receivers < 1 or args.rounds < 1:
        raise SystemExit("--size must be 1-1400 (the pod MTU is 1450), --receivers and --rounds at least 1")
    if os.geteuid() != 0:
        raise SystemExit("bench/multicast.py needs root (network namespaces, the lab)")
    header = (f"osdn multicast benchmark: {os.cpu_count()} cores, load {dp.load()} at start, "
              f"{'--quick' if args.quick else 'full run'}")
    print(header, flush=True)
    started = time.perf_counter()
    report = dp.Report()
    ok = False
    try:
        with dp.interruptible(), contextlib.ExitStack() as stack:
            head, lines = bench(stack, args)
            report.section(head, lines)
        ok = True
    finally:
        left = cluster.leftovers(LAB)
        print(f"\ncleanup: {'nothing left' if not left else 'LEFT: ' + ', '.join(left)}", flush=True)
    if ok:
        report.print(header + f"; load {dp.load()} at the end; {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
