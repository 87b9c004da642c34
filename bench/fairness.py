"""What one tenant's most expensive requests cost the API server, and what they cost everyone else.

Starts a real `osdn server` (TLS, no controllers) and, for each request a tenant may send within the
limits (server-side apply of large objects with long keyed lists, strategic merge and JSON patches
near their caps, large ConfigMaps, lists of many objects as JSON, protobuf and Table, dry runs),
prints its wall time and the server's CPU time, while a second client (another user) GETs one small
object in a loop: its latency p50/p99/max during the big request is "what the other tenant felt".
Prints figures; never fails on timing. Usage:

    python bench/fairness.py [--list-objects 10000] [--items 5000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from api import Server, pct  # noqa: E402

NS = "p-fair"
CM = f"/api/v1/namespaces/{NS}/configmaps"
APPLY = {"Content-Type": "application/apply-patch+yaml"}
STRATEGIC = {"Content-Type": "application/strategic-merge-patch+json"}
JSON_PATCH = {"Content-Type": "application/json-patch+json"}


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def big_configmap(name: str, items: int, data_keys: int) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": name, "finalizers": [f"f{i}.example.com/x" for i in range(items)],
        "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": f"o{i}",
                             "uid": f"00000000-0000-0000-0000-{i:012d}"} for i in range(items)]},
        "data": {f"key-{i}": "v" * 100 for i in range(data_keys)}}


class Prober:
    """Another user's client GETting one small object in a loop; keeps the latencies of a window."""

    def __init__(self, client: httpx.Client, path: str) -> None:
        self.client, self.path, self.times = client, path, list[float]()
        self.stop, self.on = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            start = time.perf_counter()
            assert self.client.get(self.path).status_code == 200
            if self.on.is_set():
                self.times.append(time.perf_counter() - start)
            time.sleep(0.01)

    def window(self, fn: Callable[[], httpx.Response]) -> tuple[httpx.Response, float, list[float]]:
        self.times = []
        self.on.set()
        start = time.perf_counter()
        r = fn()
        wall = time.perf_counter() - start
        time.sleep(0.05)
        self.on.clear()
        return r, wall, self.times


def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp), controllers=False)
        try:
            with server.client() as admin:
                admin.timeout = httpx.Timeout(600)
                admin.post("/apis/project.openshift.io/v1/projects",
                           json={"apiVersion": "v1", "kind": "Project", "metadata": {"name": NS}})
                token = admin.post("/osdn/v1/tokens", json={"user": "alice", "groups": []}).json()
                with httpx.Client(base_url=server.base, verify=server.verify, timeout=600,
                                  headers={"Authorization": f"Bearer {token['token']}"}) as other:
                    other.post("/apis/project.openshift.io/v1/projects",
                               json={"apiVersion": "v1", "kind": "Project", "metadata": {"name": "p-alice"}})
                    small = "/api/v1/namespaces/p-alice/configmaps"
                    other.post(small, json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "small"}})
                    prober = Prober(other, f"{small}/small")
                    time.sleep(1)
                    base = sorted(prober.window(lambda: (time.sleep(2), httpx.Response(200))[1])[2])
                    print(f"baseline small GET: p50 {pct(base, .5):.1f} ms p99 {pct(base, .99):.1f} ms")
                    for name, fn in cases(admin, args):
                        cpu = cpu_of(server.proc.pid)
                        r, wall, lat = prober.window(fn)
                        used = cpu_of(server.proc.pid) - cpu
                        lat = lat or [0.0]
                        if r.status_code >= 300:
                            print("   ", r.text[:300])
                        print(f"{name:44s} {r.status_code} {len(r.content) / 1e6:5.2f} MB  wall {wall:6.2f} s  "
                              f"server CPU {used:6.2f} s  other GET p50 {pct(lat, .5):7.1f} p99 "
                              f"{pct(lat, .99):7.1f} max {max(lat) * 1000:7.1f} ms", flush=True)
                    prober.stop.set()
        finally:
            server.stop()


def cases(c: httpx.Client, args: argparse.Namespace) -> list[tuple[str, Callable[[], httpx.Response]]]:
    n = args.items
    big = big_configmap("big", n, 0)
    body = json.dumps(big)
    data = json.dumps(big_configmap("data", 0, 12_000))
    ops = json.dumps([{"op": "add", "path": "/metadata/labels", "value": {}}] +
                     [{"op": "add", "path": f"/metadata/labels/l{i}", "value": "v"} for i in range(9_999)])
    smp = json.dumps({"metadata": {"finalizers": [f"g{i}.example.com/x" for i in range(n)]}})
    return [
        (f"SSA create, {n} ownerRefs + {n} finalizers", lambda: c.patch(
            f"{CM}/big", content=body, headers=APPLY, params={"fieldManager": "a"})),
        ("SSA same again, other manager, force", lambda: c.patch(
            f"{CM}/big", content=body, headers=APPLY, params={"fieldManager": "b", "force": "true"})),
        ("SSA dry-run, drop all lists", lambda: c.patch(
            f"{CM}/big", content=json.dumps({**big, "metadata": {"name": "big"}}), headers=APPLY,
            params={"fieldManager": "b", "dryRun": "All"})),
        ("PUT (update) of the same object", lambda: c.put(f"{CM}/big", content=json.dumps(
            {**c.get(f"{CM}/big").json(), "data": {"x": "y"}}) if c.get(f"{CM}/big").is_success else body)),
        (f"strategic merge patch, {n} finalizers", lambda: c.patch(
            f"{CM}/big", content=smp, headers=STRATEGIC)),
        ("JSON patch, 9,999 ops", lambda: c.patch(f"{CM}/big", content=ops, headers=JSON_PATCH)),
        ("ConfigMap create, 12,000 keys (1.3 MB)", lambda: c.post(CM, content=data)),
        ("ConfigMap PUT, 12,000 keys", lambda: c.put(f"{CM}/data", content=json.dumps(
            {**c.get(f"{CM}/data").json(), "data": {f"k{i}": "w" * 100 for i in range(12_000)}}))),
        ("SSA create, 12,000 data keys, dry-run", lambda: c.patch(
            f"{CM}/data2", content=data.replace('"data"', '"data2"', 1), headers=APPLY,
            params={"fieldManager": "a", "dryRun": "All"})),
        *list_cases(c, args.list_objects),
    ]


def list_cases(c: httpx.Client, count: int) -> list[tuple[str, Callable[[], httpx.Response]]]:
    """Lists of `count` ConfigMaps across projects of 1,000 (the default quota of a project)."""
    def fill() -> httpx.Response:
        for i in range(count):
            ns = f"p-list-{i // 1000}"
            if i % 1000 == 0:
                c.post("/apis/project.openshift.io/v1/projects",
                       json={"apiVersion": "v1", "kind": "Project", "metadata": {"name": ns}})
            c.post(f"/api/v1/namespaces/{ns}/configmaps", json={
                "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm-{i}"}, "data": {"key": "value " * 10}})
        return c.get("/api/v1/configmaps", params={"limit": 1})
    table = "application/json;as=Table;v=v1;g=meta.k8s.io"
    return [(f"(creating {count} ConfigMaps, one by one)", fill)] + [
        (f"list {count} ConfigMaps, {kind}", lambda accept=accept: c.get("/api/v1/configmaps", headers={"Accept": accept}))
        for kind, accept in (("JSON", "application/json"),
                             ("protobuf", "application/vnd.kubernetes.protobuf"), ("Table", table))]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list-objects", type=int, default=10_000)
    parser.add_argument("--items", type=int, default=5_000)
    run(parser.parse_args())
