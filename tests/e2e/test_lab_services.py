"""Services in a real lab: ClusterIP forwarding by nftables on every node, real packets.

A 2-node networkpolicy lab: a client reaches a service by ClusterIP on its own node and across
nodes, load spreads over the endpoints, session affinity holds, a pod added to or removed from the
selector joins or leaves within a sync, a service without endpoints is refused at once, a pod
reaches itself through its own service (hairpin), NetworkPolicy on the endpoint decides, the seeds'
egress-router Services forward to plain pods, and `adm verify` agrees with the model on every
service. A 2-node multitenant lab: another project's service is unreachable until `join-projects`,
and `make-projects-global` opens it.
"""

from __future__ import annotations

import json
import socket
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from labkit import Lab, make_lab, needs_agent

from osdn.kernel import netns
from tests.conftest import wait_for

pytestmark = [pytest.mark.e2e, needs_agent]
SEEDS = Path(__file__).parents[1] / "fixtures" / "seeds"


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    yield from make_lab("svc", "networkpolicy", 2)


@pytest.fixture(scope="module")
def pods(lab: Lab) -> dict[str, tuple[str, str]]:
    spots = {"web1": ("shop", "node1", {"app": "web", "pod": "web1"}),
             "web2": ("shop", "node2", {"app": "web", "pod": "web2"}),
             "c1": ("shop", "node1", {"role": "client"}),
             "g2": ("guest", "node2", {"role": "client"})}
    return {name: lab.pod(name, proj, node, labels) for name, (proj, node, labels) in spots.items()}




def service(lab: Lab, ns: str, name: str, selector: dict[str, str], port: int = 80, target: int | str = 80,
            **spec: Any) -> str:
    body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": selector, "ports": [{"name": "http", "port": port, "targetPort": target}], **spec}}
    return str(lab.client.create(body, ns)["spec"]["clusterIP"])


def who(lab: Lab, src_netns: str, vip: str, port: int = 80) -> str:
    """`<project>/<pod>` that answered GET vip:port from inside `src_netns` ("" if nothing did)."""
    body = lab.get(src_netns, vip) if port == 80 else _get(src_netns, vip, port)
    return body.split(" on port ")[0] if " on port " in body else ""


def _get(src_netns: str, ip: str, port: int) -> str:
    from osdn.lab.pods import http_get
    return http_get(src_netns, ip, port)


def answers(lab: Lab, src_netns: str, vip: str, n: int) -> Counter[str]:
    return Counter(who(lab, src_netns, vip) for _ in range(n))


def connect_outcome(src_netns: str, ip: str, port: int, timeout: float = 2.0) -> tuple[str, float]:
    def attempt() -> tuple[str, float]:
        t0 = time.monotonic()
        try:
            with socket.create_connection((ip, port), timeout=timeout):
                return "connected", time.monotonic() - t0
        except ConnectionRefusedError:
            return "refused", time.monotonic() - t0
        except OSError as exc:
            return type(exc).__name__, time.monotonic() - t0
    return netns.run_in_netns(src_netns, attempt)


def test_cluster_ip_on_the_same_node_and_across(lab: Lab, pods: dict[str, tuple[str, str]]) -> None:
    vip = service(lab, "shop", "one", {"pod": "web1"})  # web1 is on node1
    assert vip.startswith("172.30.")
    assert wait_for(lambda: who(lab, pods["c1"][1], vip) == "shop/web1", what="same node")
    assert wait_for(lambda: who(lab, pods["g2"][1], vip) == "shop/web1", what="across nodes")
    body = lab.get(pods["g2"][1], vip)
    assert body.endswith(f"you are {pods['g2'][0]}") or f"you are {pods['g2'][0]}:" in body  # real client


def test_load_spreads_over_the_endpoints(lab: Lab, pods: dict[str, tuple[str, str]]) -> None:
    vip = service(lab, "shop", "web", {"app": "web"})
    wait_for(lambda: who(lab, pods["c1"][1], vip), what="service up")
    got = answers(lab, pods["c1"][1], vip, 40)
    assert set(got) == {"shop/web1", "shop/web2"} and min(got.values()) >= 5, got


def test_session_affinity_holds(lab: Lab, pods: dict[str, tuple[str, str]]) -> None:
    vip = service(lab, "shop", "sticky", {"app": "web"}, sessionAffinity="ClientIP",
                  sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}})
    wait_for(lambda: who(lab, pods["c1"][1], vip), what="service up")
    assert len(answers(lab, pods["c1"][1], vip, 20)) == 1
    assert len(answers(lab, pods["g2"][1], vip, 10)) == 1


def test_selector_changes_join_and_leave_within_a_sync(lab: Lab, pods: dict[str, tuple[str, str]]) -> None:
    vip = service(lab, "shop", "pool", {"pool": "yes"})
    lab.pod("web3", "shop", "node2", {"pool": "yes"})
    t0 = time.monotonic()
    wait_for(lambda: who(lab, pods["c1"][1], vip) == "shop/web3", timeout=30, what="web3 joins")
    joined = time.monotonic() - t0
    lab.client.patch("Pod", "web1", {"metadata": {"labels": {"pool": "yes"}}}, "shop")
    wait_for(lambda: "shop/web1" in answers(lab, pods["c1"][1], vip, 10), timeout=30, what="web1 joins")
    lab.client.patch("Pod", "web1", {"metadata": {"labels": {"pool": None}}}, "shop")
    t0 = time.monotonic()
    wait_for(lambda: set(answers(lab, pods["c1"][1], vip, 10)) == {"shop/web3"}, timeout=30, what="web1 leaves")
    print(f"\njoined after {joined:.2f}s, left after {time.monotonic() - t0:.2f}s")


def test_no_endpoints_is_refused_fast(lab: Lab, pods: dict[str, tuple[str, str]]) -> None:
    vip = service(lab, "shop", "nobody", {"app": "nobody"})
    wait_for(lambda: connect_outcome(pods["c1"][1], vip, 80)[0] == "refused", what="in the kernel")
    outcome, took = connect_outcome(pods["c1"][1], vip, 80)
    assert outcome == "refused", (outcome, took)  # a reject (RST / ICMP), not a drop that times out
    assert connect_outcome(pods["g2"][1], vip, 80)[0] == "refused"  # across nodes too: every node rejects


def test_a_pod_reaches_itself_through_its_service(lab: Lab, pods: dict[str, tuple[str, str]]) -> None:
    vip = service(lab, "shop", "self", {"pod": "web2"})
    body = wait_for(lambda: lab.get(pods["web2"][1], vip), what="hairpin")
    assert body.startswith("shop/web2 on port 80")


def test_the_seed_egress_router_services_forward_to_plain_pods(lab: Lab) -> None:
    lab.pod("egress-1", "egr", "node2", {"name": "egress-1"}, ports=[80, 443])
    _, client = lab.pod("cli", "egr", "node1")
    manifest = yaml.safe_load((SEEDS / "002-service-egress-1-redirect.yaml").read_text())
    vip = str(lab.client.create(manifest, "egr")["spec"]["clusterIP"])
    assert wait_for(lambda: _get(client, vip, 80), what="port 80").startswith("egr/egress-1 on port 80")
    assert wait_for(lambda: _get(client, vip, 443), what="port 443").startswith("egr/egress-1 on port 443")


def endpoint_slice(name: str, service: str, *endpoints: tuple[str, bool]) -> dict[str, Any]:
    """A hand-written EndpointSlice (as another controller would write it) of `service`, port http/80."""
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"name": name, "labels": {"kubernetes.io/service-name": service,
                                                  "endpointslice.kubernetes.io/managed-by": "e2e.osdn.io"}},
            "ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
            "endpoints": [{"addresses": [ip], "conditions": {"ready": ready}} for ip, ready in endpoints]}


def test_nodes_forward_from_the_endpoint_slices(lab: Lab, pods: dict[str, tuple[str, str]]) -> None:
    """A selector-less Service with no Endpoints, only slices: every node forwards to their ready
    endpoints (an endpoint in two slices once), and follows a slice edit."""
    body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "sliced"},
            "spec": {"ports": [{"name": "http", "port": 80}]}}
    vip = str(lab.client.create(body, "shop")["spec"]["clusterIP"])
    web1, web2 = pods["web1"][0], pods["web2"][0]
    lab.client.create(endpoint_slice("sliced-a", "sliced", (web1, True), (web2, False)), "shop")
    lab.client.create(endpoint_slice("sliced-b", "sliced", (web1, True)), "shop")
    for client in ("c1", "g2"):
        assert wait_for(lambda c=client: who(lab, pods[c][1], vip) == "shop/web1", what=f"{client} via slices")
    assert set(answers(lab, pods["c1"][1], vip, 20)) == {"shop/web1"}  # web2 is not ready
    lab.client.patch("EndpointSlice", "sliced-a", {"endpoints": [{"addresses": [web2], "conditions": {"ready": True}}]},
                     "shop")
    assert wait_for(lambda: set(answers(lab, pods["g2"][1], vip, 10)) == {"shop/web1", "shop/web2"}, what="web2 ready")


def test_adm_verify_probes_every_service_and_agrees(lab: Lab, pods: dict[str, tuple[str, str]]) -> None:
    done = lab.cli("adm", "verify", "-o", "json", check=False)
    report = json.loads(done.stdout)
    services = [r for r in report["results"] if r["to"].startswith("svc/")]
    assert services and not [r for r in report["results"] if not r["agrees"]], done.stdout[-3000:]
    assert any(not r["model"]["allowed"] for r in services)  # the no-endpoints service is refused
    assert done.returncode == 0


def test_z_network_policy_on_the_endpoint_decides(lab: Lab, pods: dict[str, tuple[str, str]]) -> None:
    vip = lab.client.get("Service", "web", "shop")["spec"]["clusterIP"]
    policy = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "same-ns"},
              "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [{"from": [{"podSelector": {}}]}]}}
    lab.client.create(policy, "shop")
    assert wait_for(lambda: connect_outcome(pods["g2"][1], vip, 80, 1.0)[0] == "TimeoutError", what="guest cut")
    assert who(lab, pods["c1"][1], vip) in ("shop/web1", "shop/web2")
    done = lab.cli("adm", "verify", "-n", "guest", "--no-matrix", check=False)
    assert "0 disagree" in done.stdout, done.stdout[-3000:]


# -- multitenant --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mt_lab(lab: Lab) -> Iterator[Lab]:
    yield from make_lab("svm", "multitenant", 2)


def test_multitenant_service_needs_join_or_global(mt_lab: Lab) -> None:
    lab = mt_lab
    lab.pod("web", "red", "node2", {"app": "web"})
    _, blue = lab.pod("client", "blue", "node1")
    vip = service(lab, "red", "web", {"app": "web"})
    _, red_client = lab.pod("client", "red", "node1")
    wait_for(lambda: who(lab, red_client, vip) == "red/web", what="same project")
    assert connect_outcome(blue, vip, 80, 1.0)[0] == "TimeoutError"
    lab.cli("adm", "pod-network", "join-projects", "--to", "red", "blue")
    wait_for(lambda: who(lab, blue, vip) == "red/web", what="joined")
    lab.cli("adm", "pod-network", "isolate-projects", "blue")
    wait_for(lambda: connect_outcome(blue, vip, 80, 1.0)[0] == "TimeoutError", what="isolated again")
    lab.cli("adm", "pod-network", "make-projects-global", "red")
    wait_for(lambda: who(lab, blue, vip) == "red/web", what="global")
    lab.cli("adm", "pod-network", "isolate-projects", "red")
    wait_for(lambda: connect_outcome(blue, vip, 80, 1.0)[0] == "TimeoutError", what="red isolated")
    service(lab, "red", "empty", {"app": "nobody"})
    done = lab.cli("adm", "verify", "--no-matrix", check=False)  # multitenant: services in the matrix too
    assert done.returncode == 0 and "0 disagree" in done.stdout and "refused: no endpoints" in done.stdout, \
        done.stdout[-3000:]
