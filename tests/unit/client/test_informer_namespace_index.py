"""The informer's namespace index (`items(namespace)`) follows every add, update, delete and re-list,
so controllers read one namespace's pods without walking the cluster's."""

from __future__ import annotations

from typing import Any, cast

from osdn.client import Client, ClientConfig
from osdn.client.informer import Informer


def pod(ns: str, name: str, rv: int, **labels: str) -> dict[str, Any]:
    return {"kind": "Pod", "metadata": {"namespace": ns, "name": name, "resourceVersion": str(rv), "labels": labels}}


class ListingClient:
    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items

    def list(self, *_args: object) -> dict[str, Any]:
        return {"items": self.items, "metadata": {"resourceVersion": "100"}}


def names(informer: Informer, namespace: str | None = None) -> list[str]:
    return sorted(o["metadata"]["name"] for o in informer.items(namespace))


def test_items_of_a_namespace_follow_adds_updates_and_deletes() -> None:
    informer = Informer(ClientConfig(server="https://127.0.0.1:1", token="t"), "Pod")
    for i, (ns, name) in enumerate([("a", "p1"), ("a", "p2"), ("b", "p1")]):
        informer._apply({"type": "ADDED", "object": pod(ns, name, i)})
    assert names(informer, "a") == ["p1", "p2"] and names(informer, "b") == ["p1"]
    assert names(informer) == ["p1", "p1", "p2"] and informer.items("c") == []

    informer._apply({"type": "MODIFIED", "object": pod("a", "p2", 7, role="x")})
    assert [o["metadata"]["labels"] for o in informer.items("a") if o["metadata"]["name"] == "p2"] == [{"role": "x"}]

    informer._apply({"type": "DELETED", "object": pod("b", "p1", 8)})
    informer._apply({"type": "DELETED", "object": pod("a", "gone", 9)})  # never seen: nothing happens
    assert informer.items("b") == [] and names(informer, "a") == ["p1", "p2"]


def test_a_relist_replaces_the_index_with_the_listing() -> None:
    informer = Informer(ClientConfig(server="https://127.0.0.1:1", token="t"), "Pod")
    informer._apply({"type": "ADDED", "object": pod("a", "old", 1)})
    informer._relist(cast(Client, ListingClient([pod("a", "new", 2), pod("z", "p", 3)])), resync=False)
    assert names(informer, "a") == ["new"] and names(informer, "z") == ["p"]
    assert names(informer) == ["new", "p"]
