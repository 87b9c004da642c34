"""Pod churn under a NetworkPolicy in a 2-node lab with tiny per-node subnets (a /29: 5 pod IPs).

Four fixed pods fill 2 of each node's 5 addresses; each round creates 3 pods per node (so every
round reuses exactly the addresses the previous round released, under other roles and sometimes
the same names), checks real connects between all pods against the model, deletes them and checks
that their IPs left every node's nft sets, their leases are released and no pod veth is left.
Then a client with an open UDP flow to a db is deleted and its IP handed to a non-client: the flow
must not carry over to the new pod, neither as requests nor as answers to a db's question.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import closing

import pytest
from labcheck import expect_model, ipam_ips, nft_ips, pod_veths
from labkit import Lab, make_lab, needs_agent

from osdn.kernel import netns
from osdn.lab.pods import PodRequest, create_pod, ensure_project, pod_netns, wait_pod_ip

pytestmark = [pytest.mark.e2e, needs_agent]
Pods = dict[str, tuple[str, str]]
NODES = ("node1", "node2")
POLICY = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
          "metadata": {"name": "db-from-clients", "namespace": "shop"},
          "spec": {"podSelector": {"matchLabels": {"app": "db"}},
                   "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "client"}}}],
                                "ports": [{"protocol": "TCP", "port": 80}]}]}}
DB: dict[str, str] = {"app": "db"}
CLIENT: dict[str, str] = {"role": "client"}
NONE: dict[str, str] = {}
ROLES = (DB, CLIENT, NONE)


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    yield from make_lab("ch", "networkpolicy", 2, "--host-subnet-length", "3", "--no-router")  # the /29s are counted


FIXED = {"db1": ("node1", DB), "cli1": ("node1", CLIENT), "db2": ("node2", DB), "cli2": ("node2", CLIENT)}


@pytest.fixture(scope="module")
def fixed(lab: Lab) -> Pods:
    """db1 + cli1 on node1, db2 + cli2 on node2; only clients may reach the dbs."""
    ensure_project(lab.client, "shop")
    lab.client.create(POLICY, namespace="shop")
    return {f"shop/{name}": lab.pod(name, "shop", node, labels) for name, (node, labels) in FIXED.items()}


def round_specs(r: int) -> list[tuple[str, str, dict[str, str]]]:
    """Round r: 3 pods per node, roles rotated by r; round 2 reuses round 0's names."""
    names = r % 2
    return [(f"r{names}{node[-1]}{i}", node, ROLES[(i + r) % 3]) for node in NODES for i in range(3)]


def create_all(lab: Lab, specs: list[tuple[str, str, dict[str, str]]]) -> Pods:
    for name, node, labels in specs:
        create_pod(lab.client, PodRequest(name, "shop", node, labels))
    out = {}
    for name, _, _ in specs:
        ip = wait_pod_ip(lab.client, "shop", name, timeout=60)
        out[f"shop/{name}"] = (ip, pod_netns(lab.client.get("Pod", name, "shop")))
    return out


def delete_all(lab: Lab, pods: Pods) -> None:
    for key in pods:
        lab.client.delete("Pod", key.split("/")[1], "shop")
    for key, (_, ns) in pods.items():
        deadline = time.monotonic() + 30
        while netns.netns_exists(ns):
            assert time.monotonic() < deadline, f"pod {key}: namespace {ns} still there"
            time.sleep(0.05)


def wait_gone(lab: Lab, ips: set[str], within: float = 10) -> None:
    """Poll until none of `ips` is in any node's nft sets (each node learns it in a sync or two)."""
    deadline = time.monotonic() + within
    while True:
        left = {node: {ip: sorted(sets) for ip, sets in nft_ips(lab, node).items() if ip in ips} for node in NODES}
        if not any(left.values()):
            return
        assert time.monotonic() < deadline, f"deleted pods' IPs still in nft sets: {left}"
        time.sleep(0.2)


def test_churn_keeps_policy_exact_and_leaves_nothing(lab: Lab, fixed: Pods) -> None:
    expect_model(lab, fixed)
    fixed_ips = {ip for ip, _ in fixed.values()}
    role_of_ip: dict[str, list[str]] = {}
    for r in range(3):
        specs = round_specs(r)
        churn = create_all(lab, specs)
        for (_, _, labels), (ip, _) in zip(specs, churn.values(), strict=True):
            role_of_ip.setdefault(ip, []).append(next(iter(labels.values()), "none"))
        assert not fixed_ips & {ip for ip, _ in churn.values()}
        expect_model(lab, {**fixed, **churn})
        delete_all(lab, churn)
        wait_gone(lab, {ip for ip, _ in churn.values()})
        for node in NODES:
            mine = {fixed[f"shop/{name}"][0] for name, (where, _) in FIXED.items() if where == node}
            assert ipam_ips(lab, node) == mine, f"round {r}: leases on {node} are not just the fixed pods'"
            assert len(pod_veths(lab, node)) == len(mine), f"round {r}: pod veths leaked on {node}"
    assert len(role_of_ip) == 6 and all(len(roles) == 3 for roles in role_of_ip.values()), \
        f"the full subnets force every churn address to be reused each round: {role_of_ip}"
    assert any(len(set(roles)) > 1 for roles in role_of_ip.values()), f"no address changed role: {role_of_ip}"
    expect_model(lab, fixed)


# -- a reused IP must not inherit the old pod's connections ---------------------------------------

UDP_PORT, SRC_PORT = 9999, 41000
UDP_POLICY = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
              "metadata": {"name": "db-udp-from-clients", "namespace": "shop"},
              "spec": {"podSelector": {"matchLabels": {"app": "db"}},
                       "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "client"}}}],
                                    "ports": [{"protocol": "UDP", "port": UDP_PORT}]}]}}


def udp_socket(ns: str, port: int) -> socket.socket:
    def bind() -> socket.socket:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", port))
        s.settimeout(3)
        return s

    return netns.run_in_netns(ns, bind)


def arrives(server: socket.socket, client: socket.socket, dst_ip: str, payload: bytes) -> bool:
    """Send `payload` from `client` to the server; True if the server gets it (and answers it)."""
    client.sendto(payload, (dst_ip, UDP_PORT))
    try:
        data, peer = server.recvfrom(2048)
    except TimeoutError:
        return False
    server.sendto(data, peer)
    return data == payload


def test_reused_ip_does_not_inherit_an_open_udp_flow(lab: Lab, fixed: Pods) -> None:
    lab.client.create(UDP_POLICY, namespace="shop")
    db_ip, db_ns = fixed["shop/db1"]
    old_ip, old_ns = lab.pod("old", "shop", "node2", CLIENT)
    with closing(udp_socket(db_ns, UDP_PORT)) as server:
        with closing(udp_socket(old_ns, SRC_PORT)) as client:
            wait_until = time.monotonic() + 15  # the new policy takes a sync to land
            while not arrives(server, client, db_ip, b"hello from a client"):
                assert time.monotonic() < wait_until, "the client's UDP never reached db"
            assert client.recv(2048) == b"hello from a client", "the flow is established both ways"
        lab.delete_pod("old", "shop")
        # node2 has 3 free addresses: 3 new non-client pods, one of them gets old_ip
        heirs = {name: lab.pod(name, "shop", "node2") for name in ("h0", "h1", "h2")}
        heir_ns = next(ns for ip, ns in heirs.values() if ip == old_ip)
        with closing(udp_socket(heir_ns, SRC_PORT + 1)) as fresh_port:
            assert not arrives(server, fresh_port, db_ip, b"new flow from a non-client"), "policy must block it"
        with closing(udp_socket(heir_ns, SRC_PORT)) as heir:
            inherited = arrives(server, heir, db_ip, b"old flow, new pod")
    for name in heirs:
        lab.delete_pod(name, "shop")
    assert not inherited, f"the pod that got {old_ip} inherited the deleted client's UDP flow to db"


def test_reused_ip_cannot_answer_for_the_deleted_pod(lab: Lab, fixed: Pods) -> None:
    """The reply direction: db1 (ingress only from clients) asked a pod something over UDP; that pod
    is deleted and a non-client gets its IP. Sending from the old pod's port looks like the answer
    db1 is waiting for, but it comes from another pod, which db1's policy does not admit."""
    db_ip, db_ns = fixed["shop/db1"]
    asked_ip, asked_ns = lab.pod("asked", "shop", "node2")
    with closing(udp_socket(db_ns, SRC_PORT)) as db_side:
        with closing(udp_socket(asked_ns, UDP_PORT)) as asked:
            db_side.sendto(b"question", (asked_ip, UDP_PORT))
            data, peer = asked.recvfrom(2048)
            asked.sendto(b"answer", peer)
            assert db_side.recv(2048) == b"answer", "the flow is established both ways"
        lab.delete_pod("asked", "shop")
        heirs = {name: lab.pod(name, "shop", "node2") for name in ("h0", "h1", "h2")}
        heir_ns = next(ns for ip, ns in heirs.values() if ip == asked_ip)
        with closing(udp_socket(heir_ns, UDP_PORT + 1)) as other_port:
            other_port.sendto(b"unasked", (db_ip, SRC_PORT))
            with pytest.raises(TimeoutError):
                db_side.recv(2048)  # the policy blocks a non-client's new flow to db1
        with closing(udp_socket(heir_ns, UDP_PORT)) as heir:
            heir.sendto(b"a forged answer", (db_ip, SRC_PORT))
            try:
                forged: bytes | None = db_side.recv(2048)
            except TimeoutError:
                forged = None
    for name in heirs:
        lab.delete_pod(name, "shop")
    assert forged is None, f"the pod that got {asked_ip} answered in the deleted pod's name: {forged!r}"
