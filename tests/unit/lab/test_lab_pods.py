"""Pure parts of the lab kubelet, runtime and demo: scheduling, pod commands, names, the matrix."""

from __future__ import annotations

import pytest

from osdn.errors import OsdnError
from osdn.lab.cli import parse_labels
from osdn.lab.cluster import LabInfo
from osdn.lab.demo import render_matrix
from osdn.lab.kubelet import matches_selector, pick_node
from osdn.lab.pods import PodRequest, pod_manifest
from osdn.lab.runtime import pod_argv, pod_env, pod_netns_name, result_ip

LAB = LabInfo("lab", "/tmp/osdn-lab-x", "networkpolicy", "osdn-lab-")


def node(name: str, **labels: str) -> dict:
    return {"metadata": {"name": name, "labels": labels}}


NODES = [node("node1", zone="a"), node("node2", zone="b", disk="ssd"), node("node3", zone="a", disk="ssd")]
LAB_NODES = ["node1", "node2", "node3"]


@pytest.mark.parametrize(("selector", "turn", "want"), [
    (None, 0, "node1"), (None, 1, "node2"), (None, 4, "node2"),
    ({"disk": "ssd"}, 0, "node2"), ({"disk": "ssd"}, 1, "node3"),
    ({"zone": "a", "disk": "ssd"}, 7, "node3"), ({"zone": "c"}, 0, None),
], ids=["rr0", "rr1", "rr-wraps", "sel0", "sel1", "two-keys", "no-fit"])
def test_pick_node(selector: dict | None, turn: int, want: str | None) -> None:
    assert pick_node(NODES, LAB_NODES, selector, turn) == want


def test_pick_node_ignores_nodes_outside_the_lab() -> None:
    assert pick_node([*NODES, node("far", disk="ssd")], ["node1", "node3"], {"disk": "ssd"}, 1) == "node3"


def test_matches_selector_needs_every_pair() -> None:
    assert matches_selector({"a": "1", "b": "2"}, {"a": "1"})
    assert not matches_selector({"a": "1"}, {"a": "1", "b": "2"})
    assert matches_selector({}, {})


def test_pod_manifest_defaults_to_port_80_and_no_command() -> None:
    pod = pod_manifest(PodRequest("web", "blue"))
    container = pod["spec"]["containers"][0]
    assert "command" not in container and container["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert "nodeName" not in pod["spec"] and pod["metadata"] == {"name": "web", "namespace": "blue"}


def test_pod_argv_command_args_or_http_server() -> None:
    with_cmd = {"metadata": {"name": "a", "namespace": "n"},
                "spec": {"containers": [{"command": ["sleep"], "args": ["5"]}]}}
    assert pod_argv(with_cmd) == ["sleep", "5"]
    server = pod_argv(pod_manifest(PodRequest("w", "n", ports=[80, 8080])))
    assert server[-3:] == ["n/w", "80", "8080"] and "http.server" in server[3]


def test_busybox_image_puts_applets_first() -> None:
    pod = pod_manifest(PodRequest("b", "n", image="busybox", command=["sh"]))
    assert pod_env(LAB, pod, "10.128.0.2")["PATH"].startswith(LAB.bin_dir + ":")
    pod = pod_manifest(PodRequest("p", "n", image="python"))
    assert pod_env(LAB, pod, "")["PATH"].endswith(":" + LAB.bin_dir)


def test_pod_netns_name_is_per_incarnation_and_swept_by_prefix() -> None:
    pod = {"metadata": {"name": "a", "namespace": "n", "uid": "u1"}}
    again = {"metadata": {"name": "a", "namespace": "n", "uid": "u2"}}
    assert pod_netns_name(LAB, pod) == pod_netns_name(LAB, pod)
    assert pod_netns_name(LAB, pod) != pod_netns_name(LAB, again)
    assert pod_netns_name(LAB, pod).startswith("osdn-lab-pod-")


def test_result_ip_takes_the_ipv4_address() -> None:
    assert result_ip({"ips": [{"address": "fd00::2/64"}, {"address": "10.128.2.5/23"}]}) == "10.128.2.5"
    assert result_ip({}) == ""


def test_parse_labels() -> None:
    assert parse_labels("app=web, tier=front") == {"app": "web", "tier": "front"}
    assert parse_labels("") == {}
    with pytest.raises(OsdnError, match="not key=value"):
        parse_labels("app")


def test_render_matrix() -> None:
    text = render_matrix(["a/1", "b/1"], {("a/1", "b/1"): True, ("b/1", "a/1"): False})
    lines = text.splitlines()
    assert lines[1].split()[1:] == [".", "ok", "1"] and lines[2].split()[1:] == ["--", ".", "2"]
