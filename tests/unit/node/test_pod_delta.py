"""`intent.pods` as the incremental compiler hands it over (`intent.Derived`): it says which pods left
and came since the previous tuple, and every consumer that follows it by that difference (the
incremental render, the VXLAN entry planner, the departed-IP tracking) ends where a from-scratch
computation ends, after any sequence of events (the compiler's own random worlds). Likewise the
render's set elements (`ruleset.DerivedSet`): the plan by their deltas equals the plan by comparison."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_incremental_compile import ATTACHMENTS, EVENT, HOST_SUBNETS, cn, facts_of
from test_incremental_render import EVENTS, World, apply, normalized

from osdn.node.agent import departed_addresses, moved_addresses
from osdn.node.fdb import FdbPlanner, compute_fdb
from osdn.node.incremental import IncrementalCompiler, object_key
from osdn.node.intent import ClusterPod, Derived, Policy, delta_from, derive
from osdn.node.plan import plan
from osdn.node.render import render_node
from osdn.node.render.incremental import IdentityDiff, IncrementalRender
from osdn.node.render.ruleset import Ruleset, derive_set, set_delta

Obj = dict[str, Any]


def test_deriving_drops_the_previous_link_and_a_skipped_tuple_compares_in_full() -> None:
    a, b, c = object(), object(), object()
    first = (a, b)
    second = derive((a, c), first, (b,), (c,))
    assert delta_from(second, first) == ((b,), (c,)) and second == (a, c)
    third = derive((c,), second, (a,), ())
    assert second.base is None and delta_from(third, second) == ((a,), ())
    assert delta_from(third, first) is None and delta_from((c,), second) is None


def test_identity_diff_follows_a_derived_tuple_and_falls_back_when_one_was_missed() -> None:
    a, b, c = object(), object(), object()
    diff: IdentityDiff[object] = IdentityDiff()
    first = (a, b)
    gone, new = diff.update(first)
    assert gone == [] and {id(x) for x in new} == {id(a), id(b)}
    second = derive((a, c), first, (b,), (c,))
    assert diff.update(second) == ([b], [c])
    skipped = derive((c,), second, (a,), ())
    after = derive((b, c), skipped, (), (b,))  # `skipped` never reached the diff: compared in full
    gone, new = diff.update(after)
    assert gone == [a] and new == [b]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mode=st.sampled_from(["multitenant", "networkpolicy", "subnet"]),
       events=st.lists(st.tuples(EVENT, ATTACHMENTS, st.integers(0, 3)), min_size=1, max_size=25))
def test_consumers_of_the_pod_delta_equal_a_from_scratch_computation(
        mode: str, events: list[tuple[tuple[str, Obj], Any, int]]) -> None:
    inc, render, planner = IncrementalCompiler(), IncrementalRender(), FdbPlanner()
    for obj in [cn(mode), *HOST_SUBNETS]:
        inc.update(obj["kind"], object_key(obj["kind"], obj)[1:], obj)
    prev: tuple[ClusterPod, ...] | None = None
    prev_policies: tuple[Policy, ...] = ()
    owners: dict[str, str] | None = None

    for rv, ((op, obj), atts, batch) in enumerate(events):
        obj = {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(rv)}}
        key = object_key(obj["kind"], obj)
        gone_obj = op == "delete" and obj["kind"] != "ClusterNetwork"
        inc.update(obj["kind"], key[1:], None if gone_obj else obj)
        if not batch and rv != len(events) - 1:
            continue
        try:
            intent = inc.compile(facts_of(atts))
        except Exception:  # a world without this node's HostSubnet: nothing to follow
            continue
        pods = intent.pods
        delta = delta_from(pods, prev)
        if delta is not None:

            assert prev is not None and isinstance(pods, Derived)
            kept = {id(p) for p in prev} - {id(g) for g in delta[0]}
            assert {id(g) for g in delta[0]} <= {id(p) for p in prev}
            assert not {id(n) for n in delta[1]} & kept
            assert kept | {id(n) for n in delta[1]} == {id(p) for p in pods}
        pol_delta = delta_from(intent.policies, prev_policies)
        if pol_delta is not None:  # the policies are handed over the same way: what left and came, by identity
            assert {id(p) for p in prev_policies} - {id(g) for g in pol_delta[0]} | {id(n) for n in pol_delta[1]} \
                == {id(p) for p in intent.policies}
            assert {id(g) for g in pol_delta[0]} <= {id(p) for p in prev_policies}
        prev_policies = intent.policies
        assert normalized(render.render(intent)) == normalized(render_node(intent))
        planner.update(pods, intent.nodes, intent.node_name, intent.node_ip)
        assert planner.want == compute_fdb(pods, intent.nodes, intent.node_name, intent.node_ip)
        now = {p.ip: p.owner for p in pods}
        if delta is not None and owners is not None:
            departed, changes = moved_addresses(owners, *delta)
            assert departed == departed_addresses(owners, now)
            for ip, owner in changes.items():
                if owner is None:
                    owners.pop(ip, None)
                else:
                    owners[ip] = owner
            assert owners == now
        owners, prev = dict(now), pods


def test_one_pod_change_is_handed_over_as_one_pod_gone_and_one_new() -> None:
    inc = IncrementalCompiler()
    for obj in [cn("networkpolicy"), *HOST_SUBNETS]:
        inc.update(obj["kind"], object_key(obj["kind"], obj)[1:], obj)

    def put(name: str, ip: str, node: str) -> None:
        pod = {"kind": "Pod", "metadata": {"name": name, "namespace": "a", "resourceVersion": f"{name}{ip}{node}"},
               "spec": {"nodeName": node, "containers": [{"name": "c", "image": "x"}]}, "status": {"podIP": ip}}
        inc.update("Pod", ("a", name), pod)

    put("p", "10.128.0.2", "n1")
    put("q", "10.128.2.2", "n2")
    facts = facts_of([])
    first = inc.compile(facts).pods
    put("q", "10.128.2.3", "n2")  # q moves to another IP
    second = inc.compile(facts).pods
    delta = delta_from(second, first)
    assert delta is not None
    assert [p.ip for p in delta[0]] == ["10.128.2.2"] and [p.ip for p in delta[1]] == ["10.128.2.3"]
    assert inc.compile(facts).pods is second  # nothing changed: the same tuple


def plain(rs: Ruleset) -> Ruleset:
    """`rs` with every set's elements a plain frozenset (no delta to take a shortcut by)."""
    return Ruleset(tuple(replace(t, sets=tuple(replace(s, elements=frozenset(s.elements)) for s in t.sets))
                         for t in rs.tables))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=st.lists(EVENTS, min_size=1, max_size=25))
def test_the_plan_by_set_deltas_equals_the_plan_by_comparing_elements(events: list[tuple[Any, ...]]) -> None:
    world, inc = World(), IncrementalRender()
    before = inc.render(world.intent())
    for ev in events:
        apply(world, ev)
        after = inc.render(world.intent())
        assert plan(after, before) == plan(plain(after), plain(before)), ev
        before = after


def test_a_union_hands_out_each_set_derived_from_the_last() -> None:
    a = derive_set({"x", "y"}, frozenset({"x", "z"}), frozenset({"z"}), frozenset({"y"}))
    assert set_delta(a, frozenset({"x", "z"})) == ({"z"}, {"y"})  # another object: compared in full
    b = derive_set({"y"}, a, frozenset({"x"}), frozenset())
    assert a.base is None and set_delta(b, a) == (frozenset({"x"}), frozenset())
