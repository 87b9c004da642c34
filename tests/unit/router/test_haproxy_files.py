"""Configuration generations with the real `haproxy -c`: a refused generation never reaches live/."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from osdn.router.certs import ensure_default_certificate
from osdn.router.controller import culprits
from osdn.router.haproxy import HAProxy
from osdn.router.plan import Snapshot, compute_plan
from osdn.router.render import RouterSettings
from tests.unit.router.router_builders import endpoints, route

pytestmark = pytest.mark.skipif(shutil.which("haproxy") is None, reason="needs Debian's haproxy")
GARBAGE = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"


def files(tmp_path: Path, *routes: dict) -> dict[str, str]:
    settings = RouterSettings(run_dir=str(tmp_path), default_certificate=str(ensure_default_certificate(tmp_path / "d.pem")))
    eps = {("p1", "web"): endpoints("web", ["10.128.0.5"], [{"port": 8080}])}
    return compute_plan(Snapshot({(r["metadata"]["namespace"], r["metadata"]["name"]): r for r in routes}, {}, {}, eps),
                        settings).files


def test_valid_generation_goes_live_and_stale_files_go(tmp_path: Path) -> None:
    proxy = HAProxy(tmp_path)
    ca = ensure_default_certificate(tmp_path / "d.pem").read_text().split("-----BEGIN PRIVATE KEY")[0]
    proxy.stage(files(tmp_path, route("a", "a.x.com", tls={"termination": "reencrypt", "destinationCACertificate": ca})))
    assert proxy.check().ok
    proxy.promote()
    assert (tmp_path / "live" / "cacerts" / "p1:a.pem").exists()
    proxy.stage(files(tmp_path, route("b", "b.x.com")))
    assert proxy.check().ok
    proxy.promote()
    assert "be_http:p1:b" in (tmp_path / "live" / "haproxy.cfg").read_text()
    assert not (tmp_path / "live" / "cacerts" / "p1:a.pem").exists()


def test_refused_generation_names_the_route_and_live_is_untouched(tmp_path: Path) -> None:
    proxy = HAProxy(tmp_path)
    proxy.stage(files(tmp_path, route("a", "a.x.com")))
    proxy.promote()
    live = (tmp_path / "live" / "haproxy.cfg").read_text()
    bad = route("bad", "bad.x.com", tls={"termination": "edge", "certificate": GARBAGE, "key": GARBAGE})
    proxy.stage(files(tmp_path, route("a", "a.x.com"), bad))
    check = proxy.check()
    assert not check.ok and culprits(check.output) == {("p1", "bad")}
    assert (tmp_path / "live" / "haproxy.cfg").read_text() == live
    proxy.stage(files(tmp_path, route("ca", "ca.x.com", tls={"termination": "reencrypt", "destinationCACertificate": "x"})))
    check = proxy.check()
    assert not check.ok and culprits(check.output) == {("p1", "ca")}
