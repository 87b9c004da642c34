"""Egress routers in a 2-node lab, the seeds' manifests (values adapted to the lab), real traffic.

The lab's outside world (203.0.113.0/24 behind the lab router 198.18.0.1) answers with the source
address it sees: the web server on :80 ("you are IP:PORT") and, started here in the web namespace,
a TCP "who" server on :9001/:9002 ("LOCAL_IP:PORT saw SOURCE_IP"), so a test knows which
destination a redirect reached. Routers take EGRESS_SOURCE addresses 198.18.0.150-159 on the
underlay; clients are ordinary pods reaching the router through its Service (ClusterIP) and its pod IP.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml
from labkit import Lab, make_lab, needs_agent

from osdn.kernel import netns
from osdn.lab.pods import ensure_project, pod_netns, wait_pod_ip

pytestmark = [pytest.mark.e2e, needs_agent]
P = "egr"
GW = "198.18.0.1"
WHO = """
import socket, sys, threading
def serve(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(64)
    while True:
        c, a = s.accept()
        c.sendall(("%s:%d saw %s\\n" % (c.getsockname()[0], port, a[0])).encode()); c.close()
for p in (9001, 9002): threading.Thread(target=serve, args=(p,), daemon=True).start()
threading.Event().wait()
"""


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    yield from make_lab("er", "subnet", 2)


@pytest.fixture(scope="module")
def env(lab: Lab) -> Iterator[dict[str, str]]:
    ensure_project(lab.client, P)
    who = netns.spawn_in_netns(f"{lab.info.prefix}web", [sys.executable, "-c", WHO], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        client_ip, client_ns = lab.pod("client", P)
        yield {"client_ns": client_ns, "client_ip": client_ip}
    finally:
        who.kill()
        who.wait()


def create(lab: Lab, manifest: str) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as fh:
        fh.write(manifest)
        fh.flush()
        lab.cli("create", "-n", P, "-f", fh.name)


def router_ip(lab: Lab, name: str, timeout: float = 90) -> str:
    return wait_pod_ip(lab.client, P, name, timeout=timeout)


def service_ip(lab: Lab, name: str, ports: list[int], selector: str) -> str:
    body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"ports": [{"name": f"p{p}", "port": p} for p in ports], "type": "ClusterIP",
                     "selector": {"name": selector}}}
    return str(lab.client.create(body, P)["spec"]["clusterIP"])


def tcp_line(ns: str, ip: str, port: int) -> str:
    def get() -> str:
        try:
            with socket.create_connection((ip, port), timeout=2) as s:
                s.settimeout(2)
                return s.recv(200).decode().strip()
        except OSError as exc:
            return f"error: {exc}"
    return netns.run_in_netns(ns, get)


def http(ns: str, url: str, proxy: str | None = None) -> str:
    def get() -> str:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": proxy} if proxy else {}))
        try:
            with opener.open(url, timeout=4) as r:
                return r.read().decode().strip()
        except urllib.error.HTTPError as exc:
            return f"{exc.code} {exc.read().decode().strip()}"
        except OSError as exc:
            return f"error: {exc}"
    return netns.run_in_netns(ns, get)


def eventually(fn: Callable[[], str], ok: Callable[[str], bool], within: float = 15) -> str:
    deadline = time.monotonic() + within
    while True:
        got = fn()
        if ok(got) or time.monotonic() > deadline:
            return got
        time.sleep(0.3)


def test_redirect_single_destination_seed(lab: Lab, env: dict[str, str]) -> None:
    create(lab, """
apiVersion: v1
kind: Pod
metadata:
  name: egress-1
  labels:
    name: egress-1
  annotations:
    pod.network.openshift.io/assign-macvlan: "true"
spec:
  initContainers:
  - name: egress-router
    image: openshift/origin-egress-router
    securityContext:
      privileged: true
    env:
    - name: EGRESS_SOURCE
      value: 198.18.0.150/24
    - name: EGRESS_GATEWAY
      value: 198.18.0.1
    - name: EGRESS_DESTINATION
      value: 203.0.113.80
    - name: EGRESS_ROUTER_MODE
      value: init
  containers:
  - name: egress-router-wait
    image: openshift/origin-pod
""")
    ip = router_ip(lab, "egress-1")
    vip = service_ip(lab, "egress-1", [80, 9001], "egress-1")
    assert http(env["client_ns"], f"http://{ip}/").startswith("you are 198.18.0.150:")
    assert tcp_line(env["client_ns"], ip, 9001) == "203.0.113.80:9001 saw 198.18.0.150"
    assert eventually(lambda: http(env["client_ns"], f"http://{vip}/"),
                      lambda s: s.startswith("you are 198.18.0.150:")).startswith("you are 198.18.0.150:")
    assert tcp_line(env["client_ns"], vip, 9001) == "203.0.113.80:9001 saw 198.18.0.150"


def test_redirect_multi_destination_port_mapping_and_fallback(lab: Lab, env: dict[str, str]) -> None:
    create(lab, """
apiVersion: v1
kind: Pod
metadata:
  name: egress-multi
  labels:
    name: egress-multi
  annotations:
    pod.network.openshift.io/assign-macvlan: "true"
spec:
  initContainers:
  - name: egress-router
    image: openshift/origin-egress-router
    securityContext:
      privileged: true
    env:
    - name: EGRESS_SOURCE
      value: 198.18.0.151/24
    - name: EGRESS_GATEWAY
      value: 198.18.0.1
    - name: EGRESS_DESTINATION
      value: |
        9001 tcp 203.0.113.80
        9100 tcp 203.0.113.81 9002
        203.0.113.81
    - name: EGRESS_ROUTER_MODE
      value: init
  containers:
  - name: egress-router-wait
    image: openshift/origin-pod
""")
    ip = router_ip(lab, "egress-multi")
    assert tcp_line(env["client_ns"], ip, 9001) == "203.0.113.80:9001 saw 198.18.0.151"
    assert tcp_line(env["client_ns"], ip, 9100) == "203.0.113.81:9002 saw 198.18.0.151"
    assert tcp_line(env["client_ns"], ip, 9002) == "203.0.113.81:9002 saw 198.18.0.151"  # fallback, same port
    assert http(env["client_ns"], f"http://{ip}/").startswith("you are 198.18.0.151:")  # fallback :80


def test_redirect_destinations_from_a_configmap(lab: Lab, env: dict[str, str]) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as fh:
        fh.write('# Egress routes for Project "Test", version 3\n\n9001 tcp 203.0.113.81\n\n'
                 "9100 tcp 203.0.113.80 9002\n\n# Fallback\n203.0.113.80\n")
        fh.flush()
        lab.cli("create", "configmap", "egress-routes", "-n", P, f"--from-file=destination={fh.name}")
    pod: dict[str, Any] = yaml.safe_load("""
apiVersion: v1
kind: Pod
metadata:
  name: egress-cm
  labels:
    name: egress-cm
  annotations:
    pod.network.openshift.io/assign-macvlan: "true"
spec:
  initContainers:
  - name: egress-router
    image: openshift/origin-egress-router
    securityContext:
      privileged: true
    env:
    - name: EGRESS_SOURCE
      value: 198.18.0.152/24
    - name: EGRESS_GATEWAY
      value: 198.18.0.1
    - name: EGRESS_DESTINATION
      valueFrom:
        configMapKeyRef:
          name: egress-routes
          key: destination
    - name: EGRESS_ROUTER_MODE
      value: init
  containers:
  - name: egress-router-wait
    image: openshift/origin-pod
""")
    lab.client.create(pod, P)
    ip = router_ip(lab, "egress-cm")
    assert tcp_line(env["client_ns"], ip, 9001) == "203.0.113.81:9001 saw 198.18.0.152"
    assert tcp_line(env["client_ns"], ip, 9100) == "203.0.113.80:9002 saw 198.18.0.152"
    assert http(env["client_ns"], f"http://{ip}/").startswith("you are 198.18.0.152:")


def test_bad_destination_keeps_the_pod_from_starting(lab: Lab, env: dict[str, str]) -> None:
    lab.client.create({"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "egress-bad", "annotations": {"pod.network.openshift.io/assign-macvlan": "true"}},
        "spec": {"initContainers": [{"name": "egress-router", "image": "openshift/origin-egress-router",
                                     "securityContext": {"privileged": True},
                                     "env": [{"name": "EGRESS_SOURCE", "value": "198.18.0.159"},
                                             {"name": "EGRESS_GATEWAY", "value": GW},
                                             {"name": "EGRESS_DESTINATION", "value": "80 sctp 203.0.113.80"},
                                             {"name": "EGRESS_ROUTER_MODE", "value": "init"}]}],
                 "containers": [{"name": "wait", "image": "openshift/origin-pod"}]}}, P)
    deadline = time.monotonic() + 30
    while True:
        events = lab.cli("describe", "pod", "egress-bad", "-n", P).stdout
        if "EGRESS_DESTINATION value '80 sctp 203.0.113.80' is invalid" in events:
            break
        assert time.monotonic() < deadline, events
        time.sleep(0.5)
    lab.client.delete("Pod", "egress-bad", P)


def test_rc_failover_new_pod_takes_over_the_address(lab: Lab, env: dict[str, str]) -> None:
    create(lab, """
apiVersion: v1
kind: ReplicationController
metadata:
  name: egress-demo-controller
spec:
  replicas: 1
  selector:
    name: egress-demo
  template:
    metadata:
      name: egress-demo
      labels:
        name: egress-demo
      annotations:
        pod.network.openshift.io/assign-macvlan: "true"
    spec:
      containers:
      - name: egress-demo-container
        image: openshift/origin-egress-router
        env:
        - name: EGRESS_SOURCE
          value: 198.18.0.153
        - name: EGRESS_GATEWAY
          value: 198.18.0.1
        - name: EGRESS_DESTINATION
          value: 203.0.113.80
        securityContext:
          privileged: true
""")
    vip = service_ip(lab, "egress-demo", [9001], "egress-demo")

    def current() -> dict[str, Any]:
        deadline = time.monotonic() + 60
        while True:
            pods = [p for p in lab.client.list("Pod", P)["items"] if p["metadata"]["name"].startswith(
                "egress-demo-controller-") and not p["metadata"].get("deletionTimestamp")]
            if len(pods) == 1 and (pods[0].get("status") or {}).get("podIP") and \
                    (pods[0]["metadata"].get("annotations") or {}).get("lab.osdn.io/netns"):
                return pods[0]
            assert time.monotonic() < deadline, pods
            time.sleep(0.3)

    first = current()
    want = "203.0.113.80:9001 saw 198.18.0.153"
    assert eventually(lambda: tcp_line(env["client_ns"], vip, 9001), lambda s: s == want) == want
    lab.delete_pod(first["metadata"]["name"], P)
    second = current()
    assert second["metadata"]["name"] != first["metadata"]["name"]
    assert eventually(lambda: tcp_line(env["client_ns"], second["status"]["podIP"], 9001),
                      lambda s: s == want) == want
    assert eventually(lambda: tcp_line(env["client_ns"], vip, 9001), lambda s: s == want) == want


def test_http_proxy_seed(lab: Lab, env: dict[str, str]) -> None:
    create(lab, """
apiVersion: v1
kind: Pod
metadata:
  name: egress-http-proxy
  labels:
    name: egress-http-proxy
  annotations:
    pod.network.openshift.io/assign-macvlan: "true"
spec:
  initContainers:
  - name: egress-router-setup
    image: openshift/origin-egress-router
    securityContext:
      privileged: true
    env:
    - name: EGRESS_SOURCE
      value: 198.18.0.154/24
    - name: EGRESS_GATEWAY
      value: 198.18.0.1
    - name: EGRESS_ROUTER_MODE
      value: http-proxy
  containers:
  - name: egress-router-proxy
    image: openshift/origin-egress-http-proxy
    env:
    - name: EGRESS_HTTP_PROXY_DESTINATION
      value: |
        !web2.ext.test
        !203.0.113.81/32
        *.ext.test
        203.0.113.80
""")
    router_ip(lab, "egress-http-proxy")
    vip = service_ip(lab, "egress-http-proxy", [8080], "egress-http-proxy")
    proxy = f"http://{vip}:8080/"
    ns = env["client_ns"]
    got = eventually(lambda: http(ns, "http://web.ext.test/", proxy), lambda s: s.startswith("you are"))
    assert got.startswith("you are 198.18.0.154:")  # allowed by *.ext.test
    assert http(ns, "http://web2.ext.test/", proxy).startswith("403 egress router: access to web2.ext.test:80 "
                                                                "is denied by EGRESS_HTTP_PROXY_DESTINATION "
                                                                "(line '!web2.ext.test')")
    assert http(ns, "http://203.0.113.81/", proxy).startswith("403 ")  # denied by CIDR
    assert "no line allows it" in http(ns, "http://203.0.113.53/", proxy)  # nothing allows it: deny all
    assert http(ns, "http://203.0.113.80/", proxy).startswith("you are 198.18.0.154:")

    def tunnel() -> str:
        with socket.create_connection((vip, 8080), timeout=3) as s:
            s.settimeout(3)
            s.sendall(b"CONNECT 203.0.113.80:9001 HTTP/1.1\r\nHost: 203.0.113.80:9001\r\n\r\n")
            data = b""
            while b"saw" not in data or not data.endswith(b"\n"):
                chunk = s.recv(200)
                if not chunk:
                    break
                data += chunk
            return data.decode()
    assert netns.run_in_netns(ns, tunnel) == ("HTTP/1.1 200 Connection established\r\n\r\n"
                                              "203.0.113.80:9001 saw 198.18.0.154\n")


def test_dns_proxy_seed(lab: Lab, env: dict[str, str]) -> None:
    create(lab, """
apiVersion: v1
kind: Pod
metadata:
  name: egress-dns-proxy
  labels:
    name: egress-dns-proxy
  annotations:
    pod.network.openshift.io/assign-macvlan: "true"
spec:
  initContainers:
  - name: egress-router-setup
    image: openshift/origin-egress-router
    securityContext:
      privileged: true
    env:
    - name: EGRESS_SOURCE
      value: 198.18.0.155/24
    - name: EGRESS_GATEWAY
      value: 198.18.0.1
    - name: EGRESS_ROUTER_MODE
      value: dns-proxy
  containers:
  - name: egress-dns-proxy
    image: openshift/origin-egress-dns-proxy
    env:
    - name: EGRESS_DNS_PROXY_DEBUG
      value: "1"
    - name: EGRESS_DNS_PROXY_DESTINATION
      value: |
        # Egress routes for Project "Foo", version 5

        9001 203.0.113.80

        80 web.ext.test

        9100 203.0.113.81 9002

        9200 web2.ext.test 9001
""")
    ip = router_ip(lab, "egress-dns-proxy")
    vip = service_ip(lab, "egress-dns-proxy", [80, 9001, 9100, 9200], "egress-dns-proxy")
    ns = env["client_ns"]
    for target in (ip, vip):
        assert eventually(lambda t=target: tcp_line(ns, t, 9001), lambda s: "saw" in s) == \
            "203.0.113.80:9001 saw 198.18.0.155"
        assert eventually(lambda t=target: tcp_line(ns, t, 9100), lambda s: "saw" in s) == \
            "203.0.113.81:9002 saw 198.18.0.155"
        assert eventually(lambda t=target: tcp_line(ns, t, 9200), lambda s: "saw" in s) == \
            "203.0.113.81:9001 saw 198.18.0.155"  # name resolved at run time
        assert http(ns, f"http://{target}/").startswith("you are 198.18.0.155:")
    logs = lab.cli("logs", "-n", P, "egress-dns-proxy").stdout
    assert "fe4 :9200 -> be4/203.0.113.81:9001" in logs
    assert pod_netns(lab.client.get("Pod", "egress-dns-proxy", P))
