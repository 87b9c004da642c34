"""The console in headless Chromium against a real `osdn server` with objects made through the API:
log in with a token, the topology shows every node and pod, the impact preview of the seed's
deny-by-default lists what it would close, the matrix follows a new policy (and, multitenant, a
join-projects) without a reload, drill-down, a trace of the blocked pair names the policy, and a
project admin's token sees only their project. Screenshots are saved in the test's tmp dir."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from browserkit import Browser, browser, need_chromium
from conftest import ServerProc, start_server
from consolekit import DENY_BY_DEFAULT, NODES, PODS, add_pod, make_project_admin, seed_cluster

POLICIES = "/apis/networking.k8s.io/v1/namespaces/beta/networkpolicies"


@pytest.fixture
def srv(tmp_path: Path) -> Iterator[ServerProc]:
    need_chromium()
    s = start_server(tmp_path)
    try:
        seed_cluster(s)
        yield s
    finally:
        s.stop()


@pytest.fixture
def multitenant(tmp_path: Path) -> Iterator[ServerProc]:
    need_chromium()
    s = start_server(tmp_path, "--network-plugin", "multitenant")
    try:
        seed_cluster(s)
        yield s
    finally:
        s.stop()


def _check_topology(b: Browser) -> None:
    for node in NODES:
        b.wait_css(f"node {node}", f"g.node[data-node='{node}']")
    for pod in PODS:
        b.wait_css(f"pod {pod}", f"rect.pod[data-pod='{pod}']")
    assert len(b.css("path.vxlan")) == 1
    b.screenshot("topology")


def _check_impact(b: Browser, srv: ServerProc) -> None:
    b.preview_impact(DENY_BY_DEFAULT, "beta")
    b.wait("the connections deny-by-default would close",
           lambda d: "alpha/a1 -> beta/b1 TCP/80" in b.text("#impact-closed"))
    assert b.text("#impact-output").startswith("Impact: 0 connection(s) would OPEN")
    b.screenshot("impact")
    with srv.http() as http:
        assert http.get(POLICIES).json()["items"] == []  # a preview wrote nothing


def _check_matrix_follows_a_policy(b: Browser, srv: ServerProc) -> None:
    b.show_matrix("pod")
    b.wait("alpha/a1 -> beta/b1 allowed", lambda d: b.cell("alpha/a1", "beta/b1") == "1")
    b.js("document.body.dataset.marker = 'same page'")
    with srv.http() as http:
        assert http.post(POLICIES, json={"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                                         "metadata": {"name": "deny-by-default"},
                                         "spec": {"podSelector": {}, "ingress": []}}).status_code == 201
    b.wait("alpha/a1 -> beta/b1 denied after the policy", lambda d: b.cell("alpha/a1", "beta/b1") == "0")
    assert b.js("return document.body.dataset.marker") == "same page"  # no reload
    assert b.cell("beta/b1", "alpha/a1") == "1"
    b.screenshot("reachability")


def _check_drill_down_and_trace(b: Browser) -> None:
    b.show_matrix("project")
    b.click_cell("alpha", "beta")
    b.wait("the alpha -> beta pods", lambda d: b.js("return document.querySelector('#matrix').dataset.scope") == "alpha->beta")
    b.wait("the drilled-down cell", lambda d: b.cell("alpha/a1", "beta/b1") == "0")
    b.click_cell("alpha/a1", "beta/b1")
    b.wait("the trace of the blocked pair", lambda d: "NetworkPolicy beta/deny-by-default" in b.text("#trace-output"))
    assert b.text("#trace-verdict") == "DENIED"
    assert b.text("#trace-output").startswith("pod alpha/a1 (10.128.0.2) -> pod beta/b1 (10.128.0.3) TCP/80: DENIED")
    b.wait("where the kernel's view is", lambda d: "run `osdn console --serve` on a lab host" in b.text("#trace-kernel"))
    b.screenshot("trace")


def test_console_as_admin_and_as_a_project_admin(srv: ServerProc, tmp_path: Path) -> None:
    with browser(tmp_path / "screenshots") as b:
        b.login(srv.url, srv.admin_token)
        _check_topology(b)
        _check_impact(b, srv)
        _check_matrix_follows_a_policy(b, srv)
        _check_drill_down_and_trace(b)

        alice = make_project_admin(srv, "alice", "wonder")
        add_pod(srv, "wonder/w1", "node1", "10.128.0.9")
        b.js("document.querySelector('#logout').click()")
        assert b.css("rect.pod") == [] and b.css("#matrix .cell") == []  # nothing left for the next user
        b.login(srv.url, alice)
        b.view("topology")
        b.wait_css("alice's pod", "rect.pod[data-pod='wonder/w1']")
        assert b.attrs("rect.pod", "data-pod") == ["wonder/w1"]
        assert b.text("#who") == "alice"
        b.show_matrix("project")
        b.wait("alice's matrix", lambda d: b.cell("wonder", "wonder") == "0")
        assert b.attrs("#matrix .cell", "data-from") == ["wonder"]
        b.screenshot("project-admin")


def test_matrix_follows_join_projects_without_a_reload(multitenant: ServerProc, tmp_path: Path) -> None:
    with browser(tmp_path / "screenshots") as b:
        b.login(multitenant.url, multitenant.admin_token)
        b.show_matrix("pod")
        b.wait("alpha and beta isolated", lambda d: b.cell("alpha/a1", "beta/b2") == "0")
        b.js("document.body.dataset.marker = 'same page'")
        multitenant.cli("adm", "pod-network", "join-projects", "--to=alpha", "beta", check=True)
        b.wait("alpha/a1 -> beta/b2 allowed after join-projects", lambda d: b.cell("alpha/a1", "beta/b2") == "1")
        assert b.js("return document.body.dataset.marker") == "same page"
        b.screenshot("join-projects")
