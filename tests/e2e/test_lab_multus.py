"""Secondary networks in a 1-node lab: the lab kubelet honours `k8s.v1.cni.cncf.io/networks` as
Multus does, with real packets through net1 to the lab's outside web server (which answers with
the source address it sees), refuses plugin types osdn does not ship and NADs across projects."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from labkit import Lab, make_lab, needs_agent
from test_lab_egress_router import http

from osdn.kernel import links, netns
from osdn.lab.pods import ensure_project, pod_netns, wait_pod_ip
from tests.conftest import wait_for

pytestmark = [pytest.mark.e2e, needs_agent]
P, OTHER = "mnp", "mnq"
SOURCE = "198.18.0.160"


def nad(name: str, config: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "k8s.cni.cncf.io/v1", "kind": "NetworkAttachmentDefinition",
            "metadata": {"name": name}, "spec": {"config": json.dumps(config)}}


def egress_config(source: str, destinations: list[str]) -> dict[str, Any]:
    return {"cniVersion": "0.4.0", "type": "egress-router", "name": "egress-router-cni-nad",
            "ip": {"addresses": [f"{source}/24"], "gateway": "198.18.0.1", "destinations": destinations}}


def pod(name: str, networks: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "annotations": {"k8s.v1.cni.cncf.io/networks": networks}},
            "spec": {"containers": [{"name": "c", "image": "python", "command": ["sleep", "100000"]}],
                     "restartPolicy": "Never"}}


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    yield from make_lab("mn", "subnet", 1)


@pytest.fixture(scope="module")
def client_ns(lab: Lab) -> str:
    for project in (P, OTHER):
        ensure_project(lab.client, project)
    return lab.pod("client", P)[1]


def sandbox_event(lab: Lab, project: str, name: str) -> str:
    def find() -> str:
        events = lab.client.list("Event", project)["items"]
        return next((e["message"] for e in events if e["involvedObject"]["name"] == name
                     and e["reason"] == "FailedCreatePodSandBox"), "")
    return str(wait_for(find, 60, f"a FailedCreatePodSandBox event of pod {project}/{name}"))


def test_pod_gets_net1_from_its_nad_and_leaves_through_it(lab: Lab, client_ns: str) -> None:
    lab.client.create(nad("egress-nad", egress_config(SOURCE, ["203.0.113.80"])), P)
    lab.client.create(pod("router", "egress-nad"), P)
    ip = wait_pod_ip(lab.client, P, "router", timeout=90)
    got = lab.client.get("Pod", "router", P)
    status = json.loads(got["metadata"]["annotations"]["k8s.v1.cni.cncf.io/network-status"])
    assert [(s["name"], s["interface"], s["ips"], s.get("default")) for s in status] == [
        ("openshift-sdn", "eth0", [ip], True), (f"{P}/egress-nad", "net1", [SOURCE], None)]
    ns = pod_netns(got)
    net1 = links.with_netlink(ns, lambda nl: links.observe_link(nl, "net1"))
    assert net1 is not None and net1.kind == "macvlan" and net1.mac == status[1]["mac"]
    answer = wait_for(lambda: (r := http(client_ns, f"http://{ip}/")).startswith("you are") and r, 30,
                      "the outside web server's answer through the router")
    assert answer.startswith(f"you are {SOURCE}:")
    lab.delete_pod("router", P)
    assert not netns.netns_exists(ns)


def test_nad_of_the_default_namespace_is_global(lab: Lab, client_ns: str) -> None:
    lab.client.create(nad("shared-egress", egress_config("198.18.0.161", ["203.0.113.81"])), "default")
    lab.client.create(pod("shared", '[{"name": "shared-egress", "namespace": "default", "interface": "ext0"}]'),
                      OTHER)
    ip = wait_pod_ip(lab.client, OTHER, "shared", timeout=90)
    status = json.loads(lab.client.get("Pod", "shared", OTHER)["metadata"]["annotations"][
        "k8s.v1.cni.cncf.io/network-status"])
    assert (status[1]["name"], status[1]["interface"]) == ("default/shared-egress", "ext0")
    answer = wait_for(lambda: (r := http(client_ns, f"http://{ip}/")).startswith("you are") and r, 30,
                      "the outside web server's answer through the router")
    assert answer.startswith("you are 198.18.0.161:")
    lab.delete_pod("shared", OTHER)


def test_other_plugin_types_are_refused_with_an_event(lab: Lab, client_ns: str) -> None:
    lab.client.create(nad("bridge-nad", {"cniVersion": "0.4.0", "type": "bridge", "bridge": "br9"}), P)
    lab.client.create(pod("bridged", "bridge-nad"), P)
    message = sandbox_event(lab, P, "bridged")
    assert f'network-attachment-definition {P}/bridge-nad: CNI plugin type "bridge" is not run by this kubelet' \
        in message
    assert not lab.client.get("Pod", "bridged", P)["status"].get("podIP")


def test_a_nad_of_another_project_is_not_usable(lab: Lab, client_ns: str) -> None:
    lab.client.create(pod("thief", f"{P}/egress-nad"), OTHER)
    assert "namespace isolation enabled, annotation violates permission, pod is in namespace " \
        f"{OTHER} but refers to target namespace {P}" in sandbox_event(lab, OTHER, "thief")
    lab.client.create(pod("lost", "no-such-nad"), P)
    assert f"network-attachment-definition {P}/no-such-nad (pod annotation k8s.v1.cni.cncf.io/networks) " \
        "not found" in sandbox_event(lab, P, "lost")


ROUTER_CR = """
apiVersion: network.operator.openshift.io/v1
kind: EgressRouter
metadata:
  name: egress-router-redirect
spec:
  networkInterface:
    macvlan:
      mode: Bridge
  addresses:
  - ip: "198.18.0.162/24"
    gateway: "198.18.0.1"
  mode: Redirect
  redirect:
    redirectRules:
    - destinationIP: "203.0.113.81"
      port: 8080
      targetPort: 80
      protocol: TCP
    fallbackIP: "203.0.113.80"
"""


def test_egress_router_cr_to_a_service_of_its_deployment(lab: Lab, client_ns: str, tmp_path: Any) -> None:
    path = tmp_path / "router.yaml"
    path.write_text(ROUTER_CR)
    assert lab.cli("create", "-n", OTHER, "-f", str(path)).stdout.strip() == \
        "egressrouter.network.operator.openshift.io/egress-router-redirect created"

    def router_pod() -> dict[str, Any] | None:
        pods = lab.client.list("Pod", OTHER, label_selector="app=egress-router-cni")["items"]
        return next((p for p in pods if p.get("status", {}).get("podIP")
                     and "k8s.v1.cni.cncf.io/network-status" in p["metadata"].get("annotations", {})), None)
    pod_obj = wait_for(router_pod, 120, "the egress router's pod running with net1")
    status = json.loads(pod_obj["metadata"]["annotations"]["k8s.v1.cni.cncf.io/network-status"])
    assert [(s["name"], s["interface"], s.get("ips"), s.get("default")) for s in status] == [
        ("openshift-sdn", "eth0", [pod_obj["status"]["podIP"]], None),
        (f"{OTHER}/egress-router-cni-nad", "net1", ["198.18.0.162"], True)]
    out = lab.cli("expose", "deployment/egress-router-cni-deployment", "--port", "80", "-n", OTHER).stdout
    assert out.strip() == "service/egress-router-cni-deployment exposed"
    vip = lab.client.get("Service", "egress-router-cni-deployment", OTHER)["spec"]["clusterIP"]
    answer = wait_for(lambda: (r := http(client_ns, f"http://{vip}/")).startswith("you are") and r, 60,
                      "the outside web server's answer through the router's service")
    assert answer.startswith("you are 198.18.0.162:")
    assert http(client_ns, f"http://{pod_obj['status']['podIP']}:8080/").startswith("you are 198.18.0.162:")
    def available() -> bool:
        got = lab.client.get("EgressRouter", "egress-router-redirect", OTHER)
        return ("Available", "True") in [(c["type"], c["status"]) for c in got.get("status", {}).get("conditions", [])]
    wait_for(available, 60, "the EgressRouter Available")

    ns = pod_netns(pod_obj)
    lab.cli("delete", "egressrouter", "egress-router-redirect", "-n", OTHER)
    wait_for(lambda: not lab.client.list("NetworkAttachmentDefinition", OTHER)["items"]
             and not lab.client.list("Deployment", OTHER)["items"], 60, "the NAD and the Deployment deleted")
    wait_for(lambda: not netns.netns_exists(ns), 60, "the router's pod stopped")
