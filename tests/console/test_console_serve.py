"""`osdn console --serve`'s local app against a real `osdn server`: the console and its API are
forwarded with the browser's token only, nothing else is, and /console/api/kernel-trace answers as
`adm trace` would (model verdict plus the kernel section, here "not probed": these pods run in no
lab) within its limits: a token is required, bad input is a 400, a big body 413, a busy probe 429,
and a project admin's token gets no probe (403, as with `adm trace`). No root, no lab needed."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from conftest import ServerProc, start_server
from consolekit import make_project_admin, seed_cluster
from starlette.testclient import TestClient

from osdn.cli.console_serve import KernelTracer, ProbeBusyError, ServeLimits, build_app, loopback_socket
from osdn.client import load_config
from osdn.errors import BadRequestError

TRACE = "/console/api/kernel-trace"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    s = start_server(tmp_path_factory.mktemp("console-serve"))
    try:
        seed_cluster(s)
        yield s
    finally:
        s.stop()


@pytest.fixture
def local(srv: ServerProc) -> Iterator[TestClient]:
    with TestClient(build_app(load_config(str(srv.config)), ServeLimits(body_bytes=2048, forward_bytes=2048))) as client:
        yield client


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_app_and_its_api_are_forwarded_with_the_browsers_token_only(srv: ServerProc, local: TestClient) -> None:
    page = local.get("/console/")
    assert page.status_code == 200 and 'id="trace-kernel"' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert local.get("/console/static/app.js").status_code == 200
    assert local.get("/osdn/v1/whoami").status_code == 401  # no token of its own is added
    assert local.get("/osdn/v1/whoami", headers=_auth(srv.admin_token)).status_code == 200
    topo = local.get("/console/api/topology", headers=_auth(srv.admin_token))
    assert topo.status_code == 200 and "alpha" in topo.text
    assert local.get("/api/v1/pods", headers=_auth(srv.admin_token)).status_code == 404  # only the console


def test_kernel_trace_answers_like_adm_trace(srv: ServerProc, local: TestClient) -> None:
    assert local.get(TRACE).json() == {"kernel": True, "probes": 1}
    r = local.post(TRACE, json={"from": "alpha/a1", "to": "beta/b1", "port": 80}, headers=_auth(srv.admin_token))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["modelAllowed"] is True
    assert out["kernel"]["probed"] is False and out["kernel"]["unavailable"]
    assert out["text"] == f"kernel: not probed ({out['kernel']['unavailable']})"
    cli = srv.cli("adm", "trace", "--from", "alpha/a1", "--to", "beta/b1", "-o", "json", check=True)
    assert '"kernel"' in cli.stdout and out["kernel"]["unavailable"] in cli.stdout


def test_kernel_trace_limits(srv: ServerProc, local: TestClient) -> None:
    body = {"from": "alpha/a1", "to": "beta/b1"}
    assert local.post(TRACE, json=body).status_code == 401
    assert local.post(TRACE, json=body, headers=_auth("not-a-token")).status_code == 401
    for bad, field in (({**body, "port": 70000}, "port"), ({**body, "protocol": "ICMP"}, "protocol"),
                       ({**body, "timeout": 60}, "timeout"), ({"from": "alpha/a1"}, "to"),
                       ({**body, "from": "x" * 300}, "from")):
        r = local.post(TRACE, json=bad, headers=_auth(srv.admin_token))
        assert r.status_code == 400 and field in r.json()["message"], (bad, r.text)
    big = local.post(TRACE, content=b"{" + b" " * 4096 + b"}", headers=_auth(srv.admin_token))
    assert big.status_code == 413 and "kernel-trace" in big.json()["message"]
    impact = local.post("/console/api/impact", content=b" " * 4096, headers=_auth(srv.admin_token))
    assert impact.status_code == 413 and "/console/api/impact" in impact.json()["message"]


def test_a_project_admin_may_not_probe(srv: ServerProc, local: TestClient) -> None:
    """As `adm trace`: the model needs the whole cluster's network objects, so only a token that may
    list them cluster-wide gets a probe (which runs as root on this host)."""
    token = make_project_admin(srv, "dora", "dora-app")
    r = local.post(TRACE, json={"from": "dora-app/x", "to": "beta/b1"}, headers=_auth(token))
    assert r.status_code == 403, r.text
    assert 'User "dora" cannot list' in r.json()["message"]


def test_probes_beyond_the_limit_are_refused_not_queued(srv: ServerProc) -> None:
    tracer = KernelTracer(load_config(str(srv.config)), ServeLimits(probes=1))
    gate, release = threading.Event(), threading.Event()
    real_trace = tracer.trace

    def hold() -> None:  # a probe in flight: holds the only slot until released
        with tracer._slots:
            gate.set()
            release.wait(60)
    t = threading.Thread(target=hold)
    t.start()
    try:
        assert gate.wait(30)
        with pytest.raises(ProbeBusyError) as busy:
            real_trace(srv.admin_token, {"from": "alpha/a1", "to": "beta/b1"})
        assert busy.value.code == 429
    finally:
        release.set()
        t.join(30)
    assert real_trace(srv.admin_token, {"from": "alpha/a1", "to": "beta/b1"})["modelAllowed"] is True


def test_listen_is_loopback_only() -> None:
    for listen in ("0.0.0.0:0", "192.0.2.1:80", "localhost:0", "127.0.0.1"):
        with pytest.raises(BadRequestError):
            loopback_socket(listen)
    sock = loopback_socket("127.0.0.1:0")
    try:
        assert sock.getsockname()[0] == "127.0.0.1"
    finally:
        sock.close()
