"""A name whose DNS answers a tenant controls, against the DNS hold: each answer carrying ~4,000
fresh addresses. The cache forgets old ones (its cap), but only a sync takes them out of the kernel;
between syncs a name may now add at most `max_added` elements, then its answers fail (SERVFAIL)
without being learned, so a repeat of a refused answer is refused too, never released unheld."""

from __future__ import annotations

from dataclasses import replace

import pytest
from node_builders import sample_intent
from test_egress_firewall import FakeDataplane, sample

from osdn.node.dnshold import DnsHold, HoldFull
from osdn.node.render import render_node
from osdn.node.render.egress_firewall import dns_set

CLIENT, NAME = "10.128.0.2", "www.foo.com"  # a pod of p1, whose policy allows the name


def fresh(batch: int, n: int = 4000) -> tuple[str, ...]:
    return tuple(f"198.{18 + batch}.{i // 256}.{i % 256}" for i in range(n))


def test_fresh_addresses_per_name_are_bounded_between_syncs() -> None:
    dp = FakeDataplane()
    hold = DnsHold(dp, clock=lambda: 0.0)  # type: ignore[arg-type]
    hold.configure(sample())
    hold.on_answer(CLIENT, NAME + ".", fresh(0), 300)
    for _ in range(2):  # refused, and not learned: the same answer again is refused again
        with pytest.raises(HoldFull, match="www.foo.com: 4000 new addresses since the last sync"):
            hold.on_answer(CLIENT, NAME + ".", fresh(1), 300)
    assert sum(len(e[dns_set(NAME)]) for e in dp.added) == 4000
    assert len(hold.cache.entries[NAME]) == 4000
    hold.on_answer(CLIENT, NAME + ".", fresh(0)[:10], 300)  # already held: passes, adds nothing
    rs = render_node(replace(sample_intent("networkpolicy"), egress_firewall=sample()))
    hold.overlay(rs)  # a sync: the kernel's set is the cache's again
    hold.on_answer(CLIENT, NAME + ".", fresh(1), 300)
    assert sum(len(e[dns_set(NAME)]) for e in dp.added) == 8000
    assert len(hold.cache.entries[NAME]) == 4096, "the cache keeps its own cap"
