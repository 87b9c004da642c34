"""ExternalIPRanger over HTTP: Service externalIPs are refused by default, for cluster admins too; the
policy of `Network cluster` opens ranges (and closes parts of them) for the next write."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerProc, start_server

NETWORK = "/apis/operator.openshift.io/v1/networks/cluster"
MERGE = {"Content-Type": "application/merge-patch+json"}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    s = start_server(tmp_path_factory.mktemp("externalips"))
    try:
        s.cli("new-project", "shop", check=True)
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def user_token(srv: ServerProc, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A project admin's token (`new-project` makes its requester admin of it)."""
    path: Path = tmp_path_factory.mktemp("user") / "user.conf"
    srv.cli("adm", "token", "create", "tenant", "--write-config", str(path), check=True)
    srv.cli("new-project", "tenant", config=path, check=True)
    from osdn.client.config import load_config
    return load_config(str(path)).token


def service(name: str, *ips: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80}], "externalIPs": list(ips)}}


def post(srv: ServerProc, ns: str, body: dict[str, Any], token: str | None = None) -> tuple[int, dict[str, Any]]:
    with srv.http(token) as c:
        r = c.post(f"/api/v1/namespaces/{ns}/services", json=body)
    return r.status_code, r.json()


def set_policy(srv: ServerProc, policy: dict[str, Any] | None) -> None:
    with srv.http() as c:
        r = c.patch(NETWORK, json={"spec": {"externalIP": None if policy is None else {"policy": policy}}},
                    headers=MERGE)
    assert r.status_code == 200, r.text


def test_refused_by_default_even_for_a_cluster_admin(srv: ServerProc) -> None:
    code, status = post(srv, "shop", service("admin-eip", "192.0.2.10"))
    assert code == 422 and status["reason"] == "Invalid", status
    assert status["message"] == ('Service "admin-eip" in project "shop": spec.externalIPs: Forbidden: '
                                 "externalIPs have been disabled")
    assert status["details"]["causes"] == [{"field": "spec.externalIPs", "reason": "FieldValueForbidden",
                                            "message": "Forbidden: externalIPs have been disabled"}]
    assert post(srv, "shop", service("plain"))[0] == 201  # no externalIPs: nothing to decide


def test_the_policy_opens_ranges_and_rejected_cidrs_close_parts(srv: ServerProc, user_token: str) -> None:
    set_policy(srv, {"allowedCIDRs": ["192.0.2.0/24"], "rejectedCIDRs": ["192.0.2.128/25"]})
    try:
        code, created = post(srv, "tenant", service("ok", "192.0.2.10"), user_token)
        assert code == 201 and created["spec"]["externalIPs"] == ["192.0.2.10"], created
        code, status = post(srv, "tenant", service("hijack", "192.0.2.10", "10.0.0.53"), user_token)
        assert code == 422 and status["message"] == (
            'Service "hijack" in project "tenant": spec.externalIPs[1]: Forbidden: externalIP is not allowed: '
            '10.0.0.53 is not in spec.externalIP.policy.allowedCIDRs of Network "cluster"'), status
        code, status = post(srv, "shop", service("closed", "192.0.2.200"))
        assert code == 422 and "spec.externalIPs[0]: Forbidden: externalIP is not allowed: 192.0.2.200 is in " \
            "spec.externalIP.policy.rejectedCIDRs" in status["message"], status
        with srv.http(user_token) as c:  # an update is judged too
            r = c.patch("/api/v1/namespaces/tenant/services/ok", json={"spec": {"externalIPs": ["198.51.100.1"]}},
                        headers=MERGE)
        assert r.status_code == 422 and "spec.externalIPs[0]: Forbidden: externalIP is not allowed" in r.text
    finally:
        set_policy(srv, None)
    with srv.http(user_token) as c:  # the policy is gone: the next write is refused again
        r = c.patch("/api/v1/namespaces/tenant/services/ok", json={"metadata": {"labels": {"x": "y"}}},
                    headers=MERGE)
    assert r.status_code == 422 and "externalIPs have been disabled" in r.text


def test_a_tenant_cannot_edit_the_policy_and_bad_cidrs_are_invalid(srv: ServerProc, user_token: str) -> None:
    with srv.http(user_token) as c:
        r = c.patch(NETWORK, json={"spec": {"externalIP": {"policy": {"allowedCIDRs": ["0.0.0.0/0"]}}}},
                    headers=MERGE)
    assert r.status_code == 403, r.text
    with srv.http() as c:
        r = c.patch(NETWORK, json={"spec": {"externalIP": {"policy": {"allowedCIDRs": ["192.0.2.1/24"]}}}},
                    headers=MERGE)
    assert r.status_code == 422, r.text
    assert 'spec.externalIP.policy.allowedCIDRs[0]: Invalid value: "192.0.2.1/24"' in r.json()["message"]
