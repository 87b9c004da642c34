"""The DNS server's worker queue serves clients in turn and bounds each one's share."""

from __future__ import annotations

import threading

from osdn.node.dns.fairqueue import FairQueue


def test_a_flooding_client_does_not_delay_another_one_behind_its_flood() -> None:
    q: FairQueue[str] = FairQueue(total=1000, per_key=500)
    for i in range(100):
        assert q.put("10.128.0.5", f"flood-{i}")
    assert q.put("10.128.1.7", "quiet")
    assert [q.get(), q.get(), q.get()] == ["flood-0", "quiet", "flood-1"]
    assert len(q) == 98


def test_keys_are_served_in_turn() -> None:
    q: FairQueue[str] = FairQueue(total=100, per_key=10)
    for key, n in (("a", 3), ("b", 2), ("c", 1)):
        for i in range(n):
            q.put(key, f"{key}{i}")
    assert [q.get() for _ in range(6)] == ["a0", "b0", "c0", "a1", "b1", "a2"]


def test_per_client_share_and_total_are_bounded() -> None:
    q: FairQueue[int] = FairQueue(total=5, per_key=3)
    assert [q.put("a", i) for i in range(4)] == [True, True, True, False]
    assert [q.put("b", i) for i in range(3)] == [True, True, False]  # the total is full
    assert len(q) == 5


def test_close_wakes_a_waiting_worker() -> None:
    q: FairQueue[int] = FairQueue(total=5, per_key=3)
    got: list[int | None] = []
    t = threading.Thread(target=lambda: got.append(q.get()))
    t.start()
    q.close()
    t.join(timeout=30)
    assert got == [None] and not q.put("a", 1)
