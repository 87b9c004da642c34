"""One tenant's pathological NetworkPolicy cannot stop the data plane (issue 9, item 9), in a 2-node lab.

The API now refuses a policy the nodes cannot enforce (more than 100 ingress rules), so the test
puts one where old data would be: written by an older osdn that had no such limit. It stops the lab's
API server, writes the object into the server's own store file with the store's own code
(`SQLiteStore.create`, as the server's create would after defaulting, minus validation), and starts
the server again with its recorded command line; agents, kubelet and controllers reconnect and list
it like any stored object. No code path of the running system is bypassed or patched.

Then, with real pods and packets: both nodes report it (Node condition, Event naming the policy),
other tenants' pods keep starting (CNI ADD waits for a sync, which used to fail forever) and their
policies are still enforced, the pathological policy's pods are isolated (fail closed) and `adm
verify` agrees with the model; deleting the policy clears the condition and opens the pods again.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from labkit import Lab, make_lab, needs_agent
from polling import wait_for

from osdn.api.kinds.networking import MAX_RULES, default_network_policy
from osdn.api.registry import by_kind
from osdn.apiserver.resources import key_of
from osdn.errors import OsdnError
from osdn.lab.cluster import locked_state, spawn
from osdn.lab.pods import ensure_project
from osdn.lab.state import load_state, process_running, send_signal
from osdn.store.sqlite import SQLiteStore

pytestmark = [pytest.mark.e2e, needs_agent]
Obj = dict[str, Any]
RULES = 200  # > MAX_RULES (API) and > 127 (what the node's rule ids can number)


def huge_policy() -> Obj:
    """Selects t1's app=victim; rule 0 would let every pod of t1 in on port 80, were it enforced."""
    rules = [{"from": [{"podSelector": {}}], "ports": [{"port": 80}]}]
    rules += [{"ports": [{"port": 1000 + i}]} for i in range(RULES - 1)]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "huge", "namespace": "t1"},
            "spec": {"podSelector": {"matchLabels": {"app": "victim"}}, "ingress": rules}}


def store_as_old_data(lab: Lab, obj: Obj) -> None:
    """Stop the API server, create `obj` in its store file (defaulted, not validated), start it again."""
    state = load_state(lab.info.dir)
    assert state is not None
    server = next(p for p in state.processes if p.role == "server")
    send_signal(server.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while process_running(server.pid):
        assert time.monotonic() < deadline, f"API server pid {server.pid} did not stop"
        time.sleep(0.05)
    obj = {**obj, "metadata": {**obj["metadata"], "uid": "0ld-da7a", "generation": 1,
                               "creationTimestamp": "2020-01-01T00:00:00Z"}}
    default_network_policy(obj)
    store = SQLiteStore(Path(lab.info.dir) / "server" / "osdn.db")
    try:
        store.create(key_of(by_kind(obj["kind"]), obj["metadata"]["namespace"], obj["metadata"]["name"]), obj)
    finally:
        store.close()
    with locked_state(lab.info.dir) as locked:
        assert locked is not None
        locked.processes = [p for p in locked.processes if p.pid != server.pid]
    spawn(lab.info.dir, list(server.argv), "server", lab.info.server_log)
    wait_for(lambda: _answers(lab), 30, "the API server to answer again")


def _answers(lab: Lab) -> bool:
    try:
        lab.client.get("Namespace", "default")
        return True
    except OsdnError:
        return False


def condition(lab: Lab, node: str) -> Obj:
    conds = lab.client.get("Node", node).get("status", {}).get("conditions") or []
    return next((c for c in conds if c.get("type") == "NetworkPolicyRenderFailed"), {})


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    yield from make_lab("lim", "networkpolicy", 2)


@pytest.fixture(scope="module")
def pods(lab: Lab) -> dict[str, tuple[str, str]]:
    """t1 (the careless tenant): victim on node1, bystander on node2. t2: web on node1 and client on
    node2, isolated by its own seed-like policies. t3: outsider on node2."""
    for project in ("t1", "t2", "t3"):
        ensure_project(lab.client, project)
    for name, body in (("deny-by-default", {"podSelector": {}, "ingress": []}),
                       ("allow-same-namespace", {"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]})):
        lab.client.create({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                           "metadata": {"name": name}, "spec": body}, namespace="t2")
    spots = {"victim": ("t1", "node1"), "bystander": ("t1", "node2"), "web": ("t2", "node1"),
             "client": ("t2", "node2"), "outsider": ("t3", "node2")}
    got = {name: lab.pod(name, proj, node, {"app": name}) for name, (proj, node) in spots.items()}
    assert lab.can_connect(got["bystander"][1], got["victim"][0], want=True)
    return got


def test_api_refuses_the_policy_with_the_limit(lab: Lab, pods: dict[str, tuple[str, str]]) -> None:
    with pytest.raises(OsdnError) as err:
        lab.client.create(huge_policy(), namespace="t1")
    assert err.value.code == 422
    assert err.value.message == (f'NetworkPolicy "huge" in project "t1": spec.ingress: Too many: {RULES}: must have '
                                 f"at most {MAX_RULES} items (osdn enforces at most {MAX_RULES} ingress rules per "
                                 "NetworkPolicy)")


def test_stored_pathological_policy_stops_no_node(lab: Lab, pods: dict[str, tuple[str, str]]) -> None:
    store_as_old_data(lab, huge_policy())
    for node in ("node1", "node2"):
        cond = wait_for(lambda n=node: condition(lab, n).get("status") == "True" and condition(lab, n), 45,
                        f"{node} to report the policy")
        assert cond["reason"] == "PolicyRenderFailed" and cond["message"].endswith(": t1/huge"), cond
    events = [e for e in lab.client.list("Event", "t1")["items"] if e.get("reason") == "PolicyRenderFailed"]
    assert {e["source"]["host"] for e in events} == {"node1", "node2"}
    assert all(e["involvedObject"]["name"] == "huge" and e["type"] == "Warning" for e in events)
    assert "spec.ingress: Too many: 200" in events[0]["message"]

    # other tenants' pods keep starting (CNI ADD on both nodes) and talking, under their own policies
    new1_ip, new1_ns = lab.pod("new1", "t2", "node1", {"app": "new1"})
    new2_ip, new2_ns = lab.pod("new2", "t3", "node1", {"app": "new2"})
    web_ip, _ = pods["web"]
    assert lab.can_connect(new1_ns, web_ip, want=True), "t2 -> t2 is allowed by allow-same-namespace"
    assert lab.can_connect(pods["client"][1], new1_ip, want=True), "t2 across nodes to the new pod"
    assert not lab.can_connect(new2_ns, web_ip, want=False), "t3 -> t2 is still denied by t2's policies"
    assert lab.can_connect(pods["outsider"][1], new2_ip, want=True), "t3 pods talk"

    # the pathological policy's own pods fail closed: isolated for ingress, nothing allowed by it
    victim_ip, victim_ns = pods["victim"]
    assert not lab.can_connect(pods["bystander"][1], victim_ip, want=False), "huge's rule 0 is not enforced"
    assert not lab.can_connect(pods["outsider"][1], victim_ip, want=False)
    assert lab.can_connect(victim_ns, pods["outsider"][0], want=True), "egress is not in huge's policyTypes"
    assert lab.can_connect(pods["outsider"][1], pods["bystander"][0], want=True), "unselected t1 pods are open"

    verify = lab.cli("adm", "verify", "-n", "t1", "--port", "80", "--no-matrix", check=False)
    assert verify.returncode == 0 and "OK: the kernel agrees with the model" in verify.stdout, verify.stdout


def test_deleting_the_policy_clears_the_condition(lab: Lab, pods: dict[str, tuple[str, str]]) -> None:
    lab.client.delete("NetworkPolicy", "huge", "t1")
    for node in ("node1", "node2"):
        cond = wait_for(lambda n=node: condition(lab, n).get("status") == "False" and condition(lab, n), 30,
                        f"{node} to clear the condition")
        assert cond["reason"] == "AllPoliciesRendered"
    assert lab.can_connect(pods["bystander"][1], pods["victim"][0], want=True)
