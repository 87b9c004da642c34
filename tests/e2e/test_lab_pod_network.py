"""`osdn adm pod-network` changes real reachability across nodes, in a 2-node multitenant lab.

Projects a, b and c each have a pod on node1 and one on node2. A sequence of pod-network changes
(join, isolate after join, make global, join and isolate by label selector, isolate a global
project) is applied with the CLI; after each one the connects between all six pods must equal both
the model's verdicts and the expectation written out here (which projects share a network), so
neither the kernel nor the model can be wrong in the same way unnoticed. A running cluster also
refuses to switch its network plugin, and keeps enforcing the one it has. Isolation holds while a
node agent is down, and a join made meanwhile reaches that node when its agent is back.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from collections.abc import Set as AbstractSet

import pytest
from labcheck import Matrix, Prober, expect_model, show, wait_for
from labkit import Lab, make_lab, needs_agent

from osdn.errors import OsdnError

pytestmark = [pytest.mark.e2e, needs_agent]
Pods = dict[str, tuple[str, str]]
PROJECTS = ("a", "b", "c")


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    yield from make_lab("pn", "multitenant", 2)


@pytest.fixture(scope="module")
def pods(lab: Lab) -> Pods:
    return {f"{p}/{p}{n}": lab.pod(f"{p}{n}", p, f"node{n}") for p in PROJECTS for n in (1, 2)}


def netids(lab: Lab) -> dict[str, int]:
    return {p: int(lab.client.get("NetNamespace", p)["netid"]) for p in PROJECTS}


def expected(pods: Pods, networks: list[set[str]], global_: AbstractSet[str] = frozenset()) -> Matrix:
    """Allowed iff both projects are in one of `networks`, or either is global."""
    def project(key: str) -> str:
        return key.split("/")[0]

    def allowed(s: str, d: str) -> bool:
        ps, pd = project(s), project(d)
        return bool({ps, pd} & global_) or any({ps, pd} <= net for net in networks)

    return {(s, d): allowed(s, d) for s in pods for d in pods if s != d}


def check(lab: Lab, pods: Pods, want: Matrix) -> None:
    got = expect_model(lab, pods, within=15)
    assert got == want, f"kernel and model agree, but not with the expectation:\n{show(got, want)}"


def pod_network(lab: Lab, *args: str) -> str:
    return lab.cli("adm", "pod-network", *args).stdout


def test_projects_start_isolated(lab: Lab, pods: Pods) -> None:
    assert len(set(netids(lab).values())) == 3 and 0 not in netids(lab).values()
    check(lab, pods, expected(pods, [{"a"}, {"b"}, {"c"}]))


def test_join_then_isolate(lab: Lab, pods: Pods) -> None:
    out = pod_network(lab, "join-projects", "--to", "a", "b")
    assert 'project "b" joined to "a"' in out
    assert netids(lab)["a"] == netids(lab)["b"]
    check(lab, pods, expected(pods, [{"a", "b"}, {"c"}]))

    out = pod_network(lab, "isolate-projects", "b")
    assert 'project "b" isolated' in out
    ids = netids(lab)
    assert len(set(ids.values())) == 3 and 0 not in ids.values()
    check(lab, pods, expected(pods, [{"a"}, {"b"}, {"c"}]))


def test_make_global_then_isolate_again(lab: Lab, pods: Pods) -> None:
    pod_network(lab, "make-projects-global", "c")
    assert netids(lab)["c"] == 0
    check(lab, pods, expected(pods, [{"a"}, {"b"}], global_={"c"}))

    pod_network(lab, "isolate-projects", "c")
    assert netids(lab)["c"] not in (0, netids(lab)["a"], netids(lab)["b"])
    check(lab, pods, expected(pods, [{"a"}, {"b"}, {"c"}]))


def test_join_and_isolate_by_selector(lab: Lab, pods: Pods) -> None:
    for p in ("b", "c"):
        lab.cli("label", "namespace", p, "team=x")
    pod_network(lab, "join-projects", "--to", "a", "--selector", "team=x")
    assert len(set(netids(lab).values())) == 1
    check(lab, pods, expected(pods, [{"a", "b", "c"}]))

    pod_network(lab, "isolate-projects", "--selector", "team=x")
    ids = netids(lab)
    assert ids["b"] != ids["c"] and ids["a"] not in (ids["b"], ids["c"])
    check(lab, pods, expected(pods, [{"a"}, {"b"}, {"c"}]))


def test_switching_the_network_plugin_is_refused(lab: Lab, pods: Pods) -> None:
    """Switching modes needs a rebuild by design (as in OpenShift): the API refuses it and the
    agents keep enforcing multitenant isolation."""
    with pytest.raises(OsdnError, match="changing the network plugin of a running cluster is not supported"):
        lab.client.patch("ClusterNetwork", "default", {"pluginName": "redhat/openshift-ovs-networkpolicy"})
    assert lab.client.get("ClusterNetwork", "default")["pluginName"].endswith("multitenant")
    check(lab, pods, expected(pods, [{"a"}, {"b"}, {"c"}]))


def test_isolation_holds_across_an_agent_crash_and_a_join_while_down(lab: Lab, pods: Pods) -> None:
    """node2's agent is SIGKILLed; while it is down, b joins a. Pairs the join does not touch keep
    their verdict through the whole window (its nft maps stay in force); once it is back, node2
    enforces the join too."""
    pairs = [("c/c1", "a/a2", False), ("a/a1", "c/c2", False), ("c/c2", "b/b1", False), ("b/b2", "c/c1", False),
             ("a/a1", "a/a2", True), ("c/c2", "c/c1", True), ("b/b1", "b/b2", True)]
    with Prober(pods, pairs) as prober:
        wait_for("probes before the crash", lambda: prober.rounds >= 1)
        lab.stop_agent("node2", signal.SIGKILL)
        pod_network(lab, "join-projects", "--to", "a", "b")
        down = prober.rounds
        wait_for("probes while the agent is down", lambda: prober.rounds >= down + 2)
        lab.start_agent("node2")
        up = prober.rounds
        wait_for("probes after the restart", lambda: prober.rounds >= up + 2)
    assert prober.wrong == [], "verdicts changed across the crash:\n" + "\n".join(prober.wrong)
    check(lab, pods, expected(pods, [{"a", "b"}, {"c"}]))
