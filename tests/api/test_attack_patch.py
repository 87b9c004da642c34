"""Strategic merge patches a tenant sends to stall the server: long lists that upstream's algorithms
scan once per item (`deduplicateScalars`, `findMapInSliceBasedOnKeyValue`) or order by insertion sort.

In Python those costs were quadratic and cubic: 2,000 finalizers with one duplicate took 1.3 s, 2,000
with `$setElementOrder/finalizers: []` more than 20 s, and 100,000 (a 2 MB body) would have held the
event loop, so every client, for hours. The check that no finalizer is added to an object being
deleted also built the old list once per new finalizer (60,000 x 2,000: 15 s). The server now finds the same results from lookup tables and
linear passes; the reference functions below are upstream's algorithms as osdn ran them before, and
the new ones must agree with them on every input.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from osdn.api import strategic
from tests.conftest import ServerProc, module_server

NS = "p-mallory"
STRATEGIC = {"Content-Type": "application/strategic-merge-patch+json"}
N = 30_000   # about 600 KB of patch: many minutes before, a few seconds now

srv = module_server("attack-patch")


@pytest.fixture(scope="module")
def mallory(srv: ServerProc) -> Iterator[httpx.Client]:
    with srv.http() as admin:
        token = admin.post("/osdn/v1/tokens", json={"user": "mallory", "groups": []}).json()["token"]
    with srv.http(token=token) as client:
        client.timeout = httpx.Timeout(120)   # the old code needed hours; no timing is asserted
        r = client.post("/apis/project.openshift.io/v1/projects",
                        json={"apiVersion": "v1", "kind": "Project", "metadata": {"name": NS}})
        assert r.status_code == 201, r.text
        yield client


def finalizers(n: int) -> list[str]:
    return [f"f{i}.example.com/x" for i in range(n)]


@pytest.mark.parametrize(("name", "meta"), [
    ("duplicate", {"finalizers": [*finalizers(N), "f0.example.com/x"]}),
    ("empty-order", {"$setElementOrder/finalizers": [], "finalizers": finalizers(N)}),
], ids=["duplicate", "empty-order"])
def test_long_finalizer_lists_are_merged_in_linear_time(mallory: httpx.Client, name: str,
                                                        meta: dict[str, Any]) -> None:
    path = f"/api/v1/namespaces/{NS}/configmaps"
    r = mallory.post(path, json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": name, "finalizers": finalizers(2_000)[::-1]}})
    assert r.status_code == 201, r.text
    r = mallory.patch(f"{path}/{name}", content=json.dumps({"metadata": meta}), headers=STRATEGIC,
                      params={"dryRun": "All"})
    assert r.status_code == 200, r.text
    got = r.json()["metadata"].get("finalizers", [])
    assert len(got) == len(set(got))
    assert len(got) == N   # the 2,000 there are among them


def test_long_container_lists_are_merged_by_key_in_linear_time(mallory: httpx.Client) -> None:
    path = f"/apis/apps/v1/namespaces/{NS}/deployments"
    containers = [{"name": f"c{i}", "image": "i"} for i in range(3)]
    r = mallory.post(path, json={"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {
        "replicas": 0, "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": containers}}}})
    assert r.status_code == 201, r.text
    many = [{"name": f"n{i}", "image": "j"} for i in range(N // 2)]
    spec = {"$setElementOrder/containers": [{"name": c["name"]} for c in many[::-1]],
            "containers": [*many[::-1], {"name": "c1", "$patch": "delete"}]}
    r = mallory.patch(f"{path}/web", content=json.dumps({"spec": {"template": {"spec": spec}}}), headers=STRATEGIC,
                      params={"dryRun": "All"})
    assert r.status_code == 200, r.text
    names = [c["name"] for c in r.json()["spec"]["template"]["spec"]["containers"]]
    assert len(names) == N // 2 + 2 and "c1" not in names


# ---- the new algorithms agree with upstream's -------------------------------------------------

def reference_dedupe(items: list[Any]) -> list[Any]:
    """upstream's deduplicateScalars, line by line."""
    s, length, i = list(items), len(items) - 1, 0
    while i < length:
        j = i + 1
        while j <= length:
            if s[i] == s[j]:
                s[j] = s[length]
                s = s[:length]
                length -= 1
                j -= 1
            j += 1
        i += 1
    return s


def reference_insertion_sort(items: list[Any], ranks: list[int]) -> list[Any]:
    """Insertion sort with upstream's partial comparator (unranked items: rank < 0)."""
    s = list(zip(ranks, range(len(items)), strict=True))
    for i in range(1, len(s)):
        j = i
        while j > 0 and (s[j][0] < s[j - 1][0] if s[j][0] >= 0 and s[j - 1][0] >= 0 else True):
            s[j], s[j - 1] = s[j - 1], s[j]
            j -= 1
    return [items[t] for _, t in s]


def reference_server_view(original: list[Any], patch: list[Any], key: str) -> list[Any]:
    """The live Go slice as upstream leaves it: deletions shift in place, additions fill the freed slots."""
    def find(items: list[Any], value: Any) -> int:
        return next((i for i, item in enumerate(items) if key in item and item[key] == value), -1)
    backing, n = list(original), len(original)
    for item in patch:
        if item.get("$patch") == "delete":
            while (i := find(backing[:n], item.get(key))) >= 0:
                backing[i:n - 1] = backing[i + 1:n]
                n -= 1
    for item in patch:
        if "$patch" not in item and find(backing[:n], item.get(key)) < 0:
            if n == len(original):
                break
            backing[n] = item
            n += 1
    return backing


SMALL = st.integers(0, 6)


@settings(max_examples=400, derandomize=True, deadline=None)
@given(st.lists(SMALL, max_size=14))
def test_dedupe_agrees_with_upstream(items: list[int]) -> None:
    assert strategic._dedupe(items) == reference_dedupe(items)


@settings(max_examples=400, derandomize=True, deadline=None)
@given(st.lists(st.integers(-1, 5), max_size=14))
def test_ordering_agrees_with_upstreams_insertion_sort(ranks: list[int]) -> None:
    items = [f"x{i}" for i in range(len(ranks))]
    assert strategic._insertion_sorted(items, ranks) == reference_insertion_sort(items, ranks)


ITEM = st.one_of(st.fixed_dictionaries({"name": SMALL}),
                 st.fixed_dictionaries({"name": SMALL, "$patch": st.just("delete")}),
                 st.fixed_dictionaries({"$patch": st.just("delete")}), st.just({"other": 1}))


@settings(max_examples=400, derandomize=True, deadline=None)
@given(st.lists(st.one_of(st.fixed_dictionaries({"name": SMALL}), st.just({"other": 2})), max_size=10),
       st.lists(ITEM, max_size=10))
def test_server_view_agrees_with_upstream(original: list[Any], patch: list[Any]) -> None:
    assert strategic._server_view(original, patch, "name") == reference_server_view(original, patch, "name")
