"""`osdn lab restart`'s process handling, with a stand-in "agent" (a sleeping python) and a fake CNI
socket: no root, no namespaces."""

from __future__ import annotations

import http.server
import os
import signal
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from osdn.lab.cluster import LabError, LabInfo, NodeInfo, spawn
from osdn.lab.restart import (
    agent_record,
    agent_running,
    cni_healthy,
    start_agent,
    stop_agent,
    wait_agent_ready,
)
from osdn.lab.state import LabState, load_state

IGNORES_TERM = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ignoring', flush=True); "
                "time.sleep(120)")


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[LabInfo]:
    LabState("t", "osdn-t-", str(tmp_path)).save()
    node = NodeInfo("node1", "osdn-t-node1", "198.18.0.11", str(tmp_path / "cni.sock"), "", str(tmp_path / "n1.log"))
    info = LabInfo("t", str(tmp_path), "subnet", "osdn-t-", nodes=[node])
    yield info
    state = load_state(str(tmp_path))
    for rec in state.processes if state else []:
        if agent_running(rec):
            os.kill(rec.pid, signal.SIGKILL)
            os.waitpid(rec.pid, 0)


def fake_agent(lab: LabInfo, code: str = "import time; time.sleep(120)") -> int:
    return spawn(lab.dir, [sys.executable, "-c", code], "node:node1", lab.nodes[0].log).pid


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["TERM", "KILL"])
def test_stop_then_start_runs_the_recorded_argv_and_replaces_the_record(lab: LabInfo, sig: int) -> None:
    old = fake_agent(lab)
    stopped = stop_agent(lab, "node1", sig)
    assert stopped.pid == old and not stopped.escalated
    assert not agent_running(agent_record(lab, "node1"))
    new = start_agent(lab, "node1")
    record = agent_record(lab, "node1")
    assert record.pid == new.pid != old and agent_running(record)
    assert record.argv == stopped.argv
    state = load_state(lab.dir)
    assert state is not None and [p.pid for p in state.processes if p.role == "node:node1"] == [new.pid]


def test_sigterm_ignored_is_followed_by_sigkill(lab: LabInfo) -> None:
    fake_agent(lab, IGNORES_TERM)
    while "ignoring" not in Path(lab.nodes[0].log).read_text():
        time.sleep(0.01)
    assert stop_agent(lab, "node1", signal.SIGTERM, grace=0.5).escalated


def test_start_refuses_while_the_agent_runs(lab: LabInfo) -> None:
    fake_agent(lab)
    with pytest.raises(LabError, match="still running"):
        start_agent(lab, "node1")


def test_unknown_node_and_missing_record_are_named(lab: LabInfo) -> None:
    with pytest.raises(LabError, match="no node 'node9' .*nodes: node1"):
        stop_agent(lab, "node9")
    with pytest.raises(LabError, match="no agent process recorded for node 'node1'"):
        stop_agent(lab, "node1")


def test_wait_ready_reports_an_agent_that_exits(lab: LabInfo) -> None:
    fake_agent(lab, "import sys; sys.exit(3)")
    proc = spawn(lab.dir, [sys.executable, "-c", "import sys; sys.exit(3)"], "x", lab.nodes[0].log)
    with pytest.raises(LabError, match="exited with status 3"):
        wait_agent_ready(lab, "node1", proc, timeout=30)


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def address_string(self) -> str:
        return "unix"

    def log_message(self, *args: object) -> None:
        pass


def test_cni_healthy_needs_a_live_answer(tmp_path: Path) -> None:
    path = str(tmp_path / "cni.sock")
    assert not cni_healthy(path), "no socket"
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(path)
    stale.close()  # the file stays, nobody listens: what a SIGKILLed agent leaves
    assert not cni_healthy(path)
    os.unlink(path)
    server = socketserver.UnixStreamServer(path, _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert cni_healthy(path)
    finally:
        server.shutdown()
        server.server_close()
