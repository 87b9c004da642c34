"""`osdn lab restart NODE`: stop a lab node agent and start it again with the same command line.

Role: the lab's way to exercise agent restarts (upgrades, crashes) on a running cluster. `stop_agent`
signals the agent recorded in the lab state (SIGTERM: a clean stop, the Node goes Ready=False;
SIGKILL: a crash) and waits until it is gone; `start_agent` runs the recorded argv again (same log,
CNI socket and IPAM state dir) and replaces the record; `wait_agent_ready` returns once the new agent
answers on its CNI socket, which it opens only after its first sync (adopting what the old one left).
Between the two calls the node's kernel state is left alone: pods keep their traffic and the
last rules stay in force, which is what the restart tests probe.

Invariants: only the process recorded for `node:<NAME>` is signalled, and only if its pid still
belongs to it (same start time); a SIGTERM that is not obeyed within the grace period is followed
by SIGKILL (as `lab down` does), and the caller is told.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from dataclasses import dataclass

from osdn.lab.cluster import LabError, LabInfo, NodeInfo, locked_state, spawn
from osdn.lab.state import ProcessRecord, load_state, process_running, process_start_time, reap, send_signal

SIGNALS = {"TERM": signal.SIGTERM, "KILL": signal.SIGKILL}


@dataclass(frozen=True)
class Stopped:
    """What `stop_agent` did: the old pid, its argv, and whether SIGKILL had to follow SIGTERM."""

    node: str
    pid: int
    argv: list[str]
    escalated: bool
    seconds: float


def agent_role(node: str) -> str:
    return f"node:{node}"


def find_node(lab: LabInfo, name: str) -> NodeInfo:
    node = lab.node(name)
    if node is None:
        known = ", ".join(n.name for n in lab.nodes)
        raise LabError(f"lab {lab.name!r} has no node {name!r} (nodes: {known})")
    return node


def agent_record(lab: LabInfo, node: str) -> ProcessRecord:
    """The newest state record of `node`'s agent (argv is what `start_agent` runs again)."""
    state = load_state(lab.dir)
    records = [p for p in (state.processes if state else []) if p.role == agent_role(node)]
    if not records:
        raise LabError(f"lab {lab.name!r}: no agent process recorded for node {node!r} in {lab.dir}/state.json")
    return records[-1]


def agent_running(record: ProcessRecord) -> bool:
    return process_start_time(record.pid) == record.start_time and process_running(record.pid)


def stop_agent(lab: LabInfo, node: str, sig: int = signal.SIGTERM, grace: float = 15.0) -> Stopped:
    """Signal `node`'s agent and wait until it has exited (SIGKILL after `grace` s of SIGTERM)."""
    find_node(lab, node)
    record = agent_record(lab, node)
    start = time.monotonic()
    escalated = False
    if agent_running(record):
        send_signal(record.pid, sig)
        if not _wait_gone(record, grace):
            escalated = True
            send_signal(record.pid, signal.SIGKILL)
            if not _wait_gone(record, 5.0):
                raise LabError(f"node {node}: agent pid {record.pid} survives SIGKILL")
    return Stopped(node, record.pid, list(record.argv), escalated, time.monotonic() - start)


def start_agent(lab: LabInfo, node: str, argv: list[str] | None = None) -> subprocess.Popen[bytes]:
    """Start `node`'s agent with its recorded argv (or `argv`); refuses while the old one runs."""
    info = find_node(lab, node)
    record = agent_record(lab, node)
    if agent_running(record):
        raise LabError(f"node {node}: agent pid {record.pid} is still running (stop it first)")
    with locked_state(lab.dir) as state:
        if state is not None:
            state.processes = [p for p in state.processes if p.role != agent_role(node)]
    return spawn(lab.dir, argv or list(record.argv), agent_role(node), info.log)


def wait_agent_ready(lab: LabInfo, node: str, proc: subprocess.Popen[bytes] | None = None,
                     timeout: float = 60.0) -> float:
    """Seconds until `node`'s agent answers GET /healthz on its CNI socket (after its first sync)."""
    info = find_node(lab, node)
    start = time.monotonic()
    while not cni_healthy(info.socket):
        if proc is not None and proc.poll() is not None:
            raise LabError(f"node {node}: agent exited with status {proc.returncode}; see {info.log}")
        if time.monotonic() - start > timeout:
            raise LabError(f"node {node}: agent not answering on {info.socket} after {timeout:.0f}s; "
                           f"see {info.log}")
        time.sleep(0.05)
    return time.monotonic() - start


def cni_healthy(path: str) -> bool:
    """True if an agent answers `GET /healthz` on the unix socket `path` (a stale socket refuses)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(2.0)
            s.connect(path)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: agent\r\nConnection: close\r\n\r\n")
            return s.recv(64).split(b" ")[1:2] == [b"200"]
    except OSError:
        return False


def _wait_gone(record: ProcessRecord, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while agent_running(record):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    reap(record.pid)
    return True

