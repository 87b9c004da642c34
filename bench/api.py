"""API server throughput and latency at 10k objects: create, get, list, watch delivery.

Starts a real `osdn server` on a free loopback port with a throw-away data dir, drives it over HTTP
with concurrent clients, prints figures, and never fails on timing. Usage:

    python bench/api.py [--objects 10000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import yaml


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] * 1000


def start_server(data: Path, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "osdn", "server", "--data-dir", str(data), "--listen",
                             f"127.0.0.1:{port}", "--log-level", "warning"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200 and (data / "admin.conf").exists():
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise SystemExit("server did not start")


def configmap(i: int) -> bytes:
    return json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": f"cm-{i}", "labels": {"bench": "yes", "shard": str(i % 10)}},
                       "data": {"key": "value " * 10}}).encode()


async def run_phase(base: str, token: str, n: int, conc: int, method: str,
                    path_of, body_of=None) -> tuple[float, list[float]]:  # type: ignore[no-untyped-def]
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=conc, max_keepalive_connections=conc)
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}",
                                                         "Content-Type": "application/json"},
                                 limits=limits, timeout=30) as client:
        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                t0 = time.perf_counter()
                r = await client.request(method, path_of(i), content=body_of(i) if body_of else None)
                latencies.append(time.perf_counter() - t0)
                if r.status_code >= 300:
                    raise SystemExit(f"{method} {path_of(i)}: {r.status_code} {r.text[:200]}")
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(conc)))
        return time.perf_counter() - start, latencies


def watch_latency(base: str, token: str, n: int) -> list[float]:
    """Create n objects one by one while a watcher runs; delay from the create's reply to the event."""
    acked: dict[str, float] = {}
    seen: dict[str, float] = {}
    hdr = {"Authorization": f"Bearer {token}"}
    ready = threading.Event()
    rv = httpx.get(f"{base}/api/v1/namespaces/bench/configmaps", headers=hdr,
                   params={"labelSelector": "none=1"}).json()["metadata"]["resourceVersion"]

    def watcher() -> None:
        with httpx.stream("GET", f"{base}/api/v1/namespaces/bench/configmaps", headers=hdr, timeout=None,
                          params={"watch": "true", "resourceVersion": rv, "labelSelector": "watch=yes"}) as r:
            ready.set()
            for line in r.iter_lines():
                if line:
                    seen[json.loads(line)["object"]["metadata"]["name"]] = time.perf_counter()
                    if len(seen) >= n:
                        return
    t = threading.Thread(target=watcher, daemon=True)
    t.start()
    ready.wait(5)
    time.sleep(0.2)
    with httpx.Client(base_url=base, headers={**hdr, "Content-Type": "application/json"}) as c:
        for i in range(n):
            name = f"w-{i}"
            body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                               "metadata": {"name": name, "labels": {"watch": "yes"}}})
            c.post("/api/v1/namespaces/bench/configmaps", content=body)
            acked[name] = time.perf_counter()
            time.sleep(0.002)
    t.join(10)
    return [max(0.0, seen[k] - acked[k]) for k in acked if k in seen]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--objects", type=int, default=10_000)
    ap.add_argument("--concurrency", type=int, default=32)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        data = Path(tmp) / "data"
        proc = start_server(data, port)
        try:
            base = f"http://127.0.0.1:{port}"
            token = yaml.safe_load((data / "admin.conf").read_text())["token"]
            hdr = {"Authorization": f"Bearer {token}"}
            httpx.post(f"{base}/apis/project.openshift.io/v1/projects", headers=hdr,
                       json={"apiVersion": "v1", "kind": "Project", "metadata": {"name": "bench"}})
            n, conc = args.objects, args.concurrency
            coll = "/api/v1/namespaces/bench/configmaps"
            print(f"osdn API benchmark: {n} ConfigMaps, {conc} concurrent clients, loopback, 1 server process")
            secs, lat = asyncio.run(run_phase(base, token, n, conc, "POST", lambda i: coll, configmap))
            print(f"create: {n / secs:8.0f}/s   p50 {pct(lat, .5):6.2f} ms   p99 {pct(lat, .99):6.2f} ms")
            secs, lat = asyncio.run(run_phase(base, token, n, conc, "GET", lambda i: f"{coll}/cm-{i}"))
            print(f"get:    {n / secs:8.0f}/s   p50 {pct(lat, .5):6.2f} ms   p99 {pct(lat, .99):6.2f} ms")
            t0 = time.perf_counter()
            items = httpx.get(f"{base}{coll}", headers=hdr, timeout=60).json()["items"]
            full = time.perf_counter() - t0
            t0 = time.perf_counter()
            shard = httpx.get(f"{base}{coll}", headers=hdr, params={"labelSelector": "shard=3"}).json()["items"]
            sel = time.perf_counter() - t0
            print(f"list:   all {len(items)} in {full * 1000:.0f} ms; labelSelector shard=3 ({len(shard)}) "
                  f"in {sel * 1000:.0f} ms")
            lat = watch_latency(base, token, 500)
            print(f"watch:  delivery after the create's reply, {len(lat)} events: p50 {pct(lat, .5):.2f} ms "
                  f"p99 {pct(lat, .99):.2f} ms")
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
