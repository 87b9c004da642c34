"""API server throughput and latency at 10k objects: create, get, list, watch delivery; TLS cost.

Starts a real `osdn server` (TLS, its own CA) on a free loopback port with a throw-away data dir,
drives creates and gets with `wrk` (Debian package; the Python HTTP clients saturate before the
server does), lists the 10k+ objects and measures watch delivery with httpx. Then the TLS cost: two
fresh servers without controllers, one TLS and one `--insecure-http`, the same wrk create and get runs
on each, side by side. Prints figures; never fails on timing. Usage:

    python bench/api.py [--objects 10000] [--concurrency 16] [--no-controllers] [--tls-cost-only]
"""

from __future__ import annotations

import argparse
import json
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] * 1000


class Server:
    """One `osdn server` process: its base URL, admin token and how to trust it."""

    def __init__(self, data: Path, controllers: bool, tls: bool = True) -> None:
        port = free_port()
        self.base = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
        self.data = data
        self.proc = subprocess.Popen([sys.executable, "-m", "osdn", "server", "--data-dir", str(data), "--listen",
                                      f"127.0.0.1:{port}", "--log-level", "warning",
                                      "--controllers" if controllers else "--no-controllers",
                                      *([] if tls else ["--insecure-http"])],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            if (data / "admin.conf").exists():
                try:
                    if self.client().get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
            time.sleep(0.05)
        else:
            raise SystemExit("server did not start")
        from osdn.client.config import load_config
        self.token = load_config(str(data / "admin.conf")).token

    @property
    def verify(self) -> ssl.SSLContext | bool:
        ca = self.data / "pki" / "ca.crt"
        return ssl.create_default_context(cafile=str(ca)) if self.base.startswith("https") else True

    def client(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token}"} if getattr(self, "token", "") else {}
        return httpx.Client(base_url=self.base, headers=headers, verify=self.verify, timeout=60)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


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


def watch_latency(srv: Server, n: int) -> list[float]:
    """Create n objects one by one while a watcher runs; delay from the create's reply to the event."""
    acked: dict[str, float] = {}
    seen: dict[str, float] = {}
    ready = threading.Event()
    coll = "/api/v1/namespaces/bench/configmaps"
    with srv.client() as c:
        rv = c.get(coll, params={"labelSelector": "none=1"}).json()["metadata"]["resourceVersion"]

    def watcher() -> None:
        with srv.client() as c, c.stream("GET", coll, timeout=None, params={
                "watch": "true", "resourceVersion": rv, "labelSelector": "watch=yes"}) as r:
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
    with srv.client() as c:
        for i in range(n):
            name = f"w-{i}"
            body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                               "metadata": {"name": name, "labels": {"watch": "yes"}}})
            c.post(coll, content=body, headers={"Content-Type": "application/json"})
            acked[name] = time.perf_counter()
            time.sleep(0.002)
    t.join(30)
    return [max(0.0, seen[k] - acked[k]) for k in acked if k in seen]


def make_project(srv: Server) -> str:
    with srv.client() as c:
        c.post("/apis/project.openshift.io/v1/projects",
               json={"apiVersion": "v1", "kind": "Project", "metadata": {"name": "bench"}})
    return f"{srv.base}/api/v1/namespaces/bench/configmaps"


def full_run(tmp: Path, objects: int, conc: int, controllers: bool) -> None:
    srv = Server(tmp / "data", controllers)
    try:
        coll = make_project(srv)
        print(f"osdn API benchmark: wrk, {conc} connections, loopback TLS, 1 server process"
              f"{' with' if controllers else ' without'} master controllers")
        seconds, run = 3, 0
        with srv.client() as c:
            while len(c.get(coll).json()["items"]) < objects:
                run += 1
                r = wrk(coll, srv.token, conc, seconds, POST_LUA, tmp, run)
                print(f"create: {r['rps']:8.0f}/s   p50 {r['50%']:6.2f} ms   p99 {r['99%']:6.2f} ms"
                      f"{'   errors ' + str(int(r['errors'])) if r.get('errors') else ''}")
            first = c.get(coll).json()["items"][0]["metadata"]["name"]
            r = wrk(f"{coll}/{first}", srv.token, conc, seconds, None, tmp)
            print(f"get:    {r['rps']:8.0f}/s   p50 {r['50%']:6.2f} ms   p99 {r['99%']:6.2f} ms")
            t0 = time.perf_counter()
            items = c.get(coll).json()["items"]
            full = time.perf_counter() - t0
            t0 = time.perf_counter()
            shard = c.get(coll, params={"labelSelector": "shard=3"}).json()["items"]
            sel = time.perf_counter() - t0
        print(f"list:   all {len(items)} in {full * 1000:.0f} ms; labelSelector shard=3 ({len(shard)}) "
              f"in {sel * 1000:.0f} ms")
        lat = watch_latency(srv, 500)
        print(f"watch:  delivery after the create's reply, {len(lat)} events: p50 {pct(lat, .5):.2f} ms "
              f"p99 {pct(lat, .99):.2f} ms")
    finally:
        srv.stop()


def tls_cost(tmp: Path, conc: int, seconds: int = 5, rounds: int = 2) -> None:
    """The same wrk create and get runs against a TLS and a plain-HTTP server (no controllers),
    alternating, `rounds` times each (the machine's load drifts; alternating shows it)."""
    print(f"TLS cost: wrk, {conc} connections (kept alive), {seconds} s per run, fresh servers without controllers")
    print("            creates/s   create p99     gets/s    get p99")
    for n, tls in enumerate([False, True] * rounds):
        srv = Server(tmp / f"cost-{n}", controllers=False, tls=tls)
        try:
            coll = make_project(srv)
            create = wrk(coll, srv.token, conc, seconds, POST_LUA, tmp, run=1)
            with srv.client() as c:
                first = c.get(coll, params={"limit": "1"}).json()["items"][0]["metadata"]["name"]
            get = wrk(f"{coll}/{first}", srv.token, conc, seconds, None, tmp)
            print(f"{'TLS' if tls else 'plain HTTP':10}  {create['rps']:9.0f}  {create['99%']:8.2f} ms  "
                  f"{get['rps']:9.0f}  {get['99%']:7.2f} ms")
        finally:
            srv.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--objects", type=int, default=10_000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--no-controllers", action="store_true", help="API server alone (no master controllers).")
    ap.add_argument("--tls-cost-only", action="store_true", help="Only the TLS vs plain HTTP comparison.")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if not args.tls_cost_only:
            full_run(Path(tmp), args.objects, args.concurrency, not args.no_controllers)
        tls_cost(Path(tmp), args.concurrency)


if __name__ == "__main__":
    main()
