"""What `osdn describe` fetches beside an object for kubectl's describers (osdn/cli/describers.py):
a controller's pods (by its selector), a deployment's replica sets, a namespace's quotas. Kinds kubectl
has no describer for get its generic one; the other kinds kubectl has a describer for and osdn has
not ported give None (the caller prints them its own way).
"""

from __future__ import annotations

from typing import Any

from osdn.cli.describe_generic import KUBECTL_TYPED, describe_generic
from osdn.cli.describers import (
    describe_deployment,
    describe_namespace,
    describe_pod,
    describe_replica_set,
    describe_replication_controller,
    format_labels,
    format_selector,
)
from osdn.client import Client
from osdn.errors import ForbiddenError, NotFoundError

Obj = dict[str, Any]


def _list(client: Client, kind: str, namespace: str, selector: str = "") -> list[Obj]:
    """The items, or none where the user may not list them (kubectl shows what it can)."""
    try:
        items: list[Obj] = client.list(kind, namespace, label_selector=selector)["items"]
    except (ForbiddenError, NotFoundError):
        return []
    return items


def _pods(client: Client, namespace: str, selector: str) -> list[Obj]:
    return _list(client, "Pod", namespace, selector) if selector and selector != "<none>" else []


def describe_as_kubectl(client: Client, kind: str, obj: Obj, events: list[Obj], now: float) -> str | None:
    """kubectl's describe text of `obj`, or None for a kind osdn describes generically."""
    ns = (obj.get("metadata") or {}).get("namespace") or ""
    spec = obj.get("spec") or {}
    if kind == "Pod":
        return describe_pod(obj, events, now)
    if kind == "ReplicationController":
        return describe_replication_controller(obj, _pods(client, ns, format_labels(spec.get("selector"))),
                                               events, now)
    if kind == "ReplicaSet":
        return describe_replica_set(obj, _pods(client, ns, format_selector(spec.get("selector"))), events, now)
    if kind == "Deployment":
        return describe_deployment(obj, _list(client, "ReplicaSet", ns), events, now)
    if kind == "Namespace":
        name = obj["metadata"]["name"]
        return describe_namespace(obj, _list(client, "ResourceQuota", name))
    return None if kind in KUBECTL_TYPED else describe_generic(obj, events, now)
