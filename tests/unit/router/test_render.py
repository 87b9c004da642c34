"""HAProxy configuration rendering: golden sections (order-insensitive), maps, and `haproxy -c`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from osdn.router.certs import ensure_default_certificate
from osdn.router.model import describe_route
from osdn.router.plan import Snapshot, compute_plan
from osdn.router.render import RouterSettings
from tests.unit.router.router_builders import endpoints, route

HSTS = "haproxy.router.openshift.io/hsts_header"
SETTINGS = RouterSettings(run_dir="/run/r", default_certificate="/run/r/default.pem")
EPS = {("p1", "web"): endpoints("web", ["10.128.0.5", "10.128.0.6"], [{"name": "http", "port": 8080}])}


def plan_files(*routes: dict, eps: dict | None = None, settings: RouterSettings = SETTINGS) -> dict[str, str]:
    snap = Snapshot({(r["metadata"]["namespace"], r["metadata"]["name"]): r for r in routes}, {}, {},
                    EPS if eps is None else eps)
    return compute_plan(snap, settings).files


def section(cfg: str, header: str) -> set[str]:
    """The lines of one section (a set: order inside a section does not matter here)."""
    blocks = cfg.split("\n\n")
    block = next(b for b in blocks if b.lstrip("\n").startswith(header + "\n"))
    return {line.strip() for line in block.strip().splitlines()[1:]}


def test_http_route_backend_golden() -> None:
    cfg = plan_files(route("a", "a.example.com"))["haproxy.cfg"]
    assert section(cfg, "backend be_http:p1:a") == {
        "mode http", "balance random", "option forwardfor",
        "http-request set-header X-Forwarded-Host %[req.hdr(host)]",
        "http-request set-header X-Forwarded-Port %[dst_port]",
        "http-request set-header X-Forwarded-Proto http if !{ ssl_fc }",
        "http-request set-header X-Forwarded-Proto https if { ssl_fc }",
        "server pod:web:10.128.0.5:8080 10.128.0.5:8080 weight 1",
        "server pod:web:10.128.0.6:8080 10.128.0.6:8080 weight 1"}


@pytest.mark.parametrize(("termination", "header"), [
    ("edge", "backend be_edge_http:p1:a"), ("reencrypt", "backend be_secure:p1:a")])
def test_hsts_set_on_tls_backends_exactly(termination: str, header: str) -> None:
    value = 'max-age="99999";includeSubDomains'
    cfg = plan_files(route("a", "a.example.com", tls={"termination": termination}, annotations={HSTS: value}))
    assert f"http-response set-header Strict-Transport-Security '{value}'" in section(cfg["haproxy.cfg"], header)


@pytest.mark.parametrize(("tls", "value"), [
    (None, "max-age=1"), ({"termination": "passthrough"}, "max-age=1"), ({"termination": "edge"}, "max-age=1;foo")],
    ids=["http", "passthrough", "edge-invalid-value"])
def test_no_hsts_where_upstream_sends_none(tls: dict | None, value: str) -> None:
    cfg = plan_files(route("a", "a.example.com", tls=tls, annotations={HSTS: value}))["haproxy.cfg"]
    assert "Strict-Transport-Security" not in cfg


def test_insecure_policies_pick_the_http_maps() -> None:
    files = plan_files(route("plain", "plain.x.com"),
                       route("allow", "allow.x.com", tls={"termination": "edge", "insecureEdgeTerminationPolicy": "Allow"}),
                       route("redir", "redir.x.com", tls={"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect"}),
                       route("none", "none.x.com", tls={"termination": "edge", "insecureEdgeTerminationPolicy": "None"}),
                       route("pt", "pt.x.com", tls={"termination": "passthrough", "insecureEdgeTerminationPolicy": "Redirect"}))
    assert set(files["os_http_be.map"].splitlines()) == {
        r"^plain\.x\.com(:[0-9]+)?(/.*)?$ be_http:p1:plain", r"^allow\.x\.com(:[0-9]+)?(/.*)?$ be_edge_http:p1:allow"}
    assert set(files["os_route_http_redirect.map"].splitlines()) == {
        r"^redir\.x\.com(:[0-9]+)?(/.*)?$ be_edge_http:p1:redir", r"^pt\.x\.com(:[0-9]+)?(/.*)?$ be_tcp:p1:pt"}
    assert set(files["os_edge_reencrypt_be.map"].splitlines()) == {
        f"^{h}\\.x\\.com(:[0-9]+)?(/.*)?$ be_edge_http:p1:{h}" for h in ("allow", "redir", "none")}
    assert files["os_tcp_be.map"] == "^pt\\.x\\.com$ be_tcp:p1:pt\n"


def test_longer_paths_first_and_wildcards_last() -> None:
    files = plan_files(route("root", "www.x.com", created="01"), route("deep", "www.x.com", path="/a/b", created="02"),
                       route("a", "www.x.com", path="/a", created="03"))
    assert [line.split()[1] for line in files["os_http_be.map"].splitlines()] == \
        ["be_http:p1:deep", "be_http:p1:a", "be_http:p1:root"]
    assert r"^www\.x\.com(:[0-9]+)?/a/b(/.*)?$ be_http:p1:deep" in files["os_http_be.map"]


def test_route_certificate_and_destination_ca_files() -> None:
    tls = {"termination": "reencrypt", "certificate": "CERT", "key": "KEY", "caCertificate": "CHAIN",
           "destinationCACertificate": "DESTCA"}
    files = plan_files(route("r", "r.x.com", tls=tls))
    assert files["certs/p1:r.pem"] == "CERT\nKEY\nCHAIN\n"
    assert files["cacerts/p1:r.pem"] == "DESTCA\n"
    assert files["cert_config.map"] == "certs/p1:r.pem r.x.com\n"
    assert "ssl verifyhost web.p1.svc verify required ca-file cacerts/p1:r.pem" in files["haproxy.cfg"]


def test_weights_split_over_endpoints_and_scaled() -> None:
    r = route("r", "r.x.com", alternateBackends=[{"kind": "Service", "name": "canary", "weight": 50}])
    eps = {**EPS, ("p1", "canary"): endpoints("canary", ["10.128.1.9"], [{"port": 8080}])}
    cfg = plan_files(r, eps=eps)["haproxy.cfg"]
    # web: 100 over 2 endpoints = 50 each; canary: 50 over 1 = 50: equal weights, scaled to 256
    assert "server pod:web:10.128.0.5:8080 10.128.0.5:8080 weight 1" in cfg
    assert "server pod:canary:10.128.1.9:8080 10.128.1.9:8080 weight 1" in cfg


def test_target_port_by_name_and_by_service_port() -> None:
    eps = {("p1", "web"): endpoints("web", ["10.0.0.1"], [{"name": "http", "port": 8080}, {"name": "tls", "port": 8443}])}
    by_name = route("n", "n.x.com", port={"targetPort": "tls"})
    assert "10.0.0.1:8443" in plan_files(by_name, eps=eps)["haproxy.cfg"]
    svc = {"metadata": {"name": "web", "namespace": "p1"}, "spec": {"ports": [{"port": 80, "targetPort": 8080}]}}
    snap = Snapshot({("p1", "s"): route("s", "s.x.com", port={"targetPort": 80})}, {}, {("p1", "web"): svc}, eps)
    assert "10.0.0.1:8080" in compute_plan(snap, SETTINGS).files["haproxy.cfg"]


def test_annotations_balance_and_timeout_validated() -> None:
    ok = route("a", "a.x.com", annotations={"haproxy.router.openshift.io/balance": "leastconn",
                                            "haproxy.router.openshift.io/timeout": "5m"})
    bad = route("b", "b.x.com", annotations={"haproxy.router.openshift.io/balance": "bogus",
                                             "haproxy.router.openshift.io/timeout": "5 m; x"})
    cfg = plan_files(ok, bad)["haproxy.cfg"]
    assert {"balance leastconn", "timeout server 5m"} <= section(cfg, "backend be_http:p1:a")
    assert "balance random" in section(cfg, "backend be_http:p1:b")
    assert not any(line.startswith("timeout") for line in section(cfg, "backend be_http:p1:b"))


def test_rejected_routes_are_not_served() -> None:
    files = plan_files(route("old", "h.x.com", created="01"), route("new", "h.x.com", ns="p2", created="02"))
    assert "be_http:p2:new" not in files["haproxy.cfg"] and "be_http:p1:old" in files["haproxy.cfg"]


def test_render_is_deterministic() -> None:
    routes = [route(f"r{i}", f"h{i}.x.com", created=f"{i:02d}") for i in range(10)]
    assert plan_files(*routes) == plan_files(*reversed(routes))


def test_describe_reads_the_seed_route() -> None:
    desc = describe_route(route("s", "s.x.com", tls={"termination": "edge"},
                                annotations={HSTS: "max-age=31536000;includeSubDomains;preload"}))
    assert (desc.termination, desc.insecure_policy, desc.hsts) == ("edge", "None", "max-age=31536000;includeSubDomains;preload")


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="needs Debian's haproxy")
def test_haproxy_accepts_the_rendered_configuration(tmp_path: Path) -> None:
    cert = ensure_default_certificate(tmp_path / "default.pem")
    pem = cert.read_text()
    settings = RouterSettings(run_dir=str(tmp_path), default_certificate=str(cert))
    files = plan_files(route("a", "a.x.com"), route("e", "e.x.com", tls={"termination": "edge", "certificate": pem,
                                                                             "key": pem, "insecureEdgeTerminationPolicy": "Redirect"},
                                                         annotations={HSTS: 'max-age  =  "99999"'}),
                       route("p", "p.x.com", tls={"termination": "passthrough"}),
                       route("r", "r.x.com", tls={"termination": "reencrypt", "destinationCACertificate": pem}),
                       settings=settings)
    gen = tmp_path / "gen"
    for name, text in files.items():
        (gen / name).parent.mkdir(parents=True, exist_ok=True)
        (gen / name).write_text(text)
    done = subprocess.run(["haproxy", "-c", "-f", "haproxy.cfg"], cwd=gen, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_unequal_weights_keep_their_ratio_in_small_numbers() -> None:
    r = route("r", "r.x.com", alternateBackends=[{"kind": "Service", "name": "canary", "weight": 25},
                                                  {"kind": "Service", "name": "off", "weight": 0}])
    eps = {**EPS, ("p1", "canary"): endpoints("canary", ["10.128.1.9"], [{"port": 8080}]),
           ("p1", "off"): endpoints("off", ["10.128.1.10"], [{"port": 8080}])}
    servers = {line.split()[1]: line.split()[-1] for line in section(plan_files(r, eps=eps)["haproxy.cfg"],
                                                                       "backend be_http:p1:r") if line.startswith("server")}
    # web 100 over 2 endpoints = 50 each, canary 25: 2:2:1; a weight-0 service is kept at 0
    assert servers == {"pod:web:10.128.0.5:8080": "2", "pod:web:10.128.0.6:8080": "2",
                       "pod:canary:10.128.1.9:8080": "1", "pod:off:10.128.1.10:8080": "0"}
