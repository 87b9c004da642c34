"""Control-plane loss in a 2-node networkpolicy lab: every API server dies, the nodes carry on.

Twice: with the default control plane (one server, SQLite) and with the replicated one (`lab up
--store etcd --servers 3`: all three servers are killed, etcd stays up).

While a TCP connection between pods on different nodes carries a message every ~20 ms and a prober
connects over and over (pairs a deny-by-default policy blocks, pairs it allows), the lab's API
server is killed (SIGKILL: its controllers go too). During the outage, for at least one periodic
full resync of every agent, the connection loses no message, no blocked probe gets through, no
allowed one fails, and each node's nft sets keep every pod; a CNI ADD through the real plugin is
answered "try again later" (code 11) naming the API server. node2's agent is restarted during the
outage: it does not exit, it waits for the API server (its CNI socket answers, /healthz says not
ready) and the kernel keeps carrying the traffic. A policy is changed while the server is down (written
into the store with the store's own code: no API server answers). The servers are started again
with their recorded command lines: node1's agent, the same process, reconnects by itself; node2's
finishes its start; the change made during the outage reaches both kernels (real connects equal the
model, the pairs it does not open stay blocked), the long connection never broke, and a new pod is
wired under the policies.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from labcheck import ECHO_PORT, ECHO_SERVER, EchoStream, Prober, expect_model, nft_ips, wait_for
from labkit import Lab, make_lab, needs_agent

from osdn.api.kinds.networking import default_network_policy
from osdn.api.registry import by_kind
from osdn.apiserver.resources import key_of
from osdn.errors import OsdnError
from osdn.lab import controlplane
from osdn.lab.cluster import LabInfo, locked_state, spawn
from osdn.lab.restart import cni_healthy, start_agent, wait_agent_ready
from osdn.lab.state import ProcessRecord, load_state, process_running, process_start_time, reap, send_signal
from osdn.store import Store
from osdn.store.etcd import EtcdStore
from osdn.store.etcd_gateway import parse_etcd_url
from osdn.store.sqlite import SQLiteStore

pytestmark = [pytest.mark.e2e, needs_agent]
SEEDS = "tests/fixtures/seeds"
Pods = dict[str, tuple[str, str]]
BLOCKED = [("other/x2", "app/w1"), ("other/x1", "app/w2"), ("other/x2", "app/w2")]
ALLOWED = [("app/cli", "app/w1"), ("app/w1", "app/w2"), ("other/x1", "other/x2"), ("app/w2", "other/x1")]
# the change made while the API server is down: every namespace may reach app's role=web pods (w1)
LET_OTHER_IN = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"name": "let-other-in", "namespace": "app", "uid": "c0ffee00-0000-4000-8000-000000000001",
                             "generation": 1, "creationTimestamp": "2026-01-01T00:00:00Z"},
                "spec": {"podSelector": {"matchLabels": {"role": "web"}},
                         "ingress": [{"from": [{"namespaceSelector": {}}]}]}}


@pytest.fixture(scope="module", params=["sqlite", "etcd"])
def lab(request: pytest.FixtureRequest) -> Iterator[Lab]:
    replicated = ("--store", "etcd", "--servers", "3") if request.param == "etcd" else ()
    yield from make_lab(f"cp{request.param[0]}", "networkpolicy", 2, "--no-router", *replicated)


@pytest.fixture(scope="module")
def pods(lab: Lab) -> Pods:
    """app: srv (echo), w1 on node1; cli, w2 on node2 — isolated to same-namespace traffic.
    other: x1 on node1, x2 on node2 — no policy."""
    spots = {"app/w1": "node1", "app/cli": "node2", "app/w2": "node2", "other/x1": "node1", "other/x2": "node2"}
    out = {key: lab.pod(key.split("/")[1], key.split("/")[0], node, labels={"role": "web"} if key == "app/w1" else None)
           for key, node in spots.items()}
    out["app/srv"] = lab.pod("srv", "app", "node1", ports=[ECHO_PORT],
                             command=[sys.executable, "-u", "-c", ECHO_SERVER])
    for seed in ("002-networkpolicy-deny-by-default.yaml", "002-networkpolicy-allow-same-namespace.yaml"):
        with open(f"{SEEDS}/{seed}") as fh:
            lab.client.create(yaml.safe_load(fh), namespace="app")
    expect_model(lab, {k: v for k, v in out.items() if k != "app/srv"}, within=60)
    return out


# -- the lab's API servers ----------------------------------------------------------------------------

def replicated(lab: Lab) -> bool:
    return os.path.exists(os.path.join(lab.info.dir, controlplane.FILE))


def kill_api_servers(lab: Lab) -> ProcessRecord | None:
    """SIGKILL every API server; the single server's record (to start it again), None if replicated."""
    if not replicated(lab):
        return kill_server(lab.info)
    for server in controlplane.load(lab.info.dir).servers:
        controlplane.kill_server(lab.info, server.index)
    return None


def start_api_servers(lab: Lab, record: ProcessRecord | None) -> None:
    if record is not None:
        start_server(lab, record)
        return
    for server in controlplane.load(lab.info.dir).servers:
        controlplane.start_server(lab.info, server.index)
    wait_for("the API servers to answer again", lambda: api_answers(lab), timeout=90)


def lab_store(lab: Lab) -> Store:
    """The store the lab's servers use (their SQLite file, or the etcd cluster they share)."""
    if replicated(lab):
        return EtcdStore(parse_etcd_url(controlplane.load(lab.info.dir).store_url))
    return SQLiteStore(Path(lab.info.dir) / "server" / "osdn.db")


def server_record(info: LabInfo) -> ProcessRecord:
    state = load_state(info.dir)
    records = [p for p in (state.processes if state else []) if p.role == "server"]
    assert records, f"no server process recorded in {info.dir}/state.json"
    return records[-1]


def kill_server(info: LabInfo) -> ProcessRecord:
    record = server_record(info)
    assert process_start_time(record.pid) == record.start_time, "the recorded server is not running"
    send_signal(record.pid, signal.SIGKILL)
    wait_for("the API server to die", lambda: not process_running(record.pid), timeout=30)
    reap(record.pid)
    return record


def start_server(lab: Lab, record: ProcessRecord) -> None:
    with locked_state(lab.info.dir) as state:
        if state is not None:
            state.processes = [p for p in state.processes if p.pid != record.pid]
    spawn(lab.info.dir, list(record.argv), "server", lab.info.server_log)
    wait_for("the API server to answer again", lambda: api_answers(lab), timeout=90)


def store_while_down(lab: Lab, obj: dict[str, object]) -> None:
    """Write `obj` (defaulted) into the store of the stopped servers with the store's own code."""
    obj = copy.deepcopy(obj)
    default_network_policy(obj)
    meta = obj["metadata"]
    assert isinstance(meta, dict)
    store = lab_store(lab)
    try:
        store.create(key_of(by_kind(str(obj["kind"])), meta["namespace"], meta["name"]), obj)
    finally:
        store.close()


def api_answers(lab: Lab) -> bool:
    try:
        lab.client.get("Namespace", "default")
        return True
    except OsdnError:
        return False


# -- what the agents say ------------------------------------------------------------------------------

def log_text(lab: Lab, node: str, offset: int = 0) -> str:
    with open(lab.node(node).log, "rb") as fh:
        return fh.read()[offset:].decode(errors="replace")


def agent_pid(lab: Lab, node: str) -> int:
    state = load_state(lab.info.dir)
    return [p.pid for p in (state.processes if state else []) if p.role == f"node:{node}"][-1]


def cni_add(lab: Lab, node: str) -> tuple[int, dict[str, object]]:
    """A CNI ADD through the real plugin against `node`'s agent socket."""
    env = {**os.environ, "CNI_COMMAND": "ADD", "CNI_CONTAINERID": "cplprobe0001", "CNI_NETNS": "/run/netns/none",
           "CNI_IFNAME": "eth0", "CNI_PATH": "/usr/lib/cni",
           "CNI_ARGS": "IgnoreUnknown=1;K8S_POD_NAMESPACE=app;K8S_POD_NAME=late"}
    config = json.dumps({"cniVersion": "1.0.0", "name": "osdn", "type": "osdn-cni", "socket": lab.node(node).socket})
    done = subprocess.run([sys.executable, "-m", "osdn.cni.plugin"], input=config, env=env, capture_output=True,
                          text=True, timeout=120)
    return done.returncode, json.loads(done.stdout or "{}")


def test_traffic_and_policies_survive_the_api_server_and_changes_land_after_it_returns(lab: Lab, pods: Pods) -> None:
    nodes = ("node1", "node2")
    agents = {n: agent_pid(lab, n) for n in nodes}
    sets_before = {n: set(nft_ips(lab, n)) for n in nodes}
    offsets = {n: len(log_text(lab, n)) for n in nodes}
    with EchoStream(pods["app/cli"][1], pods["app/srv"][0]) as stream:
        with Prober(pods, [(s, d, False) for s, d in BLOCKED] + [(s, d, True) for s, d in ALLOWED]) as prober:
            wait_for("traffic before the outage", lambda: stream.echoed >= 10 and prober.rounds >= 1)
            record = kill_api_servers(lab)
            for n in nodes:
                wait_for(f"{n} to notice the API server is gone",
                         lambda n=n: "API server unreachable" in log_text(lab, n, offsets[n]), timeout=90)
                offsets[n] = len(log_text(lab, n))
            # at least one periodic full resync of every agent from its cache, under traffic
            for n in nodes:
                wait_for(f"a full sync of {n} during the outage",
                         lambda n=n: "full=yes" in log_text(lab, n, offsets[n]), timeout=120)
            mark_round, mark_msg = prober.rounds, stream.echoed
            wait_for("probes and messages during the outage",
                     lambda: prober.rounds >= mark_round + 2 and stream.echoed >= mark_msg + 25, timeout=120)
            for n in nodes:
                assert sets_before[n] <= set(nft_ips(lab, n)), f"{n} lost pod addresses from its sets in the outage"
            code, answer = cni_add(lab, "node1")
            assert code == 11, answer
            assert answer["msg"] == "osdn node agent node1 cannot reach the API server; try again later", answer
            assert "API server https://127.0.0.1:" in str(answer["details"]), answer

            # an agent (re)started while no API server answers waits for it instead of exiting
            stopped = lab.stop_agent("node2")
            assert not stopped.escalated, "node2: the agent ignored SIGTERM"
            restarted = start_agent(lab.info, "node2")
            wait_for("node2's new agent to wait for the API server",
                     lambda: "cannot register the Node" in log_text(lab, "node2", offsets["node2"]), timeout=90)
            code, answer = cni_add(lab, "node2")
            assert code == 11 and "has not synced with the API server yet" in str(answer["msg"]), answer
            assert not cni_healthy(lab.node("node2").socket)
            mark_round, mark_msg = prober.rounds, stream.echoed
            wait_for("probes and messages while node2's agent waits",
                     lambda: prober.rounds >= mark_round + 2 and stream.echoed >= mark_msg + 25, timeout=120)
            assert restarted.poll() is None, "node2's agent exited while the API server was down"
        assert prober.wrong == [], "enforcement gap during the outage:\n" + "\n".join(prober.wrong)

        # a change made while the server is down (the prober's pairs change with it: it has stopped)
        store_while_down(lab, LET_OTHER_IN)
        offset = len(log_text(lab, "node1"))
        start_api_servers(lab, record)
        wait_for("node1 to reconnect by itself",
                 lambda: "API server reachable again" in log_text(lab, "node1", offset)
                 and "informer: back after" in log_text(lab, "node1", offset), timeout=120)
        wait_agent_ready(lab.info, "node2", restarted, timeout=120)
        probed = {k: v for k, v in pods.items() if k != "app/srv"}
        matrix = expect_model(lab, probed, within=90)
        assert matrix[("other/x2", "app/w1")] and matrix[("other/x1", "app/w1")], "the change did not land"
        assert not matrix[("other/x2", "app/w2")], "a pair the change does not open was opened"
        mark_msg = stream.echoed
        wait_for("messages after the return", lambda: stream.echoed >= mark_msg + 25, timeout=120)
    assert stream.errors == [] and stream.echoed == stream.sent, f"the connection broke: {stream.errors}"
    assert agent_pid(lab, "node1") == agents["node1"], "node1's agent was restarted"

    # and CNI works again: a new pod, wired under the policies
    fresh = {"app/w3": lab.pod("w3", "app", "node1")}
    matrix = expect_model(lab, {**probed, **fresh}, within=90)
    assert not matrix[("other/x1", "app/w3")] and matrix[("app/cli", "app/w3")]
