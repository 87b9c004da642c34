"""osdn-cni chained with the reference `bandwidth` and `portmap` plugins (/usr/lib/cni), driven by the
CNI protocol as a runtime would (prevResult handed down the chain; DEL in reverse order).

The chain runs inside the node namespace (`ip netns exec`): bandwidth and portmap act on the
namespace they run in, and the host side of the pod's veth lives in the node namespace.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agent_lab import AgentLab, agent_lab, cni_argv, sh

pytestmark = [pytest.mark.kernel,
              pytest.mark.skipif(not os.path.exists("/usr/lib/cni/portmap"), reason="containernetworking-plugins missing")]

CONFLIST = {"cniVersion": "1.0.0", "name": "osdn", "plugins": [
    {"type": "osdn-cni"},
    {"type": "bandwidth", "capabilities": {"bandwidth": True}},
    {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True},
]}
RUNTIME = {"bandwidth": {"ingressRate": 10_000_000, "ingressBurst": 100_000,
                         "egressRate": 10_000_000, "egressBurst": 100_000},
           "portMappings": [{"hostPort": 30080, "containerPort": 8080, "protocol": "tcp"}]}


def run_chain(lab: AgentLab, command: str, short: str, prev: dict[str, Any] | None = None,
              skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Run the conflist like libcni: ADD in order, DEL in reverse, CHECK in order with the ADD result."""
    node = lab.nodes["n1"]
    env = {**os.environ, "CNI_COMMAND": command, "CNI_CONTAINERID": f"cid-{short}",
           "CNI_NETNS": f"/run/netns/{lab.pods[short]}", "CNI_IFNAME": "eth0", "CNI_PATH": "/usr/lib/cni",
           "CNI_ARGS": "IgnoreUnknown=1"}
    plugins = CONFLIST["plugins"] if command != "DEL" else list(reversed(CONFLIST["plugins"]))
    result = prev
    for plugin in (p for p in plugins if p["type"] not in skip):
        conf: dict[str, Any] = {"cniVersion": CONFLIST["cniVersion"], "name": CONFLIST["name"], **plugin}
        if plugin["type"] == "osdn-cni":
            conf["socket"] = node.socket
        caps = plugin.get("capabilities", {})
        conf["runtimeConfig"] = {k: v for k, v in RUNTIME.items() if caps.get(k)}
        if result is not None:
            conf["prevResult"] = result
        exe = cni_argv() if plugin["type"] == "osdn-cni" else [f"/usr/lib/cni/{plugin['type']}"]
        r = subprocess.run(["ip", "netns", "exec", node.netns, *exe], input=json.dumps(conf), env=env,
                           capture_output=True, text=True, timeout=90)
        assert r.returncode == 0, f"{plugin['type']} {command} failed: {r.stdout} {r.stderr}"
        if command == "ADD":
            result = json.loads(r.stdout)
    return result or {}


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[AgentLab]:
    with agent_lab(tmp_path, "multitenant") as lab:
        yield lab


def test_chained_bandwidth_and_portmap(lab: AgentLab) -> None:
    node = lab.add_node("n1", 1)
    lab.add_netns("web")
    result = run_chain(lab, "ADD", "web")
    ip = result["ips"][0]["address"].split("/")[0]
    names = [i["name"] for i in result["interfaces"]]
    assert names[:2] == [names[0], "eth0"] and names[0].startswith("osdnp")  # osdn's result passed through
    assert any(n.startswith("bwp") for n in names)  # bandwidth appended its IFB
    qdiscs = sh("ip", "netns", "exec", node.netns, "tc", "qdisc", "show", "dev", names[0]).stdout
    assert "tbf" in qdiscs and "10Mbit" in qdiscs
    lab.serve("web", 8080)
    lab.add_host("outside", "198.18.0.99")
    assert lab.connect("outside", node.ip, 30080) == "hello 198.18.0.99"  # host port -> pod, source kept
    assert lab.connect("outside", ip, 8080) is None  # no route to the pod network from outside
    # portmap 1.1.1 (Debian 12) fails CHECK looking for an IPv6 chain it never made: not ours to test
    run_chain(lab, "CHECK", "web", result, skip=("portmap",))
    run_chain(lab, "DEL", "web", result)
    run_chain(lab, "DEL", "web", result)  # DEL is idempotent along the whole chain
    assert lab.connect("outside", node.ip, 30080, 0.5) is None
    links = sh("ip", "-n", node.netns, "-o", "link").stdout
    assert "osdnp" not in links and "bwp" not in links
    assert "CNI-DN-" not in sh("ip", "netns", "exec", node.netns, "iptables-save", "-t", "nat").stdout
