"""Egress IP admission over real HTTP: each refusal with the message `osdn patch` prints."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import ServerProc, start_server

IPCONFIG = json.dumps([{"interface": "eth0", "ifaddr": {"ipv4": "198.18.0.0/24"}}])


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    s = start_server(tmp_path_factory.mktemp("egressip"), "--network-plugin", "multitenant")
    try:
        for p in ("e1", "e2"):
            s.cli("new-project", p, check=True)
        for i in (1, 2, 3):  # hand-made HostSubnets (no node-uid: the master leaves them alone)
            create(s, {"apiVersion": "network.openshift.io/v1", "kind": "HostSubnet", "metadata": {"name": f"n{i}"},
                       "host": f"n{i}", "hostIP": f"198.18.0.1{i}", "subnet": f"10.128.{2 * i}.0/23"})
            create(s, {"apiVersion": "v1", "kind": "Node",
                       "metadata": {"name": f"n{i}", "annotations": {"network.osdn.io/egress-ipconfig": IPCONFIG}}})
        yield s
    finally:
        s.stop()


def create(srv: ServerProc, obj: dict[str, Any]) -> None:
    srv.cli("create", "-f", "-", input=json.dumps(obj), check=True)


def patch(srv: ServerProc, kind: str, name: str, body: dict[str, Any]) -> Any:
    return srv.cli("patch", kind, name, "--type=merge", "-p", json.dumps(body))


def refused(srv: ServerProc, kind: str, name: str, body: dict[str, Any], *words: str) -> None:
    r = patch(srv, kind, name, body)
    assert r.returncode == 1, r.stdout
    for w in words:
        assert w in r.stderr, r.stderr


def test_egress_ip_equal_to_a_node_ip_is_refused(srv: ServerProc) -> None:
    refused(srv, "netnamespace", "e1", {"egressIPs": ["198.18.0.12"]},
            'NetNamespace "e1"', 'egressIPs[0]: Invalid value: "198.18.0.12": is the IP of node n2')
    refused(srv, "hostsubnet", "n1", {"egressIPs": ["198.18.0.13"]}, 'is the IP of node n3')


def test_an_egress_ip_belongs_to_one_project(srv: ServerProc) -> None:
    assert patch(srv, "netnamespace", "e1", {"egressIPs": ["198.18.0.150"]}).returncode == 0
    refused(srv, "netnamespace", "e2", {"egressIPs": ["198.18.0.151", "198.18.0.150"]},
            'egressIPs[1]: Invalid value: "198.18.0.150": already requested by project e1')
    assert patch(srv, "netnamespace", "e1", {"egressIPs": None}).returncode == 0  # removing is always fine


def test_egress_ip_outside_the_node_underlay_network_is_refused(srv: ServerProc) -> None:
    refused(srv, "hostsubnet", "n1", {"egressIPs": ["198.18.1.100"]},
            '"198.18.1.100": not in node n1\'s network 198.18.0.0/24')
    refused(srv, "hostsubnet", "n1", {"egressCIDRs": ["10.0.0.0/24"]}, '"10.0.0.0/24": not in node n1\'s network')


def test_manual_and_automatic_are_not_mixed(srv: ServerProc) -> None:
    refused(srv, "hostsubnet", "n1", {"egressCIDRs": ["198.18.0.160/28"], "egressIPs": ["198.18.0.100"]},
            "manual and automatic egress IPs cannot be mixed on one node")
    assert patch(srv, "hostsubnet", "n1", {"egressIPs": ["198.18.0.100"]}).returncode == 0
    refused(srv, "hostsubnet", "n2", {"egressCIDRs": ["198.18.0.96/28"]},
            "holds manually assigned egress IPs (198.18.0.100 on node n1)")
    assert patch(srv, "hostsubnet", "n2", {"egressCIDRs": ["198.18.0.112/28"]}).returncode == 0
    refused(srv, "hostsubnet", "n3", {"egressIPs": ["198.18.0.113"]}, "inside egressCIDRs of node n2")
    refused(srv, "hostsubnet", "n3", {"egressIPs": ["198.18.0.100"]}, "already assigned to node n1")
    assert patch(srv, "hostsubnet", "n3", {"egressIPs": ["198.18.0.101"]}).returncode == 0
