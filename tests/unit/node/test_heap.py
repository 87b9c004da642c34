"""HeapFreezer: each settle collects the young generations and freezes the rest; every
`full_every`-th settle first unfreezes, so one full collection reclaims cyclic garbage among frozen
objects. A fake gc module records what it is asked; one test checks the real gc's freeze count."""

from __future__ import annotations

import gc
import logging

import pytest

from osdn.node.compile import NodeFacts, NoHostSubnetError
from osdn.node.heap import HeapFreezer
from osdn.node.intentsource import IntentSource


class FakeGc:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.frozen = 0

    def collect(self, generation: int = 2) -> int:
        self.calls.append(f"collect{generation}")
        return 0

    def freeze(self) -> None:
        self.calls.append("freeze")
        self.frozen += 1

    def unfreeze(self) -> None:
        self.calls.append("unfreeze")
        self.frozen = 0

    def get_freeze_count(self) -> int:
        self.calls.append("count")
        return self.frozen


def test_settle_freezes_survivors_and_unfreezes_every_full_every_th_time() -> None:
    fake = FakeGc()
    heap = HeapFreezer(fake, full_every=3)
    for _ in range(7):
        heap.settle()
    young, full = ["collect1", "freeze"], ["unfreeze", "collect2", "freeze"]
    assert fake.calls == young * 3 + full + young * 2 + full, "the young generations only, but every 3rd time"


def test_the_frozen_objects_are_counted_only_for_a_debug_log(caplog: pytest.LogCaptureFixture) -> None:
    """`gc.get_freeze_count` walks every frozen object (tens of ms at the agent's ~1M): not for nothing."""
    fake = FakeGc()
    with caplog.at_level(logging.INFO, logger="osdn.node.heap"):
        HeapFreezer(fake).settle()
    assert "count" not in fake.calls
    with caplog.at_level(logging.DEBUG, logger="osdn.node.heap"):
        HeapFreezer(fake).settle()
    assert fake.calls[-1] == "count" and "heap settled" in caplog.text


def test_a_full_sync_settles_the_heap_before_its_snapshot() -> None:
    fake, order = FakeGc(), []

    def snapshot() -> list[tuple[str, dict[str, object]]]:
        order.append(f"snapshot after {len(fake.calls)} gc calls")
        return []
    source = IntentSource(snapshot, heap=HeapFreezer(fake))
    with pytest.raises(NoHostSubnetError):  # nothing cached: the compile after the snapshot fails
        source.intent(NodeFacts("n1", "198.18.0.11", ()), full=True)
    assert order == ["snapshot after 2 gc calls"] and fake.calls == ["collect1", "freeze"]


def test_the_real_gc_keeps_frozen_objects_frozen() -> None:
    heap = HeapFreezer()
    try:
        keep = [[i] for i in range(1000)]
        heap.settle()
        assert gc.get_freeze_count() >= len(keep)
    finally:
        gc.unfreeze()
