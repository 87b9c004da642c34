"""NetID allocator, namespace registry and the change-network annotation (reference vectors)."""

import random

import pytest

from osdn.errors import OsdnError
from osdn.model.netid import (
    MAX_VNID,
    MIN_VNID,
    NetIDAllocator,
    NetIDRegistry,
    compute_network_change,
    parse_change_network,
)
from osdn.model.sdnconfig import Mode

FULL = MAX_VNID - MIN_VNID + 1


@pytest.mark.parametrize("lo,hi,text,free", [(201, 300, "201-300", 100), (10, 10, "10-10", 1),
                                             (MIN_VNID, MAX_VNID, "10-16777215", FULL)], ids=str)
def test_new_netid_range(lo, hi, text, free):
    alloc = NetIDAllocator(lo, hi)
    assert (str(alloc), alloc.free()) == (text, free)


@pytest.mark.parametrize("lo,hi,needle", [(100, 99, "invalid netid size"), (1, 100, "invalid netid base"),
                                          (10, 1 << 25, "exceeded max value")], ids=str)
def test_invalid_netid_ranges(lo, hi, needle):
    with pytest.raises(OsdnError, match=needle):
        NetIDAllocator(lo, hi)


def test_allocator_errors_and_reuse():
    alloc = NetIDAllocator(10, 12)
    assert [alloc.allocate_next() for _ in range(3)] == [10, 11, 12]
    with pytest.raises(OsdnError, match="^range is full$"):
        alloc.allocate_next()
    with pytest.raises(OsdnError, match="^provided netid is not in the valid range$"):
        alloc.allocate(9)
    with pytest.raises(OsdnError, match="^provided netid is already allocated$"):
        alloc.allocate(11)
    alloc.release(11)
    alloc.release(11)             # no-op
    alloc.release(5000)           # out of range: no-op
    assert alloc.free() == 1 and alloc.allocate_next() == 11


def test_random_choice_is_injected_and_reproducible():
    a = NetIDAllocator(rng=random.Random(7))
    b = NetIDAllocator(rng=random.Random(7))
    ids_a = [a.allocate_next() for _ in range(50)]
    assert ids_a == [b.allocate_next() for _ in range(50)]
    assert len(set(ids_a)) == 50 and ids_a != sorted(ids_a)
    assert all(MIN_VNID <= i <= MAX_VNID for i in ids_a)


def test_random_allocation_fills_small_range_exactly():
    alloc = NetIDAllocator(10, 60, rng=random.Random(1))
    assert sorted(alloc.allocate_next() for _ in range(51)) == list(range(10, 61))


def test_ten_thousand_namespaces_is_fast():
    reg = NetIDRegistry()
    for i in range(10_000):
        reg.assign(f"ns{i}")
    for i in range(0, 10_000, 2):
        reg.release(f"ns{i}")
    for i in range(5_000):
        reg.assign(f"new{i}")
    assert reg.allocator.free() == FULL - 10_000
    assert len(set(reg.items().values())) == 10_000


def counts(reg):
    return len(reg), FULL - reg.allocator.free()


def test_master_vnid_map_scenario():
    """openshift-sdn master/vnids_test.go TestMasterVNIDMap."""
    reg = NetIDRegistry()
    assert counts(reg) == (0, 0)
    assert reg.assign("default") == (0, True)
    _, created = reg.assign("alpha")
    assert created and not reg.assign("alpha")[1]
    reg.assign("bravo")
    reg.assign("charlie")
    assert counts(reg) == (4, 3)

    mt = Mode.MULTITENANT
    assert compute_network_change(reg, "alpha", "join:bravo", mt).error is None
    assert compute_network_change(reg, "alpha", "join:bogus", mt).error == 'netid not found for namespace "bogus"'
    assert compute_network_change(reg, "bogus", "join:alpha", mt).error == 'netid not found for namespace "bogus"'
    assert counts(reg) == (4, 2)

    for ns in ("alpha", "charlie"):
        assert compute_network_change(reg, ns, "global", mt).netid == 0
    assert compute_network_change(reg, "bogus", "global", mt).error
    assert counts(reg) == (4, 1)

    assert compute_network_change(reg, "alpha", "isolate", mt).netid not in (0, reg.netid_of("bravo"))
    bravo = reg.netid_of("bravo")
    assert compute_network_change(reg, "bravo", "isolate", mt).netid == bravo   # sole owner keeps it
    assert compute_network_change(reg, "bogus", "isolate", mt).error
    assert counts(reg) == (4, 2)

    for ns in ("alpha", "bravo", "charlie", "default"):
        reg.release(ns)
    with pytest.raises(OsdnError, match='netid not found for namespace "bogus"'):
        reg.release("bogus")
    assert counts(reg) == (0, 0)


def test_joined_netid_is_released_only_by_last_user():
    reg = NetIDRegistry()
    a, _ = reg.assign("a")
    reg.assign("b")
    compute_network_change(reg, "b", "join:a", Mode.MULTITENANT)
    assert reg.netid_of("b") == a and reg.users(a) == 2
    reg.release("a")
    assert reg.allocator.has(a)
    reg.release("b")
    assert not reg.allocator.has(a)


def test_load_tolerates_duplicates_and_then_allocates_around_them():
    reg = NetIDRegistry()
    warnings = reg.load([("default", 0), ("a", 10), ("b", 10), ("c", 12), ("weird", 5)])
    assert warnings == ["NetNamespace 'weird': netid 5 is outside 10-16777215"]
    assert counts(reg) == (5, 2)
    assert reg.assign("d") == (11, True)
    assert reg.assign("e") == (13, True)
    reg.release("a")
    assert reg.allocator.has(10)


@pytest.mark.parametrize("value,error,remove", [
    ("join", "invalid namespace for join pod network: join", False),
    ("join:", "invalid namespace for join pod network: join:", False),
    ("join:a:b", "invalid namespace for join pod network: join:a:b", False),
    ("merge", "invalid ChangePodNetworkAnnotation: merge", False),
], ids=str)
def test_malformed_annotation_keeps_annotation(value, error, remove):
    reg = NetIDRegistry()
    reg.assign("a")
    change = compute_network_change(reg, "a", value, Mode.MULTITENANT)
    assert (change.error, change.remove_annotation, change.netid) == (error, remove, None)


def test_isolate_default_is_refused():
    reg = NetIDRegistry()
    reg.assign("default")
    change = compute_network_change(reg, "default", "isolate", Mode.MULTITENANT)
    assert change.error == 'network isolation for namespace "default" is not allowed'
    assert reg.netid_of("default") == 0


@pytest.mark.parametrize("mode", [Mode.NETWORKPOLICY, Mode.SUBNET], ids=str)
def test_renumbering_refused_outside_multitenant_and_annotation_removed(mode):
    reg = NetIDRegistry()
    reg.assign("a")
    before = reg.items()
    change = compute_network_change(reg, "a", "global", mode)
    assert change.error == "network plugin does not allow NetNamespace renumbering"
    assert change.remove_annotation and reg.items() == before


def test_join_global_namespace_yields_zero_and_isolating_lone_global_allocates():
    reg = NetIDRegistry()
    reg.assign("default")
    reg.assign("a")
    assert compute_network_change(reg, "a", "join:default", Mode.MULTITENANT).netid == 0
    assert counts(reg) == (2, 0)
    reg.release("default")
    change = compute_network_change(reg, "a", "isolate", Mode.MULTITENANT)
    assert change.netid and change.netid >= MIN_VNID


def test_parse_change_network():
    assert parse_change_network("global")[0].value == "global"
    assert parse_change_network("join:x") [1] == "x"
    assert parse_change_network("isolate")[0].value == "isolate"
