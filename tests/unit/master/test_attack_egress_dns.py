"""A dnsName whose answers its owner controls, against the master's EgressDNS: thousands of
addresses per name are published capped, so a policy's annotation stays under the API's 256 KiB
(before, 50 such names made every patch of the annotation fail and no name was published)."""

from __future__ import annotations

import json

from test_egress_dns import FakeClient, FakeInformer, FakeInformers, policy, published

from osdn.api.objects import TOTAL_ANNOTATION_SIZE
from osdn.master.egressdns import MAX_ADDRESSES, EgressDNSController
from osdn.model.egress_firewall import RESOLVED_ANNOTATION

NAMES = [f"n{i:02d}." + "x" * 60 + ".tenant.example.com" for i in range(50)]  # a policy holds at most 50 rules


def resolve(name: str) -> tuple[tuple[str, ...], int]:
    return tuple(f"198.{18 + i // 65536}.{i // 256 % 256}.{i % 256}" for i in range(4000, 0, -1)), 30


def test_thousands_of_addresses_per_name_fit_the_annotation() -> None:
    inf = FakeInformer([policy("p1", *NAMES)])
    ctl = EgressDNSController(FakeClient(inf), FakeInformers(inf), resolve, clock=lambda: 0.0)  # type: ignore[arg-type]
    ctl.round()
    got = published(inf, "p1")
    assert sorted(got) == sorted(NAMES)
    assert all(len(v) == MAX_ADDRESSES for v in got.values())
    lowest = {f"198.18.{i // 256}.{i % 256}" for i in range(1, MAX_ADDRESSES + 1)}
    assert set(got[NAMES[0]]) == lowest, "the numerically lowest addresses: the same set at every query"
    annotation = inf.objs[0]["metadata"]["annotations"][RESOLVED_ANNOTATION]
    assert len(RESOLVED_ANNOTATION) + len(annotation) < TOTAL_ANNOTATION_SIZE
    assert json.loads(annotation) == got
