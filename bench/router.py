"""Router benchmark, in a real lab: requests/s and p99 through the router vs straight to the pod,
time from a route's creation to its first 200 at 1, 1,000 and 10,000 routes, and the reload cost.

Lab: `osdn lab up --nodes 1` (networkpolicy mode) with its router pod (HAProxy in project default,
hostPorts 80/443 on node1 = 198.18.0.11). The backend pod runs a small HAProxy answering 200 "ok"
itself (a Python server would be the bottleneck on both paths). The client is wrk in node1's
namespace: straight to the pod's IP, and to 198.18.0.11 (the hostPort DNAT, then the router) with
the route's Host header; keep-alive and `Connection: close` (a new TCP connection, and for edge a
new TLS handshake, per request); plain HTTP and edge TLS (the router's default certificate).
Routes: N - 1 routes (to the same service) are created, then one more; the figure is the time from
its create call returning to the first 200 through the router (polling every 20 ms), with the
router's batching interval (200 ms in the lab) included. The reload cost is the router's own log
line for that reload: render, `haproxy -c`, install + SIGUSR2.

Needs root, wrk, haproxy, curl. Makes one lab `rbench` in a temporary dir and removes it on exit,
Ctrl-C or failure. Prints figures; never fails on timing.

    python bench/router.py [--quick] [--sizes 1,1000,10000] [--seconds 8]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from osdn.client import Client, load_config
from osdn.kernel import netns
from osdn.lab import cluster

BACKEND_CFG = """global
  maxconn 4000
defaults
  mode http
  timeout client 30s
  timeout server 30s
  timeout connect 5s
frontend ok
  bind :8080
  http-request return status 200 content-type text/plain string "ok"
"""
ROUTER_IP = "198.18.0.11"


def osdn(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "osdn", *args], capture_output=True, text=True, timeout=600)
    if done.returncode:
        raise SystemExit(f"osdn {' '.join(args)} failed: {done.stderr}")
    return done.stdout


def wait(fn: Any, timeout: float, what: str, step: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(step)
    raise SystemExit(f"timed out waiting for {what}")


def wrk(node_ns: str, url: str, host: str | None, close: bool, seconds: float) -> tuple[float, str]:
    argv = ["wrk", "-t", "2", "-c", "32", "-d", f"{seconds:g}s", "--latency"]
    if host:
        argv += ["-H", f"Host: {host}"]
    if close:
        argv += ["-H", "Connection: close"]
    out = netns.run_cmd(node_ns, [*argv, url], timeout=seconds + 60).stdout
    rps, p99 = re.search(r"Requests/sec:\s+([\d.]+)", out), re.search(r"\s99%\s+(\S+)", out)
    if rps is None or p99 is None:
        raise SystemExit(f"wrk {url}: no figures in its output:\n{out}")
    return float(rps.group(1)), p99.group(1)


def status_code(node_ns: str, host: str) -> str:
    done = netns.run_cmd(node_ns, ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "2",
                                   "-H", f"Host: {host}", f"http://{ROUTER_IP}/"], check=False)
    return done.stdout.strip()


def route(name: str, host: str, tls: dict[str, str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"host": host, "to": {"kind": "Service", "name": "ok"}}
    if tls:
        spec["tls"] = tls
    return {"apiVersion": "route.openshift.io/v1", "kind": "Route", "metadata": {"name": name}, "spec": spec}


def create_many(conf: str, start: int, stop: int) -> None:
    def one(i: int) -> None:
        with Client(load_config(conf)) as c:
            c.create(route(f"bulk{i}", f"bulk{i}.example.com"), "bench")
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(one, range(start, stop)))


def traffic(lab_dir: str, node_ns: str, pod_ip: str, seconds: float) -> None:
    print("\nrequests through the router vs straight to the pod (wrk -t2 -c32 from node1's namespace)")
    print(f"{'path':<34}{'keep-alive req/s':>18}{'p99':>10}{'new conn req/s':>18}{'p99':>10}")
    cases = [("pod, HTTP (direct)", f"http://{pod_ip}:8080/", None),
             ("router, HTTP route", f"http://{ROUTER_IP}/", "bench-http.example.com"),
             ("router, edge TLS route", f"https://{ROUTER_IP}/", "bench-edge.example.com")]
    for label, url, host in cases:
        ka = wrk(node_ns, url, host, False, seconds)
        nc = wrk(node_ns, url, host, True, seconds)
        print(f"{label:<34}{ka[0]:>18,.0f}{ka[1]:>10}{nc[0]:>18,.0f}{nc[1]:>10}", flush=True)


def last_reload(lab_dir: str) -> str:
    text = (Path(lab_dir) / "pods" / "default_router.log").read_text()
    lines = [line for line in text.splitlines() if "configuration reloaded" in line]
    return lines[-1].split("router: ", 1)[-1] if lines else "?"


def scale(conf: str, lab_dir: str, node_ns: str, sizes: list[int]) -> None:
    print("\ntime from a route's create to its first 200 through the router")
    have = 2  # the two traffic routes
    for n in sizes:
        t0 = time.monotonic()
        if n - 1 > have:
            create_many(conf, have, n - 1)
            have = n - 1
        made = time.monotonic() - t0
        with Client(load_config(conf)) as c:
            wait(lambda h=have: served_count(lab_dir) >= h, 900, f"the router to serve {have} routes", 0.5)
            host = f"probe{n}.example.com"
            c.create(route(f"probe{n}", host), "bench")
            start = time.monotonic()
        wait(lambda h=host: status_code(node_ns, h) == "200", 300, f"{host} to answer 200", 0.02)
        took = time.monotonic() - start
        have += 1
        print(f"  {n:>6} routes: first 200 after {took * 1000:,.0f} ms  (bulk create {made:,.1f}s); "
              f"reload: {last_reload(lab_dir)}", flush=True)


def last_sync(lab_dir: str) -> str:
    text = (Path(lab_dir) / "pods" / "default_router.log").read_text()
    lines = [line for line in text.splitlines() if "routes served" in line]
    return lines[-1] if lines else ""


def served_count(lab_dir: str) -> int:
    m = re.search(r"router: (\d+) routes served", last_sync(lab_dir))
    return int(m.group(1)) if m else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="sizes 1,100,1000 and 4 s runs")
    ap.add_argument("--sizes", default="1,1000,10000")
    ap.add_argument("--seconds", type=float, default=8.0)
    args = ap.parse_args()
    sizes = [1, 100, 1000] if args.quick else [int(s) for s in args.sizes.split(",")]
    seconds = 4.0 if args.quick else args.seconds
    for tool in ("wrk", "haproxy", "curl"):
        if shutil.which(tool) is None:
            raise SystemExit(f"needs {tool}")
    lab_dir = tempfile.mkdtemp(prefix="osdn-bench-router-")
    try:
        osdn("lab", "up", "--name", "rbench", "--nodes", "1", "--dir", lab_dir)
        info = cluster.load_lab(lab_dir)
        assert info is not None
        node_ns = info.nodes[0].netns
        cfg = Path(lab_dir) / "backend.cfg"
        cfg.write_text(BACKEND_CFG)
        conf = info.admin_conf
        osdn("--config", conf, "new-project", "bench")
        with Client(load_config(conf)) as c:
            c.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ok", "labels": {"app": "ok"}},
                      "spec": {"containers": [{"name": "ok", "image": "haproxy",
                                               "command": ["haproxy", "-db", "-f", str(cfg)],
                                               "ports": [{"containerPort": 8080}]}]}}, "bench")
            c.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ok"},
                      "spec": {"selector": {"app": "ok"}, "ports": [{"port": 80, "targetPort": 8080}]}}, "bench")
            c.create(route("bench-http", "bench-http.example.com"), "bench")
            c.create(route("bench-edge", "bench-edge.example.com", {"termination": "edge"}), "bench")
            pod_ip = wait(lambda: (c.get("Pod", "ok", "bench").get("status") or {}).get("podIP"), 90, "the pod")
        wait(lambda: status_code(node_ns, "bench-http.example.com") == "200", 90, "the router")
        print(f"lab rbench: router pod default/router, backend pod bench/ok at {pod_ip}")
        traffic(lab_dir, node_ns, pod_ip, seconds)
        scale(conf, lab_dir, node_ns, sizes)
    finally:
        subprocess.run([sys.executable, "-m", "osdn", "lab", "down", "--name", "rbench", "--dir", lab_dir],
                       capture_output=True, timeout=300)
        shutil.rmtree(lab_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
