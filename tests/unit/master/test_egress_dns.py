"""The master's TTL-aware resolution of EgressNetworkPolicy dnsNames (fake resolver, clock and API)."""

from __future__ import annotations

import json
from typing import Any

import dns.exception
import pytest

from osdn.master.egressdns import EgressDNSController, desired_annotation, next_query_in, policy_names
from osdn.model.egress_firewall import RESOLVED_ANNOTATION


@pytest.mark.parametrize(("ttl", "wait"), [(None, 30.0), (0, 30.0), (1, 1.0), (29, 29.0), (30, 30.0),
                                           (300, 30.0), (86400, 30.0)])
def test_requery_after_min_ttl_30s(ttl: int | None, wait: float) -> None:
    assert next_query_in(ttl) == wait


def policy(ns: str, *names: str) -> dict[str, Any]:
    return {"kind": "EgressNetworkPolicy", "metadata": {"name": "default", "namespace": ns},
            "spec": {"egress": [{"type": "Allow", "to": {"dnsName": n}} for n in names]
                     + [{"type": "Deny", "to": {"cidrSelector": "0.0.0.0/0"}}]}}


def test_names_are_normalized_and_the_annotation_lists_only_resolved_names() -> None:
    obj = policy("p1", "WWW.foo.com.", "api.foo.com", "www.foo.com")
    assert policy_names(obj) == ["api.foo.com", "www.foo.com"]
    assert desired_annotation(obj, {"www.foo.com": ("5.6.7.9", "5.6.7.8")}) == {"www.foo.com": ["5.6.7.8", "5.6.7.9"]}


class FakeInformer:
    def __init__(self, objs: list[dict[str, Any]]) -> None:
        self.objs = objs

    def items(self) -> list[dict[str, Any]]:
        return self.objs


class FakeInformers:
    def __init__(self, informer: FakeInformer) -> None:
        self.informer = informer

    def on(self, kind: str, handler: Any) -> FakeInformer:
        return self.informer


class FakeClient:
    def __init__(self, informer: FakeInformer) -> None:
        self.informer = informer
        self.patches = 0

    def patch(self, kind: str, name: str, patch: dict[str, Any], namespace: str = "") -> None:
        obj = next(o for o in self.informer.objs if o["metadata"]["namespace"] == namespace)
        obj["metadata"].setdefault("annotations", {}).update(patch["metadata"]["annotations"])
        self.patches += 1


def published(inf: FakeInformer, ns: str) -> dict[str, list[str]]:
    obj = next(o for o in inf.objs if o["metadata"]["namespace"] == ns)
    return json.loads(obj["metadata"].get("annotations", {}).get(RESOLVED_ANNOTATION, "{}"))


def test_controller_resolves_on_ttl_keeps_old_addresses_on_failure_and_publishes_changes() -> None:
    answers: dict[str, Any] = {"www.foo.com": (("1.1.1.1",), 1), "api.foo.com": (("2.2.2.2",), 600)}
    asked: list[str] = []

    def resolve(name: str) -> tuple[tuple[str, ...], int]:
        asked.append(name)
        got = answers[name]
        if isinstance(got, Exception):
            raise got
        return got  # type: ignore[no-any-return]

    now = [0.0]
    inf = FakeInformer([policy("p1", "www.foo.com"), policy("p2", "www.foo.com", "api.foo.com")])
    client = FakeClient(inf)
    ctl = EgressDNSController(client, FakeInformers(inf), resolve, clock=lambda: now[0])  # type: ignore[arg-type]
    assert ctl.round() == 1.0, "the next query is due after the smallest TTL (1 s)"
    assert sorted(asked) == ["api.foo.com", "www.foo.com"], "each name is asked once, however many policies"
    assert published(inf, "p1") == {"www.foo.com": ["1.1.1.1"]}
    assert published(inf, "p2") == {"api.foo.com": ["2.2.2.2"], "www.foo.com": ["1.1.1.1"]}
    patches = client.patches
    now[0] = 1.0
    answers["www.foo.com"] = dns.exception.Timeout()
    asked.clear()
    assert ctl.round() == 1.0 and asked == ["www.foo.com"], "only the due name; a failure retries after its TTL"
    assert published(inf, "p1") == {"www.foo.com": ["1.1.1.1"]}, "a failed query keeps the old addresses"
    assert client.patches == patches, "nothing changed: nothing written"
    now[0] = 2.0
    answers["www.foo.com"] = (("3.3.3.3",), 0)
    ctl.round()
    assert published(inf, "p1") == {"www.foo.com": ["3.3.3.3"]}
    assert ctl.names["www.foo.com"].due == 32.0, "TTL 0 re-queries after 30 s"
    assert ctl.names["api.foo.com"].due == 30.0, "TTL 600 is re-queried after 30 s"
    inf.objs.pop()
    ctl.round()
    assert "api.foo.com" not in ctl.names, "a name no policy mentions is forgotten"
