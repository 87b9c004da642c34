"""Pods in the lab from the outside: create one, wait for its IP, probe a TCP connection from it.

Role: helpers shared by `osdn lab run`, the demo and the e2e tests. `probe` connects from inside
a pod's namespace (found through its `lab.osdn.io/netns` annotation) with a short timeout; it sends
packets only to the address it is given, from inside the lab.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from typing import Any

from osdn.client import Client
from osdn.errors import NotFoundError, OsdnError
from osdn.kernel import netns

Obj = dict[str, Any]
ANNOTATION_NETNS = "lab.osdn.io/netns"


@dataclass
class PodRequest:
    name: str
    namespace: str
    node: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    image: str = "python"
    ports: list[int] = field(default_factory=list)
    command: list[str] = field(default_factory=list)
    restart_policy: str = "Never"


def pod_manifest(req: PodRequest) -> Obj:
    """The Pod object for `req` (pure)."""
    container: Obj = {"name": req.name, "image": req.image}
    if req.command:
        container["command"] = req.command
    container["ports"] = [{"containerPort": p, "protocol": "TCP"} for p in req.ports or [80]]
    spec: Obj = {"containers": [container], "restartPolicy": req.restart_policy}
    if req.node:
        spec["nodeName"] = req.node
    meta: Obj = {"name": req.name, "namespace": req.namespace}
    if req.labels:
        meta["labels"] = req.labels
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def ensure_project(client: Client, name: str) -> None:
    try:
        client.get("Namespace", name)
    except NotFoundError:
        client.create({"apiVersion": "project.openshift.io/v1", "kind": "Project", "metadata": {"name": name}})


def create_pod(client: Client, req: PodRequest) -> Obj:
    ensure_project(client, req.namespace)
    return client.create(pod_manifest(req), namespace=req.namespace)


def wait_pod_ip(client: Client, namespace: str, name: str, timeout: float = 60.0) -> str:
    """status.podIP once the lab kubelet runs the pod (its netns annotation is set; the agent may
    report the IP first); raise saying why the pod is not running if that never happens."""
    deadline = time.monotonic() + timeout
    pod: Obj = {}
    while time.monotonic() < deadline:
        pod = client.get("Pod", name, namespace)
        status = pod.get("status") or {}
        started = ANNOTATION_NETNS in ((pod.get("metadata") or {}).get("annotations") or {})
        if status.get("podIP") and started:
            return str(status["podIP"])
        if status.get("phase") in ("Succeeded", "Failed") or unschedulable(pod):
            break
        time.sleep(0.1)
    node = (pod.get("spec") or {}).get("nodeName") or "(not scheduled)"
    why = not_running_reason(pod)
    raise OsdnError(f'pod "{name}" in project "{namespace}" is not running after {timeout:.0f}s (node {node})'
                    + (f": {why}" if why else "; see `osdn describe pod` and the lab's kubelet.log"))


def unschedulable(pod: Obj) -> bool:
    """PodScheduled=False: no lab node can take the pod (it will not start by waiting). Pure."""
    return any(c.get("type") == "PodScheduled" and c.get("status") == "False"
               for c in (pod.get("status") or {}).get("conditions") or [])


def not_running_reason(pod: Obj) -> str:
    """Why a pod is not running, from its status (phase, conditions, container state); "" if unknown. Pure."""
    status = pod.get("status") or {}
    if status.get("phase") in ("Succeeded", "Failed"):
        return f"{status['phase']}" + (f" ({status['reason']}: {status.get('message', '')})"
                                       if status.get("reason") else "")
    for cond in status.get("conditions") or []:
        if cond.get("status") == "False" and cond.get("type") == "PodScheduled":
            return f"{cond.get('reason', 'Unschedulable')}: {cond.get('message', '')}"
    for cs in status.get("containerStatuses") or []:
        waiting = (cs.get("state") or {}).get("waiting") or {}
        if waiting.get("message"):
            return f"{waiting.get('reason', 'Waiting')}: {waiting['message']}"
    return ""


def pod_netns(pod: Obj) -> str:
    meta = pod.get("metadata") or {}
    ns = (meta.get("annotations") or {}).get(ANNOTATION_NETNS, "")
    where = f'pod "{meta.get("name")}" in project "{meta.get("namespace")}"'
    if not ns:
        raise OsdnError(f"{where} has no {ANNOTATION_NETNS} annotation: exec and logs work only for pods "
                        "run by a local osdn lab (and once the pod is running)")
    if not netns.netns_exists(ns):
        raise OsdnError(f"{where}: its network namespace {ns!r} (from {ANNOTATION_NETNS}) does not exist "
                        "on this machine")
    return str(ns)


def probe(ns: str, ip: str, port: int, timeout: float = 1.0) -> bool:
    """True if a TCP connection from inside namespace `ns` to ip:port is accepted within `timeout`."""
    def attempt() -> bool:
        try:
            with socket.create_connection((ip, port), timeout=timeout):
                return True
        except OSError:
            return False

    return netns.run_in_netns(ns, attempt)


def http_get(ns: str, ip: str, port: int = 80, timeout: float = 2.0) -> str:
    """The body of GET / from ip:port, fetched from inside `ns` ("" if it fails)."""
    def fetch() -> str:
        try:
            with socket.create_connection((ip, port), timeout=timeout) as s:
                s.settimeout(timeout)
                s.sendall(f"GET / HTTP/1.0\r\nHost: {ip}\r\n\r\n".encode())
                data = b""
                while chunk := s.recv(4096):
                    data += chunk
        except OSError:
            return ""
        return data.split(b"\r\n\r\n", 1)[-1].decode(errors="replace")

    return netns.run_in_netns(ns, fetch)
