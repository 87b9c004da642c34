"""Cluster DNS in a 2-node lab, asked with `dig` from inside pods (`osdn exec`, the pod's own
resolv.conf): services, headless services, pods, NXDOMAIN, the search path, an outside name through
the lab's outside DNS (203.0.113.53), and a connection to a service by its name across nodes."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from labkit import Lab, make_lab, needs_agent

pytestmark = [pytest.mark.e2e, needs_agent]


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    yield from make_lab("dns", "networkpolicy", 2)


@pytest.fixture(scope="module")
def world(lab: Lab) -> dict[str, str]:
    web_ip, _ = lab.pod("web", "shop", "node1", labels={"app": "web"})
    lab.pod("box", "shop", "node2")
    for name, cluster_ip in (("web", None), ("hl", "None")):
        spec = {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 80}]}
        if cluster_ip:
            spec["clusterIP"] = cluster_ip
        lab.client.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "shop"},
                           "spec": spec}, "shop")
    svc_ip = lab.client.get("Service", "web", "shop")["spec"]["clusterIP"]
    return {"web_ip": web_ip, "svc_ip": svc_ip}


def dig(lab: Lab, *args: str, pod: str = "box") -> str:
    return lab.cli("exec", "-n", "shop", pod, "--", "dig", "+time=2", "+tries=2", *args).stdout


def eventually(fn: object, want: object, within: float = 10.0) -> object:
    deadline = time.monotonic() + within
    while True:
        got = fn()  # type: ignore[operator]
        if got == want or time.monotonic() > deadline:
            return got
        time.sleep(0.3)


def test_pods_resolv_conf_names_the_cluster_dns(lab: Lab, world: dict[str, str]) -> None:
    conf = lab.cli("exec", "-n", "shop", "box", "--", "cat", "/etc/resolv.conf").stdout
    assert "nameserver 172.30.0.10" in conf
    assert "search shop.svc.cluster.local svc.cluster.local cluster.local" in conf and "options ndots:5" in conf


def test_service_headless_and_pod_names(lab: Lab, world: dict[str, str]) -> None:
    assert dig(lab, "+short", "web.shop.svc.cluster.local").split() == [world["svc_ip"]]
    assert eventually(lambda: dig(lab, "+short", "hl.shop.svc.cluster.local").split(), [world["web_ip"]]) == \
        [world["web_ip"]]  # A per ready endpoint, once the endpoints controller wrote them
    dashed = world["web_ip"].replace(".", "-")
    assert dig(lab, "+short", f"{dashed}.shop.pod.cluster.local").split() == [world["web_ip"]]
    assert dig(lab, "+short", "_http._tcp.web.shop.svc.cluster.local", "SRV").split() == \
        ["0", "100", "80", "web.shop.svc.cluster.local."]
    assert dig(lab, "+short", "+search", "web").split() == [world["svc_ip"]]  # through the search path


def test_unknown_cluster_names_are_nxdomain_with_soa(lab: Lab, world: dict[str, str]) -> None:
    out = dig(lab, "nope.shop.svc.cluster.local")
    assert "status: NXDOMAIN" in out and " aa " in out.split("flags:")[1].split(";")[0] + " "
    assert "IN\tSOA\tns.dns.cluster.local." in out


def test_outside_names_go_through_the_upstream(lab: Lab, world: dict[str, str]) -> None:
    assert dig(lab, "+short", "web.ext.test").split() == ["203.0.113.80"]
    out = dig(lab, "nothere.ext.test")
    assert "status: NXDOMAIN" in out


def test_a_service_by_name_across_nodes(lab: Lab, world: dict[str, str]) -> None:
    fetch = ["python3", "-c", "import urllib.request as u; print(u.urlopen('http://web.shop.svc.cluster.local/',"
             " timeout=4).read().decode())"]
    out = eventually(lambda: lab.cli("exec", "-n", "shop", "box", "--", *fetch, check=False).stdout.split(":")[0],
                     "shop/web on port 80")
    assert out == "shop/web on port 80"
