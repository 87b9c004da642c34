"""`osdn create route edge|passthrough|reencrypt` builds the Route `oc create route` builds."""

from __future__ import annotations

from pathlib import Path

import pytest

from osdn.cli.route_cmd import build_route


def test_edge_with_files_and_policy(tmp_path: Path) -> None:
    for name in ("tls.crt", "tls.key", "ca.crt"):
        (tmp_path / name).write_text(f"{name}-pem\n")
    route = build_route("edge", "shop", "web", {
        "hostname": "shop.example.com", "route_path": "/cart", "port": "8080", "insecure_policy": "Redirect",
        "cert": str(tmp_path / "tls.crt"), "key": str(tmp_path / "tls.key"), "ca_cert": str(tmp_path / "ca.crt")})
    assert route["spec"] == {"to": {"kind": "Service", "name": "web"}, "host": "shop.example.com", "path": "/cart",
                             "port": {"targetPort": 8080},
                             "tls": {"termination": "edge", "certificate": "tls.crt-pem\n", "key": "tls.key-pem\n",
                                     "caCertificate": "ca.crt-pem\n", "insecureEdgeTerminationPolicy": "Redirect"}}


@pytest.mark.parametrize("termination", ["passthrough", "reencrypt"])
def test_named_port_and_termination(termination: str) -> None:
    route = build_route(termination, "r", "svc", {"port": "https"})
    assert route["spec"]["port"] == {"targetPort": "https"} and route["spec"]["tls"] == {"termination": termination}
