"""`osdn expose`, `osdn get svc,endpoints -o wide` and `osdn describe svc` against a real server with
its endpoints controller: what oc prints for services."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from tests.conftest import ServerProc, start_server


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    s = start_server(tmp_path_factory.mktemp("svccli"))
    try:
        s.cli("new-project", "shop", check=True)
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "labels": {"app": "web"}},
               "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 8080}]}]}}
        s.cli("create", "-n", "shop", "-f", "-", input=json.dumps(pod), check=True)
        with s.http() as api:
            api.patch("/api/v1/namespaces/shop/pods/web/status", headers={"Content-Type": "application/merge-patch+json"},
                      json={"status": {"phase": "Running", "podIP": "10.128.0.7",
                                       "conditions": [{"type": "Ready", "status": "True"}]}}).raise_for_status()
        yield s
    finally:
        s.stop()


def wait_endpoints(srv: ServerProc, name: str) -> None:
    deadline = time.monotonic() + 10
    while "10.128.0.7" not in srv.cli("get", "endpoints", name, "-n", "shop").stdout:
        assert time.monotonic() < deadline, "endpoints never appeared"
        time.sleep(0.1)


def test_expose_a_pod_with_affinity_and_see_it_everywhere(srv: ServerProc) -> None:
    out = srv.cli("expose", "pod", "web", "-n", "shop", "--port", "80", "--target-port", "8080",
                  "--session-affinity", "ClientIP", check=True).stdout
    assert out.strip() == "service/web exposed"
    wait_endpoints(srv, "web")
    got = srv.cli("get", "svc,endpoints", "-n", "shop", "-o", "wide", check=True).stdout.splitlines()
    svc_row = next(line for line in got if line.startswith("service/web"))
    assert svc_row.split()[1:3] == ["ClusterIP", svc_row.split()[2]] and svc_row.split()[2].startswith("172.30.")
    assert "80/TCP" in svc_row and "app=web" in svc_row
    assert any(line.startswith("endpoints/web") and "10.128.0.7:8080" in line for line in got)
    text = srv.cli("describe", "svc", "web", "-n", "shop", check=True).stdout
    for want in ("Name:              web", "Selector:          app=web", "Type:              ClusterIP",
                 "TargetPort:        8080/TCP", "Endpoints:         10.128.0.7:8080",
                 "Session Affinity:  ClientIP", "Events:"):
        assert want in text, text


def test_expose_with_an_explicit_cluster_ip_and_a_taken_one(srv: ServerProc) -> None:
    srv.cli("expose", "pod", "web", "-n", "shop", "--port", "81", "--name", "fixed", "--cluster-ip", "172.30.9.9",
            check=True)
    assert "172.30.9.9" in srv.cli("get", "svc", "fixed", "-n", "shop").stdout
    again = srv.cli("expose", "pod", "web", "-n", "shop", "--port", "82", "--name", "dup", "--cluster-ip", "172.30.9.9")
    assert again.returncode != 0 and "provided IP is already allocated" in again.stderr
    bad = srv.cli("expose", "pod", "web", "-n", "shop", "--name", "x", "--selector", "app!=web")
    assert bad.returncode != 0 and "--selector" in bad.stderr


def test_get_endpointslices_as_oc_and_describe_reads_them(srv: ServerProc) -> None:
    srv.cli("expose", "pod", "web", "-n", "shop", "--port", "83", "--target-port", "8080", "--name", "sl", check=True)
    deadline = time.monotonic() + 30
    while "10.128.0.7" not in (out := srv.cli("get", "endpointslices", "-n", "shop",
                                              "-l", "kubernetes.io/service-name=sl").stdout):
        assert time.monotonic() < deadline, f"no EndpointSlice for service sl: {out}"
        time.sleep(0.1)
    header, row = out.splitlines()[:2]
    assert header.split() == ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]
    assert row.split()[0].startswith("sl-") and row.split()[1:4] == ["IPv4", "8080", "10.128.0.7"]
    text = srv.cli("describe", "svc", "sl", "-n", "shop", check=True).stdout
    assert "Endpoints:         10.128.0.7:8080" in text, text
