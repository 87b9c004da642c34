"""End-to-end checks of a running lab: what the nodes' kernels hold and what real traffic does.

- `nft_ips(lab, node)`: every IPv4 address in the elements of osdn's sets and maps on a node;
  `tables(lab, node)`: the (family, name) of every nft table there; `counter(...)`: a named counter.
- `pod_veths(lab, node)`: osdn pod veths (`osdnp*`) in the node namespace.
- `EchoStream`: one long-lived TCP connection to an echo server pod (`ECHO_SERVER`) carrying a
  numbered message every ~20 ms, each reply checked.
- `Prober` connects over and over for a list of pairs in a thread (the enforcement-gap detector);
  `wait_for` waits for progress (never for a duration).
- `probe_matrix` connects from every pod to every other (in parallel); `model_matrix` asks the
  reachability oracle (osdn.model) the same question from the API objects; `expect_model` polls
  until the two agree (policies take a sync to land) and fails with the difference if they never do.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from labkit import Lab
from polling import wait_for as poll

from osdn.cli.clusterstate import fetch_objects
from osdn.kernel import links, netns
from osdn.kernel.nft import Nft
from osdn.lab.pods import probe
from osdn.model.cluster import ClusterState
from osdn.model.oracle import compute_verdict, pod_endpoint
from osdn.model.verdict import Connection

Pods = Mapping[str, tuple[str, str]]  # "project/name" -> (IP, netns)
ECHO_PORT = 7000
ECHO_SERVER = """
import socket, threading
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", PORT)); srv.listen(16)
print("echo server ready", flush=True)
def serve(conn):
    with conn, conn.makefile("rb") as lines:
        for line in lines:
            conn.sendall(line)
while True:
    threading.Thread(target=serve, args=(srv.accept()[0],), daemon=True).start()
""".replace("PORT", str(ECHO_PORT))
Matrix = dict[tuple[str, str], bool]
POD_VETH_PREFIX = "osdnp"


def _node_ns(lab: Lab, node: str) -> str:
    return lab.node(node).netns


def tables(lab: Lab, node: str) -> list[tuple[str, str]]:
    with Nft(_node_ns(lab, node)) as nft:
        doc = nft.run_json_output("list tables")
    return sorted((t["table"]["family"], t["table"]["name"]) for t in doc["nftables"] if "table" in t)


def set_elements(lab: Lab, node: str) -> dict[str, list[Any]]:
    """`family/set` -> its elements (nft JSON) for osdn's two tables on `node`."""
    out: dict[str, list[Any]] = {}
    with Nft(_node_ns(lab, node)) as nft:
        for family in ("inet", "bridge"):
            for obj in nft.list_table_json(family, "osdn") or []:
                body = obj.get("set") or obj.get("map")
                if body is not None:
                    out[f"{family}/{body['name']}"] = body.get("elem") or []
    return out


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def nft_ips(lab: Lab, node: str) -> dict[str, set[str]]:
    """IPv4 address -> the `family/set` names whose elements mention it, on `node`."""
    found: dict[str, set[str]] = {}
    for name, elems in set_elements(lab, node).items():
        for text in _strings(elems):
            try:
                ipaddress.IPv4Address(text)
            except ValueError:
                continue
            found.setdefault(text, set()).add(name)
    return found


def counter(lab: Lab, node: str, family: str, name: str) -> int:
    with Nft(_node_ns(lab, node)) as nft:
        doc = nft.run_json_output(f"list counter {family} osdn {name}")
    return int(next(o["counter"]["packets"] for o in doc["nftables"] if "counter" in o))


def pod_veths(lab: Lab, node: str) -> set[str]:
    return {link.name for link in links.observe_links(_node_ns(lab, node), POD_VETH_PREFIX)}


def ipam_ips(lab: Lab, node: str) -> set[str]:
    path = f"{lab.info.dir}/{node}/ipam-{node}.json"
    with open(path) as fh:
        return {lease["ip"] for lease in json.load(fh)["leases"]}


# -- reachability: the kernel against the model ---------------------------------------------------

def probe_matrix(pods: Pods, port: int = 80, timeout: float = 1.0) -> Matrix:
    """(src, dst) -> a TCP connect from src's namespace to dst's IP succeeded; all pairs in parallel."""
    pairs = [(s, d) for s in pods for d in pods if s != d]
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = pool.map(lambda p: probe(pods[p[0]][1], pods[p[1]][0], port, timeout), pairs)
        return dict(zip(pairs, results, strict=True))


def model_matrix(lab: Lab, pods: Pods, port: int = 80) -> Matrix:
    """(src, dst) -> the model's verdict for TCP/`port`, from the API objects as they are now."""
    state = ClusterState.from_objects(fetch_objects(lab.client))
    ends = {key: pod_endpoint(state, state.pod_index[key]) for key in pods}
    return {(s, d): compute_verdict(state, Connection(ends[s], ends[d], "TCP", port)).allowed
            for s in pods for d in pods if s != d}


def show(m: Matrix, other: Matrix | None = None) -> str:
    rows = []
    for (s, d), ok in sorted(m.items()):
        mark = "" if other is None or other.get((s, d)) == ok else "   <-- model says " + \
            ("allowed" if other and other[(s, d)] else "blocked")
        rows.append(f"  {s:>14} -> {d:<14} {'ok' if ok else '--'}{mark}")
    return "\n".join(rows)


def expect_model(lab: Lab, pods: Pods, within: float = 10.0, port: int = 80) -> Matrix:
    """Poll until real connects equal the model's verdicts for every pair; the agreed matrix."""
    want = model_matrix(lab, pods, port)
    deadline = time.monotonic() + within
    while True:
        got = probe_matrix(pods, port)
        if got == want:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"the kernel disagrees with the model after {within:.0f}s:\n{show(got, want)}")
        time.sleep(0.3)
        want = model_matrix(lab, pods, port)


# -- traffic that runs while something happens ------------------------------------------------------

@dataclass
class EchoStream:
    """One TCP connection from `src_ns` to the echo server: a numbered line every ~20 ms, each
    reply checked. Any error or wrong reply ends the stream and is kept in `errors`."""

    src_ns: str
    ip: str
    sent: int = 0
    echoed: int = 0
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.stop = threading.Event()
        self.sock = netns.run_in_netns(self.src_ns, self._connect)
        self.thread = threading.Thread(target=self._run, name="echo-stream", daemon=True)

    def _connect(self) -> socket.socket:
        deadline = time.monotonic() + 20
        while True:  # the server process may still be starting
            try:
                return socket.create_connection((self.ip, ECHO_PORT), timeout=2)
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def _run(self) -> None:
        self.sock.settimeout(60)  # a lost segment is retransmitted: late is fine, lost or reset is not
        lines = self.sock.makefile("rb")
        try:
            while not self.stop.is_set():
                self.sent += 1
                self.sock.sendall(b"%d\n" % self.sent)
                reply = lines.readline()
                if reply != b"%d\n" % self.sent:
                    self.errors.append(f"message {self.sent}: got {reply!r}")
                    return
                self.echoed += 1
                time.sleep(0.02)
        except OSError as exc:
            self.errors.append(f"message {self.sent}: {exc!r}")
        finally:
            lines.close()

    def __enter__(self) -> EchoStream:
        self.thread.start()
        return self

    def progresses(self, within: float) -> bool:
        """True if another reply arrives within `within` s (a live connection answers in ms)."""
        start = self.echoed
        deadline = time.monotonic() + within
        while self.echoed == start and self.thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.echoed > start

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=5)  # a live stream ends its loop within one message
        if self.thread.is_alive():  # blocked on a reply that will not come: unblock it
            self.sock.shutdown(socket.SHUT_RDWR)
            self.thread.join(timeout=10)
        self.sock.close()



@dataclass
class Prober:
    """Connects over and over for each (src, dst, want) pair; records every answer that is not `want`."""

    pods: Pods
    pairs: list[tuple[str, str, bool]]
    rounds: int = 0
    wrong: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="prober", daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            for src, dst, want in self.pairs:
                # blocked: a short timeout is enough to see the drop; allowed: long, a slow machine is no gap
                ok = probe(self.pods[src][1], self.pods[dst][0], 80, timeout=0.5 if not want else 5.0)
                if ok != want:
                    self.wrong.append(f"round {self.rounds}: {src} -> {dst} {'connected' if ok else 'failed'}")
            self.rounds += 1

    def __enter__(self) -> Prober:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=60)


def wait_for(what: str, cond: Callable[[], bool], timeout: float = 60) -> None:
    """Progress, not timing: fail only if `cond` never holds (a wedged stream or prober)."""
    poll(cond, timeout, f"progress: {what}")
