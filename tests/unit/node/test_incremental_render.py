"""The incremental render equals `render_node` after any sequence of intent changes, and re-renders only
what a change touched (counted in parts and chains, never timed)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from node_builders import base_intent, local_pod

from osdn.node.intent import ClusterPod, Mode, NetID, NodeIntent, Policy, PolicyRule, PortRange
from osdn.node.plan import plan
from osdn.node.render import render_node
from osdn.node.render.incremental import IncrementalRender
from osdn.node.render.ruleset import Ruleset
from osdn.node.services import ServiceEndpoint, ServiceVIP

NAMESPACES = ("a", "b", "c")
EVENT_NAMESPACES = NAMESPACES[:2]


def normalized(rs: Ruleset) -> tuple[object, ...]:
    """Sets and chains by name: their order inside a table means nothing to nft."""
    return tuple((t.family, t.name, t.counters, tuple(sorted(t.sets, key=lambda s: s.name)),
                  tuple(sorted(t.chains, key=lambda c: c.name))) for t in rs.tables)


def ip(i: int) -> str:
    return f"10.128.{i // 200}.{i % 200 + 2}"


@dataclass
class World:
    """The objects of an intent, kept as the compiler keeps them: unchanged ones are the same objects."""

    mode: Mode = "networkpolicy"
    pods: dict[str, ClusterPod] = field(default_factory=dict)
    local: dict[str, Any] = field(default_factory=dict)
    policies: dict[tuple[str, str], Policy] = field(default_factory=dict)
    services: dict[int, ServiceVIP] = field(default_factory=dict)

    def intent(self) -> NodeIntent:
        return base_intent(self.mode, pods=tuple(sorted(self.pods.values())),
                           local_pods=tuple(sorted(self.local.values())),
                           policies=tuple(self.policies[k] for k in sorted(self.policies)),
                           services=tuple(sorted(self.services.values())))


def policy(ns: str, name: str, targets: set[int], peers: set[int], port: int | None, egress: bool) -> Policy:
    rule = PolicyRule(peer_ips=frozenset(map(ip, peers)), all_ports=port is None,
                      ports=frozenset() if port is None else frozenset({PortRange("tcp", port, port)}))
    return Policy(ns, name, frozenset(map(ip, targets)), ingress=True, egress=egress, ingress_rules=(rule,),
                  egress_rules=(PolicyRule(all_peers=True),) if egress else ())


def service(k: int, endpoints: set[int], affinity: bool) -> ServiceVIP:
    eps = tuple(sorted(ServiceEndpoint(ip(e), 8080) for e in endpoints))
    return ServiceVIP(f"172.30.0.{k + 10}", "tcp", 80, f"ns/s{k}:http", eps, 60 if affinity and eps else None)


small = st.integers(0, 5)
EVENTS = st.one_of(
    st.tuples(st.just("pod"), small, st.sampled_from(EVENT_NAMESPACES), st.integers(0, 2)),
    st.tuples(st.just("unpod"), small),
    st.tuples(st.just("local"), small),
    st.tuples(st.just("policy"), st.sampled_from(EVENT_NAMESPACES), st.sampled_from(("p", "q")),
              st.sets(small, max_size=4), st.sets(small, max_size=4), st.sampled_from((None, 80)), st.booleans()),
    st.tuples(st.just("unpolicy"), st.sampled_from(EVENT_NAMESPACES), st.sampled_from(("p", "q"))),
    st.tuples(st.just("service"), st.integers(0, 4), st.sets(small, max_size=3), st.booleans()),
    st.tuples(st.just("unservice"), st.integers(0, 4)),
    st.tuples(st.just("mode"), st.sampled_from(("networkpolicy", "multitenant", "subnet"))),
)


def apply(world: World, ev: tuple[Any, ...]) -> None:
    kind = ev[0]
    if kind == "pod":
        world.pods[ip(ev[1])] = ClusterPod(ip(ev[1]), ev[2], NetID(10 + ev[3]), "n1")
    elif kind == "unpod":
        world.pods.pop(ip(ev[1]), None)
        world.local.pop(ip(ev[1]), None)
    elif kind == "local" and ip(ev[1]) in world.pods:
        if world.local.pop(ip(ev[1]), None) is None:
            world.local[ip(ev[1])] = local_pod(ip(ev[1]), f"vh{ev[1]}")
    elif kind == "policy":
        world.policies[(ev[1], ev[2])] = policy(*ev[1:])
    elif kind == "unpolicy":
        world.policies.pop((ev[1], ev[2]), None)
    elif kind == "service":
        world.services[ev[1]] = service(ev[1], ev[2], ev[3])
    elif kind == "unservice":
        world.services.pop(ev[1], None)
    elif kind == "mode":
        world.mode = ev[1]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=st.lists(EVENTS, min_size=1, max_size=25))
def test_incremental_render_equals_the_full_render_after_every_event(events: list[tuple[Any, ...]]) -> None:
    world, inc = World(), IncrementalRender()
    for ev in events:
        apply(world, ev)
        intent = world.intent()
        got = inc.render(intent)
        assert normalized(got) == normalized(render_node(intent)), ev


def big_world(mode: Mode = "networkpolicy") -> World:
    """600 pods in 3 namespaces (the first 60 local), 30 policies, 40 services."""
    w = World(mode=mode)
    for i in range(600):
        apply(w, ("pod", i, NAMESPACES[i % 3], i % 3))
    for i in range(60):
        apply(w, ("local", i))
    for k in range(30):
        ns = NAMESPACES[k % 3]
        targets = {i for i in range(k % 3, 600, 30)}
        w.policies[(ns, f"p{k}")] = policy(ns, f"p{k}", targets, {i for i in range(k % 3, 600, 7)}, 80, k % 2 == 0)
    for k in range(40):
        apply(w, ("service", k, {k, k + 1, k + 2}, k % 5 == 0))
    return w


def test_one_change_renders_only_what_it_touched() -> None:
    w, inc = big_world(), IncrementalRender()
    first = inc.render(w.intent())
    assert inc.last.full and inc.last.parts == 70 and inc.last.chains > 10
    assert not plan(inc.render(w.intent()), first).chains_changed() and inc.last.parts == inc.last.chains == 0

    before = inc.render(w.intent())
    w.policies[("b", "new")] = policy("b", "new", {1, 4}, {7}, 443, False)
    after = inc.render(w.intent())
    assert (inc.last.parts, inc.last.chains) == (1, 1), "one policy, its namespace's chain"
    todo = plan(after, before)
    assert [c.chain.name for c in todo.rewrite_chains] == ["np_in_b"] and todo.elements_added() == 5
    unchanged = {s.name for s in before.tables[0].sets if s.name.startswith(("np_", "svc_"))} - {
        c.set for c in todo.add + todo.remove}
    old, new = before.tables[0].set_by_name(), after.tables[0].set_by_name()
    assert unchanged and all(new[n].elements is old[n].elements for n in unchanged), "the plan skips them"

    apply(w, ("pod", 1000, "a", 0))  # a new pod no policy selects: nothing re-rendered for policies
    inc.render(w.intent())
    assert (inc.last.parts, inc.last.chains) == (0, 0)
    apply(w, ("local", 1000))  # it becomes local: the hairpin pair and bridge table of the local pods
    assert plan(inc.render(w.intent()), after).elements_added() == 3 and inc.last.parts == 0

    selected = sorted(k for k, p in w.policies.items() if ip(30) in p.targets)
    apply(w, ("pod", 30, "a", 0))  # a new object, nothing a policy reads changed: nothing re-rendered
    inc.render(w.intent())
    assert (inc.last.parts, inc.last.chains) == (0, 0)
    apply(w, ("pod", 30, "b", 0))  # a local target moves to another namespace: the policies selecting it
    inc.render(w.intent())
    assert inc.last.parts == len(selected) == 10 and inc.last.chains == 0

    before = inc.render(w.intent())
    apply(w, ("service", 3, {3, 4, 5, 6}, False))  # an endpoint change: the old and new part
    todo = plan(inc.render(w.intent()), before)
    assert inc.last.parts == 2 and inc.last.chains == 1, "svc_n4 is new"
    assert todo.elements_added() == 2 and todo.elements_removed() == 1  # dispatch re-pointed, one more slot


@pytest.mark.parametrize("mode", ["multitenant", "subnet"])
def test_one_pod_in_other_modes(mode: Mode) -> None:
    w, inc = big_world(mode), IncrementalRender()
    before = inc.render(w.intent())
    apply(w, ("pod", 1001, "c", 2))
    after = inc.render(w.intent())
    assert inc.last.parts == (1 if mode == "multitenant" else 0) and inc.last.chains == 0
    assert plan(after, before).elements_added() == (2 if mode == "multitenant" else 0)
    assert normalized(after) == normalized(render_node(w.intent()))


def test_a_render_that_fails_forgets_its_state() -> None:
    w, inc = big_world(), IncrementalRender()
    inc.render(w.intent())
    bad = replace(w.intent(), pods=(ClusterPod("not-an-ip", "a", NetID(1), "n1"),))
    with pytest.raises(ValueError):
        inc.render(bad)
    assert normalized(inc.render(w.intent())) == normalized(render_node(w.intent())) and inc.last.full


def test_a_part_handed_in_again_with_the_same_elements_keeps_the_sets() -> None:
    """A policy compiled again to an equal value (a new object: its namespace's pods changed, not what it
    selects) is rendered again, but no set changes: each stays the same object, which the plan skips."""
    w, inc = big_world(), IncrementalRender()
    before = inc.render(w.intent())
    key = ("b", "p1")
    w.policies[key] = replace(w.policies[key])
    after = inc.render(w.intent())
    assert inc.last.parts == 1
    old, new = before.tables[0].set_by_name(), after.tables[0].set_by_name()
    assert all(new[n].elements is old[n].elements for n in new if n.startswith(("np_", "svc_"))), "none rebuilt"
    w.policies[key] = policy("b", "p1", {1, 4}, {7, 8}, 443, False)  # now it does change: only its sets move
    todo = plan(inc.render(w.intent()), after)
    moved = {c.set for c in todo.add + todo.remove}
    rebuilt = {n for n, s in inc.render(w.intent()).tables[0].set_by_name().items()
               if n.startswith("np_") and s.elements is not new[n].elements}
    assert moved and rebuilt == moved
