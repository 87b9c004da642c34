"""Pure parts of the master and the admission plugins, table-driven (no server)."""

from __future__ import annotations

import pytest

from osdn.apiserver.plugins.clusternetwork import mode_change_problem
from osdn.apiserver.plugins.egressfirewall import change_problem, placement_problem
from osdn.apiserver.plugins.project_request import render_objects, substitute
from osdn.apiserver.plugins.routes import host_owner
from osdn.master.egress import egress_view
from osdn.master.hostsubnets import node_ip_problem
from osdn.master.netnamespaces import blocking_policies
from osdn.master.probe import ProbeOptions, heartbeat_problem, probe_target
from osdn.master.queue import WorkQueue
from osdn.model.sdnconfig import parse_network_config

NETIDS = {"default": 0, "g": 0, "a": 10, "b": 10, "c": 11}
NET = parse_network_config({"metadata": {"name": "default"}, "pluginName": "multitenant",
                            "serviceNetwork": "172.30.0.0/16",
                            "clusterNetworks": [{"CIDR": "10.128.0.0/14", "hostSubnetLength": 9}]})


@pytest.mark.parametrize(("ns", "pending", "expect"), [
    ("default", None, 'the "default" project is global'),
    ("g", None, 'project "g" is global'),
    ("a", None, 'shares its pod network (NetID 10) with b'),
    ("c", None, None),
    ("c", "join:a", 'pending pod network change "join:a"'),
    ("c", "isolate", None),
    ("new", None, None),
], ids=["default", "global", "joined", "alone", "pending-join", "pending-isolate", "no-netns-yet"])
def test_placement_problem(ns: str, pending: str | None, expect: str | None) -> None:
    problem = placement_problem(ns, NETIDS, pending)
    assert (problem is None) if expect is None else (expect in (problem or ""))


@pytest.mark.parametrize(("ns", "value", "policies", "blocked"), [
    ("c", "global", {"c"}, ["c"]),
    ("c", "join:a", {"b"}, ["b"]),
    ("c", "join:a", {"c"}, ["c"]),
    ("c", "join:g", {"default"}, []),
    ("c", "isolate", {"c"}, []),
    ("c", "join:a", set(), []),
], ids=["global-self", "join-target-group", "join-self", "join-global", "isolate", "none"])
def test_blocking_policies_and_admission_agree(ns: str, value: str, policies: set[str], blocked: list[str]) -> None:
    assert blocking_policies(value, ns, NETIDS, policies) == blocked
    assert (change_problem(ns, value, NETIDS, policies) is None) == (not blocked)


@pytest.mark.parametrize(("old", "new", "refused"), [
    ("redhat/openshift-ovs-multitenant", "redhat/openshift-ovs-networkpolicy", True),
    ("multitenant", "redhat/openshift-ovs-multitenant", False),
    ("subnet", "subnet", False),
], ids=["mode-change", "spelling", "same"])
def test_mode_change(old: str, new: str, refused: bool) -> None:
    assert (mode_change_problem(old, new) is not None) == refused


def route(name: str, ns: str, host: str, ts: str, path: str = "", stored: bool = True) -> dict:
    meta = {"name": name, "namespace": ns, "creationTimestamp": ts}
    if stored:
        meta["resourceVersion"] = "1"
    return {"metadata": meta, "spec": {"host": host, "path": path}}


OLD = route("old", "p1", "h.example.com", "2024-01-01T00:00:00Z")


@pytest.mark.parametrize(("candidate", "owner"), [
    (route("new", "p2", "h.example.com", "", stored=False), "old"),
    (route("new", "p1", "h.example.com", "", path="/x", stored=False), None),
    (route("new", "p1", "h.example.com", "", stored=False), "old"),
    (route("older", "p2", "h.example.com", "2023-01-01T00:00:00Z"), None),
    (route("new", "p2", "other.example.com", "", stored=False), None),
], ids=["other-project", "same-project-other-path", "same-project-same-path", "older-wins", "other-host"])
def test_host_owner(candidate: dict, owner: str | None) -> None:
    found = host_owner(candidate, [OLD], candidate if candidate["metadata"].get("resourceVersion") else None)
    assert (found["metadata"]["name"] if found else None) == owner


def test_host_owner_on_update_uses_the_stored_age() -> None:
    """A patched route's body may lack resourceVersion: its stored age decides (the seed's hijack)."""
    older = route("older", "p2", "mine.example.com", "2023-01-01T00:00:00Z")
    patched = route("older", "p2", "h.example.com", "", stored=False)
    assert host_owner(patched, [OLD, older], older) is None
    assert host_owner(patched, [OLD, older]) is OLD


@pytest.mark.parametrize(("ip", "problem"), [
    (None, "no InternalIP"), ("127.0.0.1", "not a usable"), ("10.128.1.1", "conflicts with cluster network"),
    ("172.30.0.5", "conflicts with service network"), ("192.168.1.10", None),
], ids=["none", "loopback", "cluster", "service", "ok"])
def test_node_ip_problem(ip: str | None, problem: str | None) -> None:
    got = node_ip_problem(ip, NET)
    assert (got is None) if problem is None else problem in (got or "")


def test_probe_options_and_targets() -> None:
    opts = ProbeOptions.from_dict({"mode": "tcp", "targets": {"n1": "127.0.0.1:9999"}, "failCount": 3})
    assert opts.params.fail_count == 3
    assert probe_target(opts, "n1", {"hostIP": "10.0.0.1"}) == ("127.0.0.1", 9999)
    assert probe_target(opts, "n2", {"hostIP": "10.0.0.2"}) == ("10.0.0.2", 9)
    sdn = ProbeOptions.from_dict({"mode": "tcp", "address": "sdn"})
    assert probe_target(sdn, "n2", {"subnet": "10.128.2.0/23"}) == ("10.128.2.1", 9)
    with pytest.raises(Exception, match="unknown field"):
        ProbeOptions.from_dict({"mdoe": "tcp"})


@pytest.mark.parametrize(("cond", "down"), [
    ({"type": "Ready", "status": "True", "lastHeartbeatTime": "2024-01-01T00:00:00Z"}, False),
    ({"type": "Ready", "status": "True", "lastHeartbeatTime": "2023-12-31T23:59:00Z"}, True),
    ({"type": "Ready", "status": "Unknown"}, True),
    ({"type": "Ready", "status": "False", "message": "kubelet stopped"}, True),
    (None, False),
], ids=["fresh", "stale", "unknown", "false", "never-reported"])
def test_heartbeat(cond: dict | None, down: bool) -> None:
    now = 1704067205.0          # 2024-01-01T00:00:05Z
    node = {"status": {"conditions": [cond] if cond else []}}
    assert (heartbeat_problem(node, now, 40.0) is not None) == down


def test_egress_view_ignores_objects_without_egress() -> None:
    assert egress_view({"metadata": {"name": "a"}, "netid": 10}) is None
    assert egress_view({"metadata": {"name": "a"}, "netid": 10, "egressIPs": ["1.2.3.4"]}) is not None


def test_project_template_substitution() -> None:
    template = {"objects": [{"kind": "Project", "metadata": {"name": "${PROJECT_NAME}"}},
                            {"kind": "ConfigMap", "metadata": {"name": "cm-${PROJECT_NAME}"}, "data": {"u": "${X}"}}]}
    out = render_objects(template, {"PROJECT_NAME": "p1"})
    assert out == [{"kind": "ConfigMap", "metadata": {"name": "cm-p1"}, "data": {"u": "${X}"}}]
    assert substitute(["${A}${A}", 3], {"A": "x"}) == ["xx", 3]


def test_work_queue_dedups_and_requeues_busy_keys() -> None:
    q = WorkQueue()
    q.add("a")
    q.add("a")
    q.add("b")
    assert len(q) == 2
    key = q.get(0)
    assert key == "a"
    q.add("a")                  # dirty while busy: processed again after done
    assert q.get(0) == "b"
    assert q.get(0.01) is None
    q.done("a")
    assert q.get(0) == "a"
    q.add_after("c", 0.02)
    assert q.get(0) is None and q.get(1.0) == "c"
