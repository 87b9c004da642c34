"""The conditions of `ClusterOperator network`: has every node applied the `Network cluster` config? Pure.

Each node agent, once it runs with the config of `Network cluster` generation G, writes G into its
Node's annotation `APPLIED_ANNOTATION`. From the Network object and the Nodes:
- Available: some Ready node runs an osdn agent that has applied a config (any generation);
- Progressing: some Ready node has not applied the current generation yet (named in the message);
- Degraded: there is no `Network cluster`, or a Ready node reports an error applying it
  (annotation `ERROR_ANNOTATION`).
NotReady nodes are left out: a stopped node cannot apply anything, and the node controller reports it.
`lastTransitionTime` changes only when a condition's status changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

Obj = dict[str, Any]
APPLIED_ANNOTATION = "network.osdn.io/applied-network-generation"
ERROR_ANNOTATION = "network.osdn.io/network-config-error"
CONDITION_TYPES = ("Available", "Progressing", "Degraded")


def _ready(node: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or [])


def _annotation(node: Obj, key: str) -> str:
    return str(((node.get("metadata") or {}).get("annotations") or {}).get(key) or "")


def _applied(node: Obj) -> int | None:
    text = _annotation(node, APPLIED_ANNOTATION)
    return int(text) if text.isdigit() else None


def _names(nodes: Iterable[Obj]) -> str:
    names = sorted(n["metadata"]["name"] for n in nodes)
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def desired_conditions(network: Obj | None, nodes: Sequence[Obj]) -> list[tuple[str, str, str, str]]:
    """(type, status, reason, message) for each condition type, in CONDITION_TYPES order."""
    ready = [n for n in nodes if _ready(n)]
    running = [n for n in ready if _applied(n) is not None]
    if network is None:
        return [("Available", "True" if running else "False", "NoNetworkConfig" if not running else "AsExpected",
                 "node agents run with their built-in defaults" if running else "no node agent is ready"),
                ("Progressing", "False", "NoNetworkConfig", 'Network "cluster" does not exist'),
                ("Degraded", "True", "NoNetworkConfig",
                 'Network "cluster" (operator.openshift.io/v1) does not exist; create it to configure nodes')]
    gen = int((network.get("metadata") or {}).get("generation") or 1)
    behind = [n for n in ready if (_applied(n) or 0) < gen]
    failed = [n for n in ready if _annotation(n, ERROR_ANNOTATION)]
    available = ("Available", "True", "AsExpected", f"{len(running)} of {len(nodes)} nodes run the osdn agent") \
        if running else ("Available", "False", "NoReadyNodes", "no node agent is ready")
    progressing = ("Progressing", "True", "Deploying",
                   f"{len(ready) - len(behind)} of {len(ready)} ready nodes applied generation {gen}; "
                   f"waiting for {_names(behind)}") if behind else \
        ("Progressing", "False", "AsExpected", f"all {len(ready)} ready nodes applied generation {gen}"
         if ready else "no ready node to configure")
    degraded = ("Degraded", "True", "ApplyFailed", "; ".join(
        f"{n['metadata']['name']}: {_annotation(n, ERROR_ANNOTATION)}" for n in sorted(
            failed, key=lambda n: n["metadata"]["name"]))) if failed else ("Degraded", "False", "AsExpected", "")
    return [available, progressing, degraded]


def compute_status(network: Obj | None, nodes: Sequence[Obj], old_status: Obj | None, now: str,
                   version: str) -> Obj:
    """The whole `status` of ClusterOperator network, keeping transition times that did not change."""
    old = {c.get("type"): c for c in (old_status or {}).get("conditions") or []}
    conditions = []
    for kind, status, reason, message in desired_conditions(network, nodes):
        prev = old.get(kind) or {}
        since = prev.get("lastTransitionTime") if prev.get("status") == status else None
        conditions.append({"type": kind, "status": status, "reason": reason, "message": message,
                           "lastTransitionTime": since or now})
    return {"conditions": conditions, "versions": [{"name": "operator", "version": version}],
            "relatedObjects": [{"group": "operator.openshift.io", "resource": "networks", "name": "cluster"}]}
