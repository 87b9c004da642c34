"""API server throughput and latency at 10k objects: create, get, list, watch delivery.

Starts a real `osdn server` on a free loopback port with a throw-away data dir, drives creates and
gets with `wrk` (Debian package; the Python HTTP clients saturate before the server does), lists the
10k+ objects and measures watch delivery with httpx; prints figures; never fails on timing. Usage:

    python bench/api.py [--objects 10000] [--concurrency 16] [--no-controllers]
"""

from __future__ import annotations

import argparse
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


def start_server(data: Path, port: int, controllers: bool) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "osdn", "server", "--data-dir", str(data), "--listen",
                             f"127.0.0.1:{port}", "--log-level", "warning",
                             "--controllers" if controllers else "--no-controllers"],
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


POST_LUA = """
counter = 0
request = function()
  counter = counter + 1
  local body = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm-' .. os.getenv("OSDN_RUN") ..
    '-' .. counter .. '","labels":{"bench":"yes","shard":"' .. (counter % 10) ..
    '"}},"data":{"key":"value value value value value value value value value value"}}'
  return wrk.format("POST", nil, {["Content-Type"] = "application/json",
                                  ["Authorization"] = "Bearer " .. os.getenv("OSDN_TOKEN")}, body)
end
"""


def wrk(url: str, token: str, conns: int, seconds: int, script: str | None, tmp: Path,
        run: int = 0) -> dict[str, float]:
    """Drive the server with wrk (a C load generator: the Python clients were the bottleneck)."""
    cmd = ["wrk", "-t1", f"-c{conns}", f"-d{int(seconds)}s", "--latency", "-H", f"Authorization: Bearer {token}"]
    if script:
        path = tmp / "post.lua"
        path.write_text(script)
        cmd += ["-s", str(path)]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True,
                         env={"OSDN_TOKEN": token, "OSDN_RUN": str(run), "PATH": "/usr/bin:/bin"}).stdout
    result: dict[str, float] = {}
    for line in out.splitlines():
        parts = line.split()
        if line.startswith("Requests/sec:"):
            result["rps"] = float(parts[1])
        elif len(parts) == 2 and parts[0] in ("50%", "99%"):
            v = parts[1]
            result[parts[0]] = float(v[:-2]) if v.endswith("ms") else float(v[:-2]) / 1000 \
                if v.endswith("us") else float(v[:-1]) * 1000
        elif "Non-2xx" in line:
            result["errors"] = float(parts[-1])
    return result


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
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--no-controllers", action="store_true", help="API server alone (no master controllers).")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        data = Path(tmp) / "data"
        proc = start_server(data, port, not args.no_controllers)
        try:
            base = f"http://127.0.0.1:{port}"
            token = yaml.safe_load((data / "admin.conf").read_text())["token"]
            hdr = {"Authorization": f"Bearer {token}"}
            httpx.post(f"{base}/apis/project.openshift.io/v1/projects", headers=hdr,
                       json={"apiVersion": "v1", "kind": "Project", "metadata": {"name": "bench"}})
            conc = args.concurrency
            coll = f"{base}/api/v1/namespaces/bench/configmaps"
            tmpdir = Path(tmp)
            print(f"osdn API benchmark: wrk, {conc} connections, loopback, 1 server process"
                  f"{' without' if args.no_controllers else ' with'} master controllers")
            seconds = 3
            run = 0
            while len(httpx.get(coll, headers=hdr, timeout=60).json()["items"]) < args.objects:
                run += 1
                r = wrk(coll, token, conc, seconds, POST_LUA, tmpdir, run)
                print(f"create: {r['rps']:8.0f}/s   p50 {r['50%']:6.2f} ms   p99 {r['99%']:6.2f} ms"
                      f"{'   errors ' + str(int(r['errors'])) if r.get('errors') else ''}")
            first = httpx.get(coll, headers=hdr).json()["items"][0]["metadata"]["name"]
            r = wrk(f"{coll}/{first}", token, conc, seconds, None, tmpdir)
            print(f"get:    {r['rps']:8.0f}/s   p50 {r['50%']:6.2f} ms   p99 {r['99%']:6.2f} ms")
            t0 = time.perf_counter()
            items = httpx.get(coll, headers=hdr, timeout=60).json()["items"]
            full = time.perf_counter() - t0
            t0 = time.perf_counter()
            shard = httpx.get(coll, headers=hdr, params={"labelSelector": "shard=3"}).json()["items"]
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
