"""Node agent restarts under traffic, in a 2-node networkpolicy lab.

While a TCP connection between pods on different nodes carries a message every ~20 ms, and a
prober connects over and over across both nodes (pairs that policy blocks, pairs it allows), the
agent of one node is stopped (SIGTERM, SIGKILL, and `osdn lab restart`) and started again with its
recorded command line. The kernel state must carry the node through: the connection loses no
message, no blocked probe ever gets through and no allowed one fails. While the agent is down, a
stray pod veth and stray nft elements are planted, a pod on that node is deleted (its CNI DEL
fails: no agent) and one is created (its CNI ADD fails until the agent is back); the restarted agent
adopts the tables (no replace), removes what it owns and is stale before it serves CNI, forgets the
deleted pod everywhere, and the pending pod and new ones come up under the policy.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator

import pytest
import yaml
from labcheck import (
    ECHO_PORT,
    ECHO_SERVER,
    EchoStream,
    Prober,
    expect_model,
    ipam_ips,
    nft_ips,
    pod_veths,
    tables,
    wait_for,
)
from labkit import Lab, make_lab, needs_agent

from osdn.kernel import netns
from osdn.kernel.nft import Nft
from osdn.lab.pods import PodRequest, create_pod, pod_netns, wait_pod_ip

pytestmark = [pytest.mark.e2e, needs_agent]
SEEDS = "tests/fixtures/seeds"
STRAY_VETH = "osdnpstray0000"
STRAY_IP = "10.128.250.250"
Pods = dict[str, tuple[str, str]]


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    yield from make_lab("rs", "networkpolicy", 2)


@pytest.fixture(scope="module")
def pods(lab: Lab) -> Pods:
    """app: srv (echo), w1 on node1; cli, w2 on node2 — isolated to same-namespace traffic.
    other: x1 on node1, x2 on node2 — no policy."""
    spots = {"app/w1": "node1", "app/cli": "node2", "app/w2": "node2", "other/x1": "node1", "other/x2": "node2"}
    out = {key: lab.pod(key.split("/")[1], key.split("/")[0], node) for key, node in spots.items()}
    out["app/srv"] = lab.pod("srv", "app", "node1", ports=[ECHO_PORT],
                             command=[sys.executable, "-u", "-c", ECHO_SERVER])
    for seed in ("002-networkpolicy-deny-by-default.yaml", "002-networkpolicy-allow-same-namespace.yaml"):
        with open(f"{SEEDS}/{seed}") as fh:
            lab.client.create(yaml.safe_load(fh), namespace="app")
    expect_model(lab, {k: v for k, v in out.items() if k != "app/srv"})
    return out


# -- traffic that runs across the restart ---------------------------------------------------------

BLOCKED = [("other/x2", "app/w1"), ("other/x1", "app/w2"), ("other/x1", "app/w1"), ("other/x2", "app/w2")]
ALLOWED = [("app/cli", "app/w1"), ("app/w1", "app/w2"), ("other/x1", "other/x2"), ("app/w2", "other/x1")]


def plant_strays(lab: Lab, node: str) -> None:
    """What a crashed agent might leave: a pod veth without a lease, elements of no pod."""
    ns = lab.node(node).netns
    netns.run_cmd(ns, ["ip", "link", "add", STRAY_VETH, "type", "veth", "peer", "name", "straypeer0"])
    with_nft = f"""
add element inet osdn np_pip {{ 1 . {STRAY_IP} }}
add element bridge osdn pod_addrs {{ "{STRAY_VETH}" . {STRAY_IP} . 0a:58:0a:80:fa:fa }}
"""
    with Nft(ns) as nft:
        nft.run(with_nft)
    assert STRAY_IP in nft_ips(lab, node) and STRAY_VETH in pod_veths(lab, node)


def log_size(lab: Lab, node: str) -> int:
    with open(lab.node(node).log, "rb") as fh:
        return len(fh.read())


def first_sync_after(lab: Lab, node: str, offset: int) -> str:
    with open(lab.node(node).log, "rb") as fh:
        text = fh.read()[offset:].decode(errors="replace")
    return next((line for line in text.splitlines() if "nft sync node=" in line), "")


@pytest.mark.parametrize(("node", "sig"), [("node1", signal.SIGTERM), ("node2", signal.SIGKILL)],
                         ids=["node1-SIGTERM", "node2-SIGKILL"])
def test_restart_keeps_traffic_and_enforcement_and_cleans_up(lab: Lab, pods: Pods, node: str, sig: int) -> None:
    victim, late, fresh = f"v{node[-1]}", f"l{node[-1]}", f"n{node[-1]}"
    v_ip, _ = lab.pod(victim, "app", node)
    wait_for("the victim, a policy peer, to be known on both nodes",
             lambda: all(v_ip in nft_ips(lab, n) for n in ("node1", "node2")), timeout=30)
    srv_ip = pods["app/srv"][0]
    with EchoStream(pods["app/cli"][1], srv_ip) as stream, \
            Prober(pods, [(s, d, False) for s, d in BLOCKED] + [(s, d, True) for s, d in ALLOWED]) as prober:
        wait_for("traffic before the stop", lambda: stream.echoed >= 10 and prober.rounds >= 1)
        stopped = lab.stop_agent(node, sig)
        assert not stopped.escalated, f"{node}: the agent ignored SIGTERM"
        down_from_round, down_from_msg = prober.rounds, stream.echoed
        plant_strays(lab, node)
        lab.delete_pod(victim, "app")  # CNI DEL cannot reach the agent; the namespace goes anyway
        create_pod(lab.client, PodRequest(late, "app", node))  # its CNI ADD fails until the agent is back
        wait_for("probes and messages while the agent is down",
                 lambda: prober.rounds >= down_from_round + 2 and stream.echoed >= down_from_msg + 25)
        offset = log_size(lab, node)
        lab.start_agent(node)  # returns once CNI is served, i.e. after the first sync
        ips_at_ready, veths_at_ready = nft_ips(lab, node), pod_veths(lab, node)
        up_round, up_msg = prober.rounds, stream.echoed
        wait_for("probes and messages after the restart",
                 lambda: prober.rounds >= up_round + 2 and stream.echoed >= up_msg + 25)
    assert stream.errors == [] and stream.echoed == stream.sent, f"the connection broke: {stream.errors}"
    assert prober.wrong == [], "enforcement gap across the restart:\n" + "\n".join(prober.wrong)

    sync = first_sync_after(lab, node, offset)
    assert "replaced=-" in sync, f"the restarted agent replaced its tables instead of adopting them: {sync}"
    # the agent's own two tables, adopted (not duplicated); the admin's `osdn_admin` and per-feature
    # tables (host ports, egress) are not the agent's ruleset
    assert [t for t in tables(lab, node) if t[1] == "osdn"] == [("bridge", "osdn"), ("inet", "osdn")]
    # the first sync (before CNI opens) already removed what the agent owns and is stale
    assert STRAY_VETH not in veths_at_ready, "stray pod veth left"
    assert STRAY_IP not in ips_at_ready, f"stray elements left: {ips_at_ready[STRAY_IP]}"
    assert v_ip not in ips_at_ready, f"pod deleted while the agent was down is still in {ips_at_ready.get(v_ip)}"
    assert v_ip not in ipam_ips(lab, node), "its lease was not released"
    other = "node2" if node == "node1" else "node1"
    wait_for(f"the deleted pod to leave {other}'s sets", lambda: v_ip not in nft_ips(lab, other), timeout=30)

    # the pod created while the agent was down starts now (the lab kubelet retries its ADD), a new
    # one is wired at once, and both are under the policy
    late_pod = (wait_pod_ip(lab.client, "app", late, timeout=90), pod_netns(lab.client.get("Pod", late, "app")))
    new = {f"app/{late}": late_pod, f"app/{fresh}": lab.pod(fresh, "app", node)}
    expect_model(lab, {k: v for k, v in {**pods, **new}.items() if k != "app/srv"})
    for name in (late, fresh):
        lab.delete_pod(name, "app")


def test_lab_restart_command_under_traffic(lab: Lab, pods: Pods) -> None:
    """`osdn lab restart node1 --signal KILL` (the product command) under the same traffic."""
    with EchoStream(pods["app/cli"][1], pods["app/srv"][0]) as stream, \
            Prober(pods, [(s, d, False) for s, d in BLOCKED] + [(s, d, True) for s, d in ALLOWED]) as prober:
        wait_for("traffic before the restart", lambda: stream.echoed >= 10 and prober.rounds >= 1)
        out = lab.cli("lab", "restart", "node1", "--signal", "KILL", "--name", lab.info.name,
                      "--dir", lab.info.dir).stdout
        up_round, up_msg = prober.rounds, stream.echoed
        wait_for("traffic after the restart", lambda: prober.rounds >= up_round + 2 and stream.echoed >= up_msg + 25)
    assert "serving CNI" in out, out
    assert stream.errors == [] and stream.echoed == stream.sent, f"the connection broke: {stream.errors}"
    assert prober.wrong == [], "enforcement gap across the restart:\n" + "\n".join(prober.wrong)
    status = lab.cli("lab", "status", "--name", lab.info.name, "--dir", lab.info.dir).stdout
    assert "DEAD" not in status, status
