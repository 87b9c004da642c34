"""Read the cluster state the model needs from a running server (the online forms of the analysis)."""

from __future__ import annotations

from typing import Any

from osdn.client import Client
from osdn.model.cluster import MODEL_KINDS

Obj = dict[str, Any]


def fetch_objects(client: Client) -> list[Obj]:
    objs: list[Obj] = []
    for kind in MODEL_KINDS:
        listing = client.list(kind)
        for item in listing["items"]:
            objs.append(item)
    return objs
