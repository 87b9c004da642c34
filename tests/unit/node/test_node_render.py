"""Render: golden text (order-insensitive where order has no meaning), structure and scale."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from node_builders import base_intent, intents, local_pod, sample_intent

from osdn.node.intent import ClusterPod, NetID, Policy, PolicyRule, PortRange, ipblock_cidrs
from osdn.node.render import policy, render_node, render_node_text
from osdn.node.render.elements import merge_ports, nets, proto_ports
from osdn.node.render.policy import policy_ids
from osdn.node.render.ruleset import Ruleset, Table

GOLDEN = Path(__file__).parent / "golden"


def normalize(text: str) -> list[list[str]]:
    """Blocks (counter/set/map/chain) sorted; elements sorted; rule order inside a chain kept."""
    blocks: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith("\t") and not line.startswith("\t\t") and line.strip() != "}":
            blocks.append([line.strip()])
        elif line.startswith("\t\t") and blocks:
            blocks[-1].append(line.strip().rstrip(","))
        elif line.startswith(("table", "add table", "delete table")):
            blocks.append([line.strip()])
    out = []
    for b in blocks:
        head = b[0]
        body = b[1:]
        if head.startswith(("set ", "map ")):
            flat = " ".join(body).replace("elements = {", "").replace("}", "")
            body = sorted(e.strip() for e in flat.split(",") if e.strip())
        out.append([head, *body])
    return sorted(out)


def table(rs: Ruleset, family: str) -> Table:
    return rs.by_id()[(family, "osdn")]


@pytest.mark.parametrize("mode", ["subnet", "multitenant", "networkpolicy"])
def test_golden(mode: str) -> None:
    text = render_node_text(sample_intent(mode))  # type: ignore[arg-type]
    path = GOLDEN / f"{mode}.nft"
    if os.environ.get("OSDN_UPDATE_GOLDEN"):
        path.write_text(text)
    assert normalize(text) == normalize(path.read_text())


@settings(max_examples=50, deadline=None)
@given(intents())
def test_render_is_deterministic(intent) -> None:  # type: ignore[no-untyped-def]
    assert render_node(intent) == render_node(intent)
    assert render_node_text(intent) == render_node_text(intent)


def test_antispoof_tuples_are_exactly_the_local_pods() -> None:
    rs = render_node(sample_intent())
    pod_addrs = table(rs, "bridge").set_by_name()["pod_addrs"].elements
    assert pod_addrs == {'"vh-a" . 10.128.0.2 . 0a:58:0a:80:00:02', '"vh-b" . 10.128.0.3 . 0a:58:0a:80:00:03',
                         '"vh-c" . 10.128.0.4 . 0a:58:0a:80:00:04'}


def test_multitenant_maps_every_cluster_pod_and_every_host() -> None:
    sets = table(render_node(sample_intent("multitenant")), "inet").set_by_name()
    assert sets["pod_netid"].elements == {"10.128.0.2 : 10", "10.128.0.3 : 10", "10.128.0.4 : 11",
                                          "10.128.2.2 : 0"}
    assert sets["pod_netid_pairs"].elements == {"10.128.0.2 . 10", "10.128.0.3 . 10", "10.128.0.4 . 11",
                                                "10.128.2.2 . 0"}
    assert sets["host_addrs"].elements == {"10.128.0.1", "10.128.2.1", "192.168.0.1", "192.168.0.2"}


def test_subnet_mode_only_antispoofs() -> None:
    rs = render_node(sample_intent("subnet"))
    inet = table(rs, "inet")
    assert [c.name for c in inet.chains if not c.name.startswith("svc_")] == ["forward", "postrouting"]
    assert not any("jump" in r for r in {c.name: c for c in inet.chains}["forward"].rules)
    bridge = table(rs, "bridge")
    assert [c.name for c in bridge.chains] == ["prerouting", "multicast", "forward", "output", "input",
                                               "hairpin_echo"]
    assert {s.name: s.elements for s in bridge.sets}["mc_src_netid"] == frozenset()  # no multicast in subnet mode


def test_policy_targets_and_dispatch_only_hold_local_pods() -> None:
    intent = sample_intent("networkpolicy")
    pol = intent.policies[0]
    remote_target = Policy(pol.namespace, pol.name, pol.targets | {"10.128.2.9"}, pol.ingress, pol.egress,
                           pol.ingress_rules, pol.egress_rules)
    sets = table(render_node(base_intent("networkpolicy", pods=intent.pods, local_pods=intent.local_pods,
                                         policies=(remote_target,))), "inet").set_by_name()
    pid = policy_ids((remote_target,))[("a", "allow-web")]
    assert sets["np_tgt"].elements == {f"{pid} . 10.128.0.2"}
    assert sets["np_ingress_dispatch"].elements == {"10.128.0.2 : jump np_in_a"}
    assert sets["np_egress_dispatch"].elements == {"10.128.0.2 : jump np_eg_a"}


def test_target_of_another_namespace_is_left_out_not_a_failed_render() -> None:
    """A stale API pod of namespace b with the IP a local pod of a now has: b's policy does not get it
    (it used to raise, failing the node's whole sync)."""
    pods = (ClusterPod("10.128.0.2", "a", NetID(10), "n1"),)
    pols = (Policy("a", "p", frozenset({"10.128.0.2"})), Policy("b", "p", frozenset({"10.128.0.2"})))
    intent = base_intent("networkpolicy", pods=pods, local_pods=(local_pod("10.128.0.2", "vh-a"),),
                         policies=pols)
    sets = table(render_node(intent), "inet").set_by_name()
    assert sets["np_ingress_dispatch"].elements == {"10.128.0.2 : jump np_in_a"}
    assert sets["np_tgt"].elements == {f"{policy_ids(pols)[('a', 'p')]} . 10.128.0.2"}


def test_200_targets_from_200_peers_is_O_400_elements_not_40000() -> None:
    targets = [f"10.128.0.{i}" for i in range(2, 202)]
    peers = [f"10.128.{4 + i // 200}.{2 + i % 200}" for i in range(200)]
    pods = tuple(ClusterPod(ip, "db", NetID(10), "n1") for ip in targets) + tuple(
        ClusterPod(ip, "web", NetID(11), "n3") for ip in peers)
    local = tuple(local_pod(ip, f"vh-{i}") for i, ip in enumerate(targets))
    pol = Policy("db", "allow-web", frozenset(targets), ingress_rules=(PolicyRule(
        peer_ips=frozenset(peers), all_ports=False, ports=frozenset({PortRange("tcp", 5432, 5432)})),))
    inet = table(render_node(base_intent("networkpolicy", pods=pods, local_pods=local, policies=(pol,))), "inet")
    policy_elements = sum(len(s.elements) for s in inet.sets if s.name.startswith("np_"))
    assert policy_elements == 200 + 200 + 1 + 200  # targets, peers, port, ingress dispatch
    assert len([s for s in inet.sets if s.name.startswith("np_")]) == 7  # constant, whatever the policies
    assert sum(len(c.rules) for c in inet.chains if c.name.startswith("np_in_")) == 2  # allow + drop


def test_policy_ids_are_unique_stable_and_leave_room_for_rules() -> None:
    pols = tuple(Policy("ns", f"p{i}", frozenset()) for i in range(3000))
    ids = policy_ids(pols)
    assert len(set(ids.values())) == 3000 and all(v % 256 == 0 and v > 0 for v in ids.values())
    assert policy_ids(pols[:10])[("ns", "p3")] == ids[("ns", "p3")]


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(st.tuples(st.sets(st.integers(0, 11), max_size=3), st.sets(st.integers(0, 11), max_size=3)),
                      min_size=1, max_size=12))
def test_policy_ids_kept_by_changes_equal_policy_ids(steps: list[tuple[set[int], set[int]]]) -> None:
    """`PolicyIds` follows keys that come and go; with 8 slots collisions are frequent, and then it
    computes in full: after every step its ids are `policy_ids` of the current keys, and it names
    every key whose id is new or moved."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(policy, "_own_slot", lambda key: 1 + int(key[1][1:]) % 8)
        ids_follow(steps)


def ids_follow(steps: list[tuple[set[int], set[int]]]) -> None:
    kept, keys = policy.PolicyIds(), set[int]()
    for add, remove in steps:
        after = (keys - remove) | add
        gone, came, keys = sorted(keys - after), sorted(after - keys), after
        before = dict(kept.ids)
        pols = tuple(Policy("ns", f"p{i}", frozenset()) for i in sorted(keys))
        changed = kept.update(pols, [("ns", f"p{i}") for i in gone], [("ns", f"p{i}") for i in came])
        assert kept.ids == policy.policy_ids(pols)
        assert changed >= {k for k, i in kept.ids.items() if before.get(k) != i}


def test_ipblock_except_matches_openshift_vector() -> None:
    cidrs = ipblock_cidrs("10.0.0.0/8", ("10.0.1.0/24",))
    assert len(cidrs) == 16
    assert {"10.0.0.0/24", "10.0.2.0/23", "10.128.0.0/9"} <= cidrs
    assert ipblock_cidrs("10.0.0.0/24", ("10.0.0.0/16",)) == frozenset()


def test_ports_are_merged_so_interval_sets_never_overlap() -> None:
    ports = [PortRange("tcp", 80, 80), PortRange("tcp", 81, 90), PortRange("tcp", 85, 100),
             PortRange("udp", 53, 53), PortRange("tcp", 443, 443)]
    assert merge_ports(ports) == {"tcp": [(80, 100), (443, 443)], "udp": [(53, 53)]}
    assert proto_ports(ports) == {"tcp . 80-100", "tcp . 443", "udp . 53"}
    assert nets(["10.0.0.0/24", "10.0.0.5/32", "10.0.1.0/24", "1.2.3.4/32"]) == {"10.0.0.0/23", "1.2.3.4"}
