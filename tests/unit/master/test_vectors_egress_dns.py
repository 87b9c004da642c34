"""openshift-sdn's egress DNS vectors (`pkg/network/common/egress_dns_test.go` TestSync, `dns.go`
doOneQuery's TTL and `dns_test.go`) against the master's `osdn.master.egressdns`.

TestSync: domain1.com (policies in fake-ns-1 and fake-ns-3) answers in 50 ms with TTL 1 s and then a
second address; domain2.com (fake-ns-2) takes 3.5 s. Expected: two updates for fake-ns-1/fake-ns-3
before the one for fake-ns-2. Here the slow query is held on an event instead of a delay, and the
clock is fake: nothing depends on timing.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any, cast

import pytest

from osdn.master.egressdns import EgressDNSController, answer_ttl, next_query_in
from osdn.model.egress_firewall import RESOLVED_ANNOTATION

DEADLINE = 30.0


def enp(ns: str, name: str) -> dict[str, Any]:
    return {"kind": "EgressNetworkPolicy", "metadata": {"name": "enp", "namespace": ns},
            "spec": {"egress": [{"type": "Allow", "to": {"dnsName": name}}]}}


class Informer:
    def __init__(self, objs: list[dict[str, Any]]) -> None:
        self.objs = objs

    def items(self) -> list[dict[str, Any]]:
        return self.objs

    def on(self, kind: str, handler: Any) -> Informer:
        return self


class Client:
    def __init__(self, informer: Informer) -> None:
        self.informer = informer

    def patch(self, kind: str, name: str, patch: dict[str, Any], namespace: str = "") -> None:
        obj = next(o for o in self.informer.objs if o["metadata"]["namespace"] == namespace)
        obj["metadata"].setdefault("annotations", {}).update(patch["metadata"]["annotations"])


def published(inf: Informer, ns: str) -> dict[str, list[str]]:
    obj = next(o for o in inf.objs if o["metadata"]["namespace"] == ns)
    return json.loads(obj["metadata"].get("annotations", {}).get(RESOLVED_ANNOTATION, "{}"))


def run_until(ctl: EgressDNSController, done: Callable[[], bool]) -> None:
    """Run rounds (as the controller's wake-ups would) until `done`, with a generous deadline."""
    deadline = time.monotonic() + DEADLINE
    while not done():
        assert time.monotonic() < deadline, "condition not reached"
        ctl.round()
        time.sleep(0.01)


def test_sync_slow_name_does_not_hold_back_the_others() -> None:
    release = threading.Event()
    domain1 = [(("1.1.1.1",), 1), (("1.1.1.1", "1.1.1.2"), 1)]

    def resolve(name: str) -> tuple[tuple[str, ...], int]:
        if name == "domain2.com":
            assert release.wait(DEADLINE)
            return ("1.2.3.4",), 1
        return domain1.pop(0) if len(domain1) > 1 else domain1[0]

    now = [0.0]
    inf = Informer([enp("fake-ns-1", "domain1.com"), enp("fake-ns-2", "domain2.com"), enp("fake-ns-3", "domain1.com")])
    ctl = EgressDNSController(cast(Any, Client(inf)), cast(Any, inf), resolve, clock=lambda: now[0])
    ctl.prepare()
    try:
        run_until(ctl, lambda: published(inf, "fake-ns-1") == published(inf, "fake-ns-3")
                  == {"domain1.com": ["1.1.1.1"]})
        now[0] = 1.0           # domain1's TTL has passed; domain2 is still being asked
        run_until(ctl, lambda: published(inf, "fake-ns-1") == published(inf, "fake-ns-3")
                  == {"domain1.com": ["1.1.1.1", "1.1.1.2"]})
        assert published(inf, "fake-ns-2") == {}
        release.set()
        run_until(ctl, lambda: published(inf, "fake-ns-2") == {"domain2.com": ["1.2.3.4"]})
    finally:
        release.set()
        ctl.stop()


@pytest.mark.parametrize(("ttls", "expected"), [
    ((600,), 600),               # A 600: re-queried after 30 s (next_query_in)
    ((200, 600), 200),           # CNAME 200 + A 600: the smallest of the whole answer
    ((0,), 0),                   # "Test min TTL": 0 does not count -> the default 30 s
    ((0, 5), 5),
    ((10, 0), 10),
    ((), 0),
], ids=["a", "cname-and-a", "zero", "zero-and-5", "10-and-zero", "none"])
def test_answer_ttl_is_the_smallest_nonzero_of_the_answer(ttls: tuple[int, ...], expected: int) -> None:
    assert answer_ttl(ttls) == expected


@pytest.mark.parametrize(("ttls", "wait"), [((600,), 30.0), ((200, 600), 30.0), ((0,), 30.0), ((10, 0), 10.0),
                                            ((2,), 2.0), ((29,), 29.0), ((1800,), 30.0),
                                            ((5,), 5.0), ((500,), 30.0)])   # TestUpdateDNS: 5 -> 0, 600 -> 500
def test_requery_interval_of_an_answer(ttls: tuple[int, ...], wait: float) -> None:
    """doOneQuery starts from 30 s and only lowers it; normalizeTTL then keeps anything below 30 min."""
    assert next_query_in(answer_ttl(ttls)) == wait
