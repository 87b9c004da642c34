"""Throughput and capture tools for lab pods: iperf3 and tcpdump in the right namespaces.

`osdn adm diagnose throughput` and `osdn adm capture` (osdn.cli.troubleshoot) do what the seed's
"Troubleshooting Throughput Issues" asks by hand: iperf3 from pod to pod and then from node to node
(the SDN left out), tcpdump between two pods or on the VXLAN port between their nodes. A pod is a
network namespace on this machine (`lab.osdn.io/netns`); its node's namespace and underlay address
come from the lab (`osdn.lab.kernel_view.find_local_lab`).

Side effects: processes started in lab namespaces (`spawn_in_netns`); every one is stopped in a
`finally`, also on Ctrl-C (KeyboardInterrupt) and on SIGTERM (turned into KeyboardInterrupt while a
tool runs). No file is written except the capture's own `-w FILE`. The pure parts (`Endpoint`
resolution, filters, the report) take plain data.
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from osdn.errors import OsdnError
from osdn.kernel.netns import netns_exists, spawn_in_netns
from osdn.lab.cluster import LabInfo

Obj = Mapping[str, Any]
NETNS_ANNOTATION = "lab.osdn.io/netns"
Progress = Callable[[str], None]


class TroubleshootError(OsdnError):
    """A pod or node the tools cannot reach, or a tool that failed (the message says which)."""


@dataclass(frozen=True)
class Endpoint:
    """A pod and where it runs: its namespace, IP, node, the node's namespace and underlay IP."""

    key: str
    netns: str
    ip: str
    node: str
    node_netns: str
    node_ip: str


def resolve(pod: Obj, lab: LabInfo | None) -> Endpoint:
    """Pure (but for the lab lookup passed in): where `pod` and its node live on this machine."""
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    key = f"{meta.get('namespace')}/{meta.get('name')}"
    pod_ns = str((meta.get("annotations") or {}).get(NETNS_ANNOTATION) or "")
    if not pod_ns or not status.get("podIP"):
        raise TroubleshootError(f"pod {key} is not a running lab pod (no {NETNS_ANNOTATION} annotation or no "
                                "status.podIP): these tools work on the pods of a local osdn lab")
    node = str((pod.get("spec") or {}).get("nodeName") or "")
    info = lab.node(node) if lab is not None else None
    if info is None:
        raise TroubleshootError(f"pod {key}: node {node or '(none)'} is not a node of a lab on this machine")
    return Endpoint(key, pod_ns, str(status["podIP"]), node, info.netns, info.ip)


def pod_filter(a: Endpoint, b: Endpoint | None) -> str:
    """The seed's pod filter: `host A` or `host A and host B`."""
    return f"host {a.ip}" if b is None else f"host {a.ip} and host {b.ip}"


def vxlan_filter(a: Endpoint, b: Endpoint | None, port: int) -> str:
    """The seed's node filter (VXLAN between the pods' nodes)."""
    hosts = f"host {a.node_ip}" if b is None or b.node_ip == a.node_ip else f"host {a.node_ip} and host {b.node_ip}"
    return f"udp port {port} and {hosts}"


# -- processes --------------------------------------------------------------------------------------

@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """While the tools run, SIGTERM behaves as Ctrl-C, so the same cleanup runs."""
    def raise_interrupt(_sig: int, _frame: object) -> None:
        raise KeyboardInterrupt
    old = signal.signal(signal.SIGTERM, raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def stop(proc: subprocess.Popen[Any], sig: int = signal.SIGTERM, grace: float = 3.0) -> None:
    """Stop `proc` (signal, then SIGKILL after `grace`) and reap it."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _spawn(netns: str, argv: Sequence[str], stdout: Any = subprocess.DEVNULL) -> subprocess.Popen[Any]:
    if not netns_exists(netns):
        raise TroubleshootError(f"network namespace {netns!r} does not exist on this machine")
    return spawn_in_netns(netns, list(argv), stdout=stdout, stderr=subprocess.PIPE, text=True)


# -- iperf3 -----------------------------------------------------------------------------------------

def iperf3(server_ns: str, client_ns: str, target_ip: str, seconds: int, label: str, progress: Progress) -> float:
    """Bit/s of one TCP stream from `client_ns` to `target_ip` (an iperf3 server in `server_ns`)."""
    port = random.randint(20000, 29999)  # noqa: S311 (not security relevant: a free test port)
    server = _spawn(server_ns, ["iperf3", "-s", "-1", "-p", str(port)])
    client: subprocess.Popen[Any] | None = None
    try:
        client = _start_client(server, client_ns, target_ip, port, seconds)
        start = time.monotonic()
        while client.poll() is None:
            progress(f"{label}: {min(seconds, int(time.monotonic() - start))}/{seconds}s")
            time.sleep(0.5)
        out, err = client.communicate()
        return _received(out, err, label)
    finally:
        if client is not None:
            stop(client, signal.SIGINT)
        stop(server)


def _start_client(server: subprocess.Popen[Any], netns: str, ip: str, port: int, seconds: int) -> subprocess.Popen[Any]:
    """The client, once the server listens (iperf3 -c fails at once while it does not)."""
    deadline = time.monotonic() + 5
    while True:
        time.sleep(0.5)  # the server's start; a client that still finds no listener tries again
        client = _spawn(netns, ["iperf3", "-c", ip, "-p", str(port), "-t", str(seconds), "-J"],
                        stdout=subprocess.PIPE)
        time.sleep(1.0)
        if client.poll() is None or client.returncode == 0:
            return client
        out, _ = client.communicate()
        if server.poll() is not None or time.monotonic() > deadline:
            raise TroubleshootError(f"iperf3 cannot connect to {ip}:{port}: {_iperf_error(out)}")


def _iperf_error(out: str) -> str:
    try:
        return str(json.loads(out).get("error") or "no error text")
    except ValueError:
        return out.strip()[-200:] or "no output"


def _received(out: str, err: str, label: str) -> float:
    try:
        doc = json.loads(out)
    except ValueError as exc:
        raise TroubleshootError(f"{label}: iperf3 printed no result: {(err or out).strip()[-200:]}") from exc
    if doc.get("error"):
        raise TroubleshootError(f"{label}: iperf3: {doc['error']}")
    return float(doc["end"]["sum_received"]["bits_per_second"])


@dataclass(frozen=True)
class ThroughputReport:
    src: Endpoint
    dst: Endpoint
    seconds: int
    pod_bps: float
    node_bps: float

    @property
    def ratio(self) -> float:
        return self.pod_bps / self.node_bps if self.node_bps else 0.0


def measure_throughput(src: Endpoint, dst: Endpoint, seconds: int, progress: Progress) -> ThroughputReport:
    """iperf3 pod -> pod, then node -> node over the underlay (the same node: to its own address)."""
    with sigterm_interrupts():
        pod = iperf3(dst.netns, src.netns, dst.ip, seconds, f"pod {src.key} -> pod {dst.key}", progress)
        node = iperf3(dst.node_netns, src.node_netns, dst.node_ip, seconds,
                      f"node {src.node} -> node {dst.node}", progress)
    return ThroughputReport(src, dst, seconds, pod, node)


def gbit(bps: float) -> str:
    return f"{bps / 1e9:.2f} Gbit/s" if bps >= 1e9 else f"{bps / 1e6:.1f} Mbit/s"


def render_throughput(r: ThroughputReport) -> str:
    """Pure: the report's text."""
    where = "the same node: its own address" if r.src.node == r.dst.node else "underlay, no SDN"
    return "\n".join([
        f"pod -> pod    {r.src.key} ({r.src.ip}, {r.src.node}) -> {r.dst.key} ({r.dst.ip}, {r.dst.node}): "
        f"{gbit(r.pod_bps)}",
        f"node -> node  {r.src.node} ({r.src.node_ip}) -> {r.dst.node} ({r.dst.node_ip}) [{where}]: {gbit(r.node_bps)}",
        f"ratio pod/node: {r.ratio:.2f} (the pod path delivers {r.ratio * 100:.0f}% of what the nodes do; "
        f"TCP, one stream, {r.seconds}s each)",
    ])


def throughput_to_dict(r: ThroughputReport) -> dict[str, Any]:
    return {"from": r.src.key, "to": r.dst.key, "seconds": r.seconds, "podBitsPerSecond": round(r.pod_bps),
            "nodeBitsPerSecond": round(r.node_bps), "ratio": round(r.ratio, 3),
            "fromNode": r.src.node, "toNode": r.dst.node}


# -- tcpdump ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CapturePlan:
    netns: str
    where: str
    filter: str


def capture(plan: CapturePlan, path: str, count: int, timeout: float, progress: Progress) -> int:
    """tcpdump in `plan.netns` on every interface into `path` (pcap) until `count` packets,
    `timeout` seconds (0: none) or Ctrl-C; the number of packets captured."""
    argv = ["tcpdump", "-s", "0", "-i", "any", "-U", "-Z", "root", "-w", path]
    argv += ["-c", str(count)] if count else []
    proc = _spawn(plan.netns, [*argv, plan.filter])
    deadline = time.monotonic() + timeout if timeout else None
    try:
        with sigterm_interrupts(), contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends the capture
            progress(f"capturing on {plan.where} ({plan.filter!r}) into {path}; Ctrl-C stops")
            while proc.poll() is None and (deadline is None or time.monotonic() < deadline):
                time.sleep(0.1)
    finally:
        stop(proc, signal.SIGINT)  # tcpdump flushes the file and prints its counts
    err = proc.stderr.read() if proc.stderr else ""
    got = re.search(r"(\d+) packets? captured", err)
    if got is None:
        raise TroubleshootError(f"tcpdump in {plan.netns} failed: {err.strip()[-300:]}")
    return int(got.group(1))
