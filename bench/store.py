"""The store backends side by side, SQLite and etcd in the same run: at the store interface and
through the API server.

Starts a real etcd (Debian's etcd-server) on free loopback ports with a throw-away data dir. First
the store objects themselves (osdn.store, in this process): creates/s from 8 threads and get
p50/p99 from one. Then for each
backend a fresh `osdn server --no-controllers` (TLS, its own CA): creates/s and gets/s with their
p50/p99 driven by `wrk` (16 connections), and the watch delivery delay (create reply -> event) over
300 creates. The ceiling, etcd's own write rate: `etcdctl put` run once per key (what a shell loop
gets) and `etcdctl check perf --load l` (etcdctl's put workload, 500 gRPC clients aiming at 8,000
writes/s for 60 s: the rate it reaches is the ceiling). Last, leader failover: two servers on the
etcd with leader election, the Lease holder is killed (SIGKILL) and the time until the other holds
the Lease is taken, `--rounds` times.
Prints figures; never fails on timing. Usage:

    python bench/store.py [--seconds 5] [--rounds 3] [--skip-check-perf] [--failover-only]
                          [--lease 6 --renew 4 --retry 1]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from api import free_port, pct, watch_latency  # bench/api.py: the same measures for one store

LEASE = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/osdn-master"
COLL = "/api/v1/namespaces/bench/configmaps"
POST_LUA = """
counter = 0
request = function()
  counter = counter + 1
  local body = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm-' .. os.getenv("OSDN_RUN") ..
    '-' .. counter .. '"},"data":{"key":"value value value value value value value value value value"}}'
  return wrk.format("POST", nil, {["Content-Type"] = "application/json",
                                  ["Authorization"] = "Bearer " .. os.getenv("OSDN_TOKEN")}, body)
end
"""




class Etcd:
    """One etcd member on loopback, as tests/etcdproc.py runs it."""

    def __init__(self, tmp: Path) -> None:
        self.port, peer = free_port(), free_port()
        client, peer_url = f"http://127.0.0.1:{self.port}", f"http://127.0.0.1:{peer}"
        self.log = open(tmp / "etcd.log", "ab")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            ["etcd", "--name", "b", "--data-dir", str(tmp / "etcd"), "--listen-client-urls", client,
             "--advertise-client-urls", client, "--listen-peer-urls", peer_url,
             "--initial-advertise-peer-urls", peer_url, "--initial-cluster", f"b={peer_url}"],
            stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 30
        while not self._healthy():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"etcd did not start; see {tmp / 'etcd.log'}")
            time.sleep(0.05)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"http://{self.endpoint}/health", timeout=0.5).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()


class Server:
    """One `osdn server`: base URL, admin token, how to trust it."""

    def __init__(self, data: Path, *args: str) -> None:
        self.port = free_port()
        self.base, self.data = f"https://127.0.0.1:{self.port}", data
        self.argv = [sys.executable, "-m", "osdn", "server", "--data-dir", str(data), "--listen",
                     f"127.0.0.1:{self.port}", "--log-level", "warning", *args]
        self.start()

    def start(self) -> None:
        log = self.data.with_name(f"{self.data.name}-{self.port}.log")
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while not self._healthy():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace").splitlines()[-5:]
                raise SystemExit(f"server did not start: {' '.join(self.argv)}\n" + "\n".join(tail))
            time.sleep(0.05)

    def _healthy(self) -> bool:
        if not (self.data / "admin.conf").exists():
            return False
        try:
            return self.client().get("/healthz").status_code == 200
        except httpx.TransportError:
            return False

    @property
    def token(self) -> str:
        from osdn.client.config import load_config
        return load_config(str(self.data / "admin.conf")).token

    def client(self, timeout: float = 60) -> httpx.Client:
        ctx = ssl.create_default_context(cafile=str(self.data / "pki" / "ca.crt"))
        return httpx.Client(base_url=self.base, headers={"Authorization": f"Bearer {self.token}"}, verify=ctx,
                            timeout=timeout)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(15)


def wrk(url: str, token: str, seconds: int, script: str | None, tmp: Path, run: int = 0) -> dict[str, float]:
    cmd = ["wrk", "-t1", "-c16", f"-d{seconds}s", "--latency", "-H", f"Authorization: Bearer {token}"]
    if script:
        (tmp / "post.lua").write_text(script)
        cmd += ["-s", str(tmp / "post.lua")]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True,
                         env={"OSDN_TOKEN": token, "OSDN_RUN": str(run), "PATH": "/usr/bin:/bin"}).stdout
    result: dict[str, float] = {"errors": 0.0}
    for line in out.splitlines():
        parts = line.split()
        if line.startswith("Requests/sec:"):
            result["rps"] = float(parts[1])
        elif len(parts) == 2 and parts[0] in ("50%", "99%"):
            v = parts[1]
            result[parts[0]] = (float(v[:-2]) if v.endswith("ms") else float(v[:-2]) / 1000 if v.endswith("us")
                                else float(v[:-1]) * 1000)
        elif "Non-2xx" in line:
            result["errors"] = float(parts[-1])
    return result


def backend_run(name: str, srv: Server, seconds: int, tmp: Path) -> None:
    with srv.client() as c:
        c.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace",
                                           "metadata": {"name": "bench"}}).raise_for_status()
    url = srv.base + COLL
    creates = [wrk(url, srv.token, seconds, POST_LUA, tmp, run) for run in (1, 2)]
    with srv.client() as c:
        first = c.get(COLL, params={"limit": "1"}).json()["items"][0]["metadata"]["name"]
    get = wrk(f"{url}/{first}", srv.token, seconds, None, tmp)
    delays = watch_latency(srv, 300)
    for r in creates:
        print(f"{name:7} create: {r['rps']:7.0f}/s   p50 {r['50%']:6.2f} ms   p99 {r['99%']:6.2f} ms"
              f"{'   non-2xx ' + str(int(r['errors'])) if r['errors'] else ''}")
    print(f"{name:7} get:    {get['rps']:7.0f}/s   p50 {get['50%']:6.2f} ms   p99 {get['99%']:6.2f} ms")
    print(f"{name:7} watch:  {len(delays)} events, delivery after the create's reply p50 {pct(delays, .5):.2f} ms "
          f"p99 {pct(delays, .99):.2f} ms")


def store_run(name: str, store: Any, seconds: int) -> None:
    """The store interface itself: creates from 8 threads, gets from one. (No watch figure here: both
    backends return from a create only once their own watch has delivered it.)"""
    from osdn.store import Key
    done, stop = [0] * 8, threading.Event()

    def creator(i: int) -> None:
        while not stop.is_set():
            name = f"s{i}-{done[i]}"
            store.create(Key("configmaps", "bench", name), {"apiVersion": "v1", "kind": "ConfigMap",
                                                            "metadata": {"name": name, "namespace": "bench"}})
            done[i] += 1
    threads = [threading.Thread(target=creator, args=(i,), daemon=True) for i in range(8)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join(30)
    rate = sum(done) / (time.perf_counter() - t0)
    made = [f"s{t}-{n}" for t in range(8) for n in range(done[t])]
    gets = []
    for i in range(1000):
        g0 = time.perf_counter()
        store.get(Key("configmaps", "bench", made[i * 7919 % len(made)]))
        gets.append(time.perf_counter() - g0)
    print(f"{name:7} store: create {rate:7.0f}/s (8 threads)   get p50 {pct(gets, .5):.2f} ms p99 "
          f"{pct(gets, .99):.2f} ms")


def stores(etcd: Etcd, tmp: Path, seconds: int) -> None:
    from osdn.store.etcd import EtcdStore
    from osdn.store.etcd_gateway import parse_etcd_url
    from osdn.store.sqlite import SQLiteStore
    for label, store in (("sqlite", SQLiteStore(tmp / "store.db")),
                         ("etcd", EtcdStore(parse_etcd_url(f"etcd://{etcd.endpoint}/bench-store")))):
        try:
            store_run(label, store, seconds)
        finally:
            store.close()


def etcdctl_ceiling(etcd: Etcd, check_perf: bool) -> None:
    """etcd's own write rate: one `etcdctl put` process per key, and `etcdctl check perf --load l`."""
    if shutil.which("etcdctl") is None:
        print("etcdctl: absent (Debian package etcd-client; scripts/setup.sh installs it)")
        return
    env = {**os.environ, "ETCDCTL_API": "3"}
    t0 = time.perf_counter()
    for i in range(100):
        subprocess.run(["etcdctl", "--endpoints", etcd.endpoint, "put", f"/bench-etcdctl/k{i}", "v" * 100],
                       capture_output=True, check=True, env=env, timeout=30)
    print(f"etcdctl put, one process per key, 100 keys: {100 / (time.perf_counter() - t0):.0f}/s")
    if not check_perf:
        return
    done = subprocess.run(["etcdctl", "--endpoints", etcd.endpoint, "check", "perf", "--load", "l"],
                          capture_output=True, text=True, timeout=300, env=env)
    out = (done.stdout + done.stderr).replace("\r", "\n").splitlines()
    lines = [line.split("%")[-1].strip() for line in out if "writes/s" in line or "Slowest" in line or "Stddev" in line]
    print("etcdctl check perf --load l (500 clients aiming at 8,000 writes/s: the ceiling): "
          + ("; ".join(lines) or f"no figures (exit {done.returncode}): {' | '.join(out[-3:])}"))


def holder(srv: Server) -> str:
    try:
        with srv.client(timeout=2) as c:
            r = c.get(LEASE)
            return str(r.json()["spec"].get("holderIdentity") or "") if r.status_code == 200 else ""
    except httpx.TransportError:
        return ""


def failover(etcd: Etcd, tmp: Path, rounds: int, lease: tuple[int, float, float]) -> None:
    """Two servers with leader election on one etcd; kill the holder, time until the other holds it."""
    store = f"etcd://{etcd.endpoint}/bench-failover"
    data = tmp / "ha"
    flags = ("--store", store, "--leader-elect", "--leader-elect-lease-duration", str(lease[0]),
             "--leader-elect-renew-deadline", str(lease[1]), "--leader-elect-retry-period", str(lease[2]))
    servers = [Server(data, *flags)]
    servers.append(Server(data, *flags))
    try:
        deadline = time.monotonic() + 60
        while not holder(servers[0]) and time.monotonic() < deadline:
            time.sleep(0.1)
        idents = {s.port: f":{s.port}" for s in servers}
        took = []
        for _ in range(rounds):
            lead = holder(servers[0])
            victim = next(s for s in servers if lead.endswith(idents[s.port]))
            other = next(s for s in servers if s is not victim)
            t0 = time.perf_counter()
            victim.kill()
            while not holder(other).endswith(idents[other.port]):
                if time.perf_counter() - t0 > 60:
                    raise SystemExit("no takeover within 60 s")
                time.sleep(0.02)
            took.append(time.perf_counter() - t0)
            victim.start()
        print(f"leader failover (SIGKILL of the holder -> the other server holds the Lease), {rounds} rounds: "
              + ", ".join(f"{t:.2f} s" for t in took)
              + f"   (lease {lease[0]} s, renew deadline {lease[1]:g} s, retry {lease[2]:g} s)")
    finally:
        for s in servers:
            s.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=5, help="seconds per wrk run")
    ap.add_argument("--rounds", type=int, default=3, help="leader failover rounds")
    ap.add_argument("--skip-check-perf", action="store_true", help="skip the 60 s etcdctl check perf")
    ap.add_argument("--failover-only", action="store_true", help="only the leader failover rounds")
    ap.add_argument("--lease", type=int, default=6, help="--leader-elect-lease-duration (server default 6)")
    ap.add_argument("--renew", type=float, default=4.0, help="--leader-elect-renew-deadline (default 4)")
    ap.add_argument("--retry", type=float, default=1.0, help="--leader-elect-retry-period (default 1)")
    args = ap.parse_args()
    lease = (args.lease, args.renew, args.retry)
    with tempfile.TemporaryDirectory(prefix="osdn-bench-store-") as name:
        tmp = Path(name)
        etcd = Etcd(tmp)
        try:
            print(f"osdn store benchmark: {args.seconds} s runs; load average {os.getloadavg()[0]:.1f} on "
                  f"{os.cpu_count()} cores")
            if not args.failover_only:
                stores(etcd, tmp, args.seconds)
                print("through the API server (TLS, no controllers), wrk 16 connections:")
                for label, extra in (("sqlite", ()), ("etcd", ("--store", f"etcd://{etcd.endpoint}/bench-api"))):
                    srv = Server(tmp / label, "--no-controllers", *extra)
                    try:
                        backend_run(label, srv, args.seconds, tmp)
                    finally:
                        srv.stop()
            failover(etcd, tmp, args.rounds, lease)
            if not args.failover_only:
                etcdctl_ceiling(etcd, not args.skip_check_perf)  # last: check perf leaves etcd full of keys
        finally:
            etcd.stop()


if __name__ == "__main__":
    main()
