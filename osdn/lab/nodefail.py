"""`osdn lab stop-node` / `start-node`: a lab node fails (agent killed, underlay cable pulled) and returns.

Role: how the lab exercises egress IP failover. `stop_node` pulls the node's "cable" (its port on the
underlay switch goes down, so its eth0 loses carrier: addresses and routes stay, nothing passes)
and kills its agent with SIGKILL (a crash: no Ready=False, no clean-up). The master's egress health
probes cross the underlay from the lab router, so they stop being answered. `start_node` starts the
agent again with its recorded command line, waits until it has synced (it removes the egress IPs it
no longer holds before the node is reachable again, so no stale address answers ARP), then plugs the
cable back in.

Invariants: only the lab's own switch port and the agent recorded for the node are touched.
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass

from osdn.kernel import links
from osdn.lab import restart
from osdn.lab.cluster import LabInfo


@dataclass(frozen=True)
class NodeChange:
    node: str
    pid: int
    seconds: float


def switch_port(lab: LabInfo, node: str) -> tuple[str, str]:
    """(underlay switch namespace, the node's port on it); the names `topology.plan_lab` gives."""
    restart.find_node(lab, node)
    return f"{lab.prefix}underlay", f"ul-{node}"


def set_cable(lab: LabInfo, node: str, up: bool) -> None:
    ns, port = switch_port(lab, node)
    links.with_netlink(ns, lambda nl: links.set_link(nl, port, up=up))


def stop_node(lab: LabInfo, node: str) -> NodeChange:
    """The node fails: its underlay link goes down and its agent is killed."""
    start = time.monotonic()
    set_cable(lab, node, up=False)
    stopped = restart.stop_agent(lab, node, signal.SIGKILL)
    return NodeChange(node, stopped.pid, time.monotonic() - start)


def start_node(lab: LabInfo, node: str, timeout: float = 60.0) -> NodeChange:
    """The node comes back: agent started and synced, then its underlay link up."""
    start = time.monotonic()
    proc = restart.start_agent(lab, node)
    restart.wait_agent_ready(lab, node, proc, timeout)
    set_cable(lab, node, up=True)
    return NodeChange(node, proc.pid, time.monotonic() - start)
