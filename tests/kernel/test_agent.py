"""Kernel tests of the node agent and the CNI plugin with a real `osdn server` (master included):
pods wired by `osdn-cni`, judged by real packets.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from agent_lab import AgentLab, leftovers, sh
from conftest import start_server

pytestmark = pytest.mark.kernel


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[AgentLab]:
    srv = start_server(tmp_path, "--network-plugin", "multitenant")
    lab = AgentLab(srv, tmp_path)
    try:
        yield lab
    finally:
        lab.cleanup()
        srv.stop()
    assert leftovers() == []


def test_add_check_del_two_pods_talk(lab: AgentLab) -> None:
    node = lab.add_node("n1", 1)
    start = time.perf_counter()
    a = lab.add_pod("n1", "a")
    took = time.perf_counter() - start
    b = lab.add_pod("n1", "b")
    print(f"pod ADD via osdn-cni: {took * 1000:.0f} ms")
    assert a != b and a.startswith("10.128.") and not a.endswith(".1")
    assert lab.ping("a", b) and lab.ping("b", a)
    link = sh("ip", "-n", lab.pods["a"], "-j", "link", "show", "eth0").stdout
    assert json.loads(link)[0]["address"] == "0a:58:" + ":".join(f"{int(x):02x}" for x in a.split("."))
    assert json.loads(link)[0]["mtu"] == 1450
    routes = sh("ip", "-n", lab.pods["a"], "route").stdout
    for want in ("default via 10.128.0.1", "10.128.0.0/14 dev eth0", "172.30.0.0/16 via 10.128.0.1", "224.0.0.0/4 dev eth0"):
        assert want in routes
    pod = json.loads(lab.server.cli("get", "pod", "a", "-o", "json", check=True).stdout)
    assert pod["status"]["podIP"] == a and pod["spec"]["nodeName"] == "n1" and pod["status"]["phase"] == "Running"
    assert lab.cni("CHECK", "n1", "a")[0] == 0
    assert lab.cni("DEL", "n1", "a")[0] == 0
    assert lab.cni("DEL", "n1", "a")[0] == 0  # idempotent
    assert not lab.ping("b", a)
    assert lab.server.cli("get", "pod", "a").returncode != 0  # the agent created it, the agent deleted it
    code, err = lab.cni("CHECK", "n1", "a")
    assert code == 3 and err["msg"] == "unknown container"
    node_links = sh("ip", "-n", node.netns, "-o", "link").stdout
    assert node_links.count("osdnp") == 1  # only b's veth is left
