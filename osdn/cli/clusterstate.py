"""Read the cluster state the model needs from a running server (the online forms of the analysis)."""

from __future__ import annotations

from typing import Any

from osdn.client import Client

Obj = dict[str, Any]

# Every kind the model reads; the model ignores what it does not know.
MODEL_KINDS = ("ClusterNetwork", "Namespace", "NetNamespace", "HostSubnet", "Node", "Pod", "Service",
               "Endpoints", "NetworkPolicy", "EgressNetworkPolicy")


def fetch_objects(client: Client) -> list[Obj]:
    objs: list[Obj] = []
    for kind in MODEL_KINDS:
        listing = client.list(kind)
        for item in listing["items"]:
            objs.append(item)
    return objs


def object_key(obj: Obj) -> tuple[str, str, str]:
    meta = obj.get("metadata") or {}
    return str(obj.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name") or "")


def replace_objects(base: list[Obj], changed: list[Obj]) -> list[Obj]:
    """`base` with each object of `changed` added or put in place of the one with the same key."""
    by_key = {object_key(o): o for o in base}
    for obj in changed:
        by_key[object_key(obj)] = obj
    return list(by_key.values())
