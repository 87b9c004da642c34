"""Egress firewall on the node: compile (the reference's per-NetID rules), render (golden nft text,
order-insensitive where order has no meaning), the plan adding and deleting name sets in place, and
the DNS hold with a fake clock."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest
from node_builders import sample_intent
from test_node_render import normalize

from osdn.model import objects as o
from osdn.node.dnshold import DnsHold
from osdn.node.egress_firewall import (
    EgressFirewallIntent,
    FirewallProgram,
    FirewallRule,
    compute_egress_firewall,
    compute_node_firewall,
)
from osdn.node.fqdn import FqdnCache
from osdn.node.plan import plan, simulate
from osdn.node.render import render_node
from osdn.node.render.egress_firewall import (
    dns_set,
    render_egress_firewall_chains,
    render_egress_firewall_sets,
)
from osdn.node.render.ruleset import Ruleset, chains_text, sets_text

GOLDEN = Path(__file__).parent / "golden" / "egress_firewall.nft"


def enp(ns: str, rules: list[tuple[str, str]], name: str = "default", resolved: str = "") -> dict[str, object]:
    meta: dict[str, object] = {"name": name, "namespace": ns}
    if resolved:
        meta["annotations"] = {"network.osdn.io/dns-resolved": resolved}
    return {"kind": "EgressNetworkPolicy", "metadata": meta,
            "spec": {"egress": [{"type": t, "to": {"cidrSelector" if "/" in to else "dnsName": to}} for t, to in rules]}}


def netns(**netids: int) -> dict[str, o.NetNamespace]:
    return {ns: o.NetNamespace(ns, n, (), False) for ns, n in netids.items()}


SEED = [("Allow", "1.2.3.0/24"), ("Allow", "www.foo.com"), ("Deny", "0.0.0.0/0")]


def sample() -> EgressFirewallIntent:
    return compute_node_firewall(
        "multitenant",
        [enp("p1", SEED, resolved='{"www.foo.com": ["5.6.7.8", "5.6.7.9"]}'),
         enp("p2", [("Deny", "10.0.0.0/8"), ("Allow", "api.example.com"), ("Deny", "0.0.0.0/32")]),
         enp("j1", [("Deny", "0.0.0.0/0")]), enp("g", [("Deny", "0.0.0.0/0")])],
        netns(p1=11, p2=12, j1=13, j2=13, g=0),
        [("10.128.0.2", "p1"), ("10.128.0.3", "p2"), ("10.128.0.4", "j2"), ("10.128.0.5", "g"), ("10.128.0.6", "free")])


def test_golden() -> None:
    intent = sample()
    text = sets_text("inet", "osdn", render_egress_firewall_sets(intent)) + "\n" + \
        chains_text("inet", "osdn", render_egress_firewall_chains(intent)) + "\n"
    if os.environ.get("OSDN_UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    assert normalize(text) == normalize(GOLDEN.read_text())


def test_programs_follow_the_netid_as_the_reference() -> None:
    progs = {p.netid: p for p in sample().programs}
    assert sorted(progs) == [11, 12, 13], "NetID 0 (global) must be ignored"
    assert progs[13].drop_all.startswith("not allowed in shared NetNamespace (netid 13: j1, j2)")
    assert [(r.allow, r.cidr, r.dns_name) for r in progs[11].rules] == [
        (True, "1.2.3.0/24", None), (True, None, "www.foo.com"), (False, "0.0.0.0/0", None)]
    assert progs[12].rules[2].cidr == "0.0.0.0/0", "0.0.0.0/32 is corrected to 0.0.0.0/0"
    two = compute_egress_firewall([o.egress_firewall_from_obj(enp("p1", SEED)),
                                   o.egress_firewall_from_obj(enp("p1", SEED, name="second"))], {"p1": 11}, [], {})
    assert two.programs[0].drop_all == "multiple EgressNetworkPolicies in one netid"


def test_sources_are_local_pods_of_netids_with_a_program_and_names_carry_the_master_addresses() -> None:
    fw = sample()
    assert fw.sources == (("10.128.0.2", 11), ("10.128.0.3", 12), ("10.128.0.4", 13))
    assert dict(fw.names) == {"api.example.com": frozenset(), "www.foo.com": frozenset({"5.6.7.8", "5.6.7.9"})}
    assert fw.names_of("10.128.0.3") == {"api.example.com"} and fw.names_of("10.128.0.6") == frozenset()
    assert compute_node_firewall("subnet", [enp("p1", SEED)], netns(p1=11), [("10.128.0.2", "p1")]).programs == ()


def test_rule_order_is_the_chain_order_first_match_wins() -> None:
    chains = {c.name: c for c in render_egress_firewall_chains(sample())}
    assert chains["efw_11"].rules == ("ip daddr 1.2.3.0/24 counter accept",
                                      f"ip daddr @{dns_set('www.foo.com')} counter accept",
                                      "counter name drop_egress_firewall drop")
    assert chains["efw_13"].rules == ("counter name drop_egress_firewall drop",)


def test_nothing_is_rendered_without_a_program_and_subnet_mode_never_filters() -> None:
    base = sample_intent("networkpolicy")
    fw = sample()
    names = {c.name for t in render_node(replace(base, egress_firewall=fw)).tables for c in t.chains}
    assert {"egress_firewall", "efw_input", "efw_11"} <= names
    for intent in (base, replace(sample_intent("subnet"), egress_firewall=fw)):
        assert not [c for t in render_node(intent).tables for c in t.chains if c.name.startswith("efw")]


def test_a_new_dns_name_adds_its_set_in_place_and_a_b_a_is_identity() -> None:
    base = sample_intent("networkpolicy")
    a = render_node(replace(base, egress_firewall=sample()))
    prog = FirewallProgram(11, "x", (FirewallRule(0, True, None, "new.example.org"),))
    fw_b = replace(sample(), programs=(prog,), names=(("new.example.org", frozenset({"9.9.9.9"})),))
    b = render_node(replace(base, egress_firewall=fw_b))
    step = plan(b, a)
    assert step.replace == () and [s.set.name for s in step.add_sets] == [dns_set("new.example.org")]
    assert dns_set("www.foo.com") in [s.set.name for s in step.delete_sets]
    assert "delete set inet osdn " + dns_set("www.foo.com") in step.script()
    after = simulate(a, step)
    assert plan(b, after).is_empty()
    assert plan(a, simulate(after, plan(a, after))).is_empty()


def test_fqdn_cache_holds_for_ttl_with_a_floor_and_keeps_open_connections() -> None:
    cache = FqdnCache(min_hold=5.0)
    assert cache.learn("a.com", ["1.1.1.1"], ttl=1, now=100.0) == ("1.1.1.1",)
    assert cache.learn("a.com", ["1.1.1.1"], ttl=1, now=101.0) == (), "a held address needs no install"
    assert cache.addresses(105.5) == {"a.com": frozenset({"1.1.1.1"})}, "TTL 1 s is held at least 5 s"
    assert cache.addresses(106.1) == {"a.com": frozenset()}
    assert cache.addresses(106.1, live={"1.1.1.1"}) == {"a.com": frozenset({"1.1.1.1"})}
    assert cache.learn("a.com", ["2.2.2.2"], ttl=60, now=106.1) == ("2.2.2.2",)
    assert cache.expire(106.1, live=()) == 1 and cache.addresses(150.0) == {"a.com": frozenset({"2.2.2.2"})}
    assert cache.learn("a.com", ["1.1.1.1"], ttl=1, now=107.0) == ("1.1.1.1",), "expired: new again"
    assert cache.hold_time(0) == 5.0 and cache.hold_time(86400) == 1800.0


class FakeDataplane:
    """The dataplane's surface the hold uses: a lock, element adds (recorded), a namespace."""

    def __init__(self, fail: bool = False) -> None:
        import threading
        self.lock, self.netns, self.fail = threading.RLock(), None, fail
        self.added: list[dict[str, tuple[str, ...]]] = []

    def add_elements(self, family: str, elements: dict[str, tuple[str, ...]]) -> int:
        if self.fail:
            from osdn.errors import KernelError
            raise KernelError("nft: no such set")
        self.added.append(elements)
        return sum(map(len, elements.values()))


def test_hold_installs_before_returning_only_for_names_of_the_clients_project() -> None:
    now = [0.0]
    dp = FakeDataplane()
    hold = DnsHold(dp, clock=lambda: now[0])  # type: ignore[arg-type]
    hold.configure(sample())
    hold.on_answer("10.128.0.2", "www.foo.com.", ("5.6.7.10",), 1)
    assert dp.added == [{dns_set("www.foo.com"): ("5.6.7.10",)}]
    hold.on_answer("10.128.0.3", "www.foo.com.", ("5.6.7.11",), 1)  # p2 does not mention it
    hold.on_answer("10.128.0.3", "a.api.example.com.", ("7.7.7.6",), 30)  # a name below is another name
    hold.on_answer("10.128.0.3", "API.Example.com.", ("7.7.7.7",), 30)  # p2's name (case and final dot aside)
    hold.on_answer("10.128.0.2", "www.foo.com.", ("5.6.7.10",), 1)  # still held: nothing to do
    assert dp.added[1:] == [{dns_set("api.example.com"): ("7.7.7.7",)}]
    rs = render_node(replace(sample_intent("networkpolicy"), egress_firewall=sample()))
    sets = hold.overlay(rs).by_id()[("inet", "osdn")].set_by_name()
    assert sets[dns_set("www.foo.com")].elements == {"5.6.7.8", "5.6.7.9", "5.6.7.10"}
    now[0] = 31.0
    assert hold.overlay(rs) == rs, "expired answers leave at the next sync"
    off = DnsHold(dp, enabled=False)  # type: ignore[arg-type]
    off.configure(sample())
    off.on_answer("10.128.0.2", "www.foo.com.", ("5.6.7.99",), 1)
    assert len(dp.added) == 2, "with the hold off nothing is installed"


def test_hold_failure_raises_so_the_answer_becomes_servfail() -> None:
    hold = DnsHold(FakeDataplane(fail=True))  # type: ignore[arg-type]
    hold.configure(sample())
    with pytest.raises(Exception, match="no such set"):
        hold.on_answer("10.128.0.2", "www.foo.com", ("5.6.7.10",), 1)


def test_overlay_of_a_ruleset_without_the_table_is_unchanged() -> None:
    hold = DnsHold(FakeDataplane())  # type: ignore[arg-type]
    hold.cache.learn("www.foo.com", ["1.2.3.4"], 5, 0.0)
    assert hold.overlay(Ruleset()) == Ruleset()


def test_a_run_of_same_action_rules_is_one_lookup_and_everything_after_0_0_0_0_is_unreachable() -> None:
    rules = (FirewallRule(0, False, "192.0.2.0/24"), FirewallRule(1, False, "192.0.3.0/24"),
             FirewallRule(2, False, None, "bad.example.com"), FirewallRule(3, True, "198.51.100.7/32"),
             FirewallRule(4, True, "0.0.0.0/0"), FirewallRule(5, False, "203.0.113.0/24"))
    fw = EgressFirewallIntent((FirewallProgram(20, "x", rules),), (("10.128.0.9", 20),),
                              (("bad.example.com", frozenset()),))
    chain = next(c for c in render_egress_firewall_chains(fw) if c.name == "efw_20")
    assert chain.rules == ("ip daddr @efw_20_0 counter name drop_egress_firewall drop",
                           f"ip daddr @{dns_set('bad.example.com')} counter name drop_egress_firewall drop",
                           "counter accept")
    sets = {s.name: s for s in render_egress_firewall_sets(fw)}
    assert sets["efw_20_0"].elements == {"192.0.2.0/23"} and sets["efw_20_0"].flags == ("interval",)
    assert "efw_20_1" not in sets, "a run with one CIDR is inline"


def test_a_name_holds_at_most_max_addresses_dropping_the_soonest_to_expire() -> None:
    cache = FqdnCache(min_hold=5.0, max_addresses=3)
    cache.learn("www.evil.test", ["10.0.0.1"], ttl=100, now=0.0)
    cache.learn("www.evil.test", ["10.0.0.2"], ttl=10, now=0.0)
    cache.learn("www.evil.test", ["10.0.0.3"], ttl=50, now=0.0)
    assert cache.learn("www.evil.test", ["10.0.0.4", "10.0.0.5"], ttl=20, now=1.0) == ("10.0.0.4", "10.0.0.5")
    assert cache.addresses(2.0) == {"www.evil.test": frozenset({"10.0.0.1", "10.0.0.4", "10.0.0.5"})}
    big = cache.learn("www.evil.test", [f"10.1.0.{i}" for i in range(5)], ttl=1, now=3.0)
    assert len(big) == 5, "the answer being learned is never cut (it is installed)"
    assert cache.addresses(4.0)["www.evil.test"] == frozenset(f"10.1.0.{i}" for i in range(5))
