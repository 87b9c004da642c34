"""Plan: element-level diffs for churn, whole-table replace for shape changes, and the invariants
(re-plan after apply is empty; a -> b -> a is identity), on the kernel-free `simulate`."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st
from node_builders import intents, sample_intent, with_pod

from osdn.node.intent import ClusterPod, NetID, Policy, PolicyRule
from osdn.node.plan import Plan, plan, simulate
from osdn.node.render import render_node
from osdn.node.render.ruleset import Ruleset, Table


def state_of(rs: Ruleset) -> dict[tuple[str, str], tuple[object, dict[str, frozenset[str]]]]:
    """Comparable kernel state: table shapes plus every set's elements."""
    return {tid: (t.shape(), {s.name: s.elements for s in t.sets}) for tid, t in rs.by_id().items()}


def test_same_intent_plans_nothing() -> None:
    rs = render_node(sample_intent("networkpolicy"))
    assert plan(rs, rs).is_empty()


def test_empty_kernel_gets_both_tables() -> None:
    p = plan(render_node(sample_intent()), Ruleset())
    assert sorted((t.family, t.name) for t in p.replace) == [("bridge", "osdn"), ("inet", "osdn")]
    assert "delete table inet osdn" in p.script()


def test_new_pod_is_element_only() -> None:
    a = sample_intent("multitenant")
    b = with_pod(a, "10.128.0.9", "a", 10, veth="vh-x")
    p = plan(render_node(b), render_node(a))
    assert p.replace == () and p.remove == ()
    added = {(c.family, c.set): c.elements for c in p.add}
    assert added[("bridge", "pod_addrs")] == ('"vh-x" . 10.128.0.9 . 0a:58:0a:80:00:09',)
    assert added[("inet", "pod_netid")] == ("10.128.0.9 : 10",)
    assert "add element inet osdn pod_netid { 10.128.0.9 : 10 }" in p.script()


def test_netid_change_deletes_map_key_then_adds_new_value() -> None:
    a = sample_intent("multitenant")
    b = replace(a, pods=tuple(replace(p, netid=NetID(12)) if p.ip == "10.128.0.2" else p for p in a.pods))
    script = plan(render_node(b), render_node(a)).script()
    assert "delete element inet osdn pod_netid { 10.128.0.2 }" in script
    assert script.index("delete element inet osdn pod_netid") < script.index("add element inet osdn pod_netid")


def test_policy_shape_change_rewrites_only_its_namespace_chain() -> None:
    a = sample_intent("networkpolicy")
    pol = a.policies[0]
    b = replace(a, policies=(replace(pol, ingress_rules=pol.ingress_rules + (PolicyRule(all_peers=True),)),))
    p = plan(render_node(b), render_node(a))
    assert p.replace == () and p.add_chains == () and p.delete_chains == ()
    assert [(c.family, c.chain.name) for c in p.rewrite_chains] == [("inet", "np_in_a")]
    script = p.script()
    assert "flush chain inet osdn np_in_a" in script and "delete table" not in script


def test_first_policy_of_a_namespace_adds_its_chain_before_the_jumps_to_it() -> None:
    a = sample_intent("networkpolicy")
    b = replace(a, policies=a.policies + (Policy("b", "lock", frozenset({"10.128.0.4"})),))
    p = plan(render_node(b), render_node(a))
    assert p.replace == () and [c.chain.name for c in p.add_chains] == ["np_in_b"]
    script = p.script()
    assert "10.128.0.4 : jump np_in_b" in script
    assert script.index("chain np_in_b") < script.index("10.128.0.4 : jump np_in_b")
    back = plan(render_node(a), render_node(b))  # and the way back: jump removed, then the chain
    assert [c.chain.name for c in back.delete_chains] == ["np_in_b"]
    script = back.script()
    assert script.index("delete element inet osdn np_ingress_dispatch { 10.128.0.4 }") < script.index(
        "delete chain inet osdn np_in_b")


def test_mode_change_replaces_the_table() -> None:
    p = plan(render_node(sample_intent("networkpolicy")), render_node(sample_intent("multitenant")))
    assert [(t.family, t.name) for t in p.replace] == [("inet", "osdn")]


def test_a_foreign_rule_in_our_chain_is_flushed_away() -> None:
    want = render_node(sample_intent("multitenant"))
    inet = want.by_id()[("inet", "osdn")]
    tampered = replace(inet, chains=tuple(replace(c, rules=(*c.rule_keys(), "<foreign handle 99>"), observed=True)
                                          if c.name == "forward" else c for c in inet.chains))
    p = plan(want, Ruleset((tampered, want.by_id()[("bridge", "osdn")])))
    assert p.replace == () and [c.chain.name for c in p.rewrite_chains] == ["forward"]


def test_table_not_desired_is_deleted() -> None:
    stray = Ruleset((Table("ip", "osdn"),))
    assert plan(Ruleset(), stray) == Plan(delete=(("ip", "osdn"),))


@settings(max_examples=60, deadline=None)
@given(intents(), intents())
def test_replan_after_apply_is_empty_and_a_b_a_is_identity(a, b) -> None:  # type: ignore[no-untyped-def]
    ra, rb = render_node(a), render_node(b)
    after_b = simulate(ra, plan(rb, ra))
    assert plan(rb, after_b).is_empty()
    assert state_of(after_b) == state_of(rb)
    back = simulate(after_b, plan(ra, after_b))
    assert plan(ra, back).is_empty()
    assert state_of(back) == state_of(ra)


@settings(max_examples=60, deadline=None)
@given(intents(), st.integers(200, 250))
def test_pod_churn_never_replaces_a_table(a, last_octet) -> None:  # type: ignore[no-untyped-def]
    ip = f"10.128.1.{last_octet}"
    b = with_pod(a, ip, "a", 10, veth=f"vh-n{last_octet}")
    b = replace(b, pods=b.pods + (ClusterPod(f"10.128.3.{last_octet}", "b", NetID(0), "n2"),))
    for x, y in ((a, b), (b, a)):
        p = plan(render_node(y), render_node(x))
        assert p.replace == () and p.delete == ()
