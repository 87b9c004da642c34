"""Revoking access must also cut connections that are already established (2-node labs).

openshift-sdn checks the netid of every packet (multitenant: OVS table 80 matches reg0/reg1 per
packet) and, in networkpolicy mode, lets only *reply* packets bypass the policy flows
(`ct_state=+rpl`); OVN does the same for its ACLs. So `isolate-projects` or a new NetworkPolicy
stops an open connection at its next request packet, not only new connections. Here a TCP stream
runs between two pods across nodes, access is revoked, and once new connections are refused the
old one must stop getting answers too.

osdn does the same: only `ct direction reply` (and related ICMP) bypasses the checks in
osdn/node/render/inet.py, so every request packet is checked.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
import yaml
from labcheck import ECHO_PORT, ECHO_SERVER, EchoStream, wait_for
from labkit import Lab, make_lab, needs_agent

pytestmark = [pytest.mark.e2e, needs_agent]
SEEDS = "tests/fixtures/seeds"


@pytest.fixture(scope="module")
def mt_lab() -> Iterator[Lab]:
    yield from make_lab("rvm", "multitenant", 2)


@pytest.fixture(scope="module")
def np_lab() -> Iterator[Lab]:
    yield from make_lab("rvn", "networkpolicy", 2)


def echo_pair(lab: Lab, server_project: str, client_project: str) -> tuple[tuple[str, str], tuple[str, str]]:
    srv = lab.pod("srv", server_project, "node2", ports=[ECHO_PORT],
                  command=[sys.executable, "-u", "-c", ECHO_SERVER])
    cli = lab.pod("cli", client_project, "node1")
    return srv, cli


def assert_cut_once_refused(lab: Lab, stream: EchoStream, cli_ns: str, srv_ip: str) -> None:
    assert not lab.can_connect(cli_ns, srv_ip, ECHO_PORT, want=False, within=15), "new connections still open"
    assert not stream.progresses(within=3), \
        f"the established connection still gets answers after access was revoked ({stream.echoed} so far)"


def test_isolate_projects_cuts_established_connections(mt_lab: Lab) -> None:
    lab = mt_lab
    (srv_ip, _), (_, cli_ns) = echo_pair(lab, "b", "a")
    lab.cli("adm", "pod-network", "join-projects", "--to", "a", "b")
    assert lab.can_connect(cli_ns, srv_ip, ECHO_PORT, within=15)
    with EchoStream(cli_ns, srv_ip) as stream:
        wait_for("the stream to flow", lambda: stream.echoed >= 10)
        lab.cli("adm", "pod-network", "isolate-projects", "b")
        assert_cut_once_refused(lab, stream, cli_ns, srv_ip)


def test_a_deny_policy_cuts_established_connections(np_lab: Lab) -> None:
    lab = np_lab
    (srv_ip, _), (_, cli_ns) = echo_pair(lab, "db", "web")
    with EchoStream(cli_ns, srv_ip) as stream:
        wait_for("the stream to flow", lambda: stream.echoed >= 10)
        with open(f"{SEEDS}/002-networkpolicy-deny-by-default.yaml") as fh:
            lab.client.create(yaml.safe_load(fh), namespace="db")
        assert_cut_once_refused(lab, stream, cli_ns, srv_ip)
