"""The lab's image mapping (pure): the seeds' egress router images run `osdn egress-router`."""

from __future__ import annotations

import sys

import pytest

from osdn.lab.cluster import LabInfo
from osdn.lab.images import container_argv, container_env, image_argv, image_name

OSDN = [sys.executable, "-m", "osdn", "egress-router"]
CASES = [
    ("openshift/origin-egress-router", OSDN),
    ("openshift3/ose-egress-router", OSDN),
    ("registry.access.redhat.com/openshift3/ose-egress-router:v3.11", OSDN),
    ("quay.io:443/openshift/origin-egress-router@sha256:abc", OSDN),
    ("openshift/origin-egress-http-proxy", [*OSDN, "http-proxy"]),
    ("openshift3/ose-egress-http-proxy:latest", [*OSDN, "http-proxy"]),
    ("openshift/origin-egress-dns-proxy", [*OSDN, "dns-proxy"]),
    ("openshift3/ose-egress-dns-proxy", [*OSDN, "dns-proxy"]),
    ("openshift/origin-pod", ["sleep", "infinity"]),
    ("openshift3/ose-pod:v3.11", ["sleep", "infinity"]),
    ("busybox", None),
    ("example/origin-egress-routerx", None),
    ("egress-router", None),
]


@pytest.mark.parametrize(("image", "argv"), CASES, ids=[c[0] for c in CASES])
def test_image_argv(image: str, argv: list[str] | None) -> None:
    assert image_argv(image) == argv


def test_command_wins_over_the_image() -> None:
    assert container_argv({"image": "openshift/origin-egress-router", "command": ["sh"], "args": ["-c", "x"]}) \
        == ["sh", "-c", "x"]
    assert image_name("a/b/c:1") == "c"


def test_env_values_and_field_refs_without_the_api() -> None:
    pod = {"metadata": {"name": "egress-1", "namespace": "p"}, "spec": {"nodeName": "node1"}}
    container = {"env": [{"name": "A", "value": "1"}, {"name": "E"},
                         {"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                         {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                         {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                         {"name": "A", "value": "2"}]}
    lab = LabInfo("t", "/nonexistent", "networkpolicy", "osdn-t-")
    assert container_env(lab, pod, container, "10.128.0.5") == {"A": "2", "E": "", "N": "egress-1",
                                                                "IP": "10.128.0.5", "NODE": "node1"}
