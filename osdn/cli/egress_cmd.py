"""`osdn egress-router`: the egress router images' program (see osdn/egress and docs/egress.md)."""

from __future__ import annotations

import logging
import os
import sys

import click

from osdn.egress import main as egress


def _env() -> dict[str, str]:
    return dict(os.environ)


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@click.group("egress-router", invoke_without_command=True)
@click.pass_context
def egress_router(ctx: click.Context) -> None:
    """Egress router pod program, configured by the environment as the openshift egress images.

    Without a subcommand: the egress-router image (EGRESS_SOURCE, EGRESS_GATEWAY, EGRESS_DESTINATION,
    EGRESS_ROUTER_MODE = init | legacy (default) | http-proxy | dns-proxy | unit-test). It configures
    macvlan0 (made by the node for pods annotated pod.network.openshift.io/assign-macvlan: "true") and,
    in init and legacy modes, redirects with nftables DNAT/SNAT in the pod's own network namespace.
    It refuses to run in the host's root network namespace.

    \b
    Examples:
      EGRESS_ROUTER_MODE=unit-test EGRESS_SOURCE=192.168.12.99/24 EGRESS_GATEWAY=192.168.12.1 EGRESS_DESTINATION='80 tcp 203.0.113.25' osdn egress-router
      EGRESS_SOURCE=192.168.12.99/24 EGRESS_GATEWAY=192.168.12.1 EGRESS_DESTINATION=203.0.113.25 EGRESS_ROUTER_MODE=init osdn egress-router
    """
    if ctx.invoked_subcommand is None:
        _logging()
        sys.exit(egress.run_router(_env()))


@egress_router.command("http-proxy")
def http_proxy() -> None:
    """The egress-http-proxy image: an HTTP/HTTPS proxy on port 8080 for EGRESS_HTTP_PROXY_DESTINATION.

    One line per rule: an IP, a CIDR, a host name, *.domain, each optionally preceded by ! (deny), and
    a last line * (allow the rest); decided as the image's squid rules decide. EGRESS_HTTP_PROXY_MODE=
    unit-test prints those squid rules and exits. One worker per CPU (EGRESS_PROXY_WORKERS).

    \b
    Examples:
      EGRESS_HTTP_PROXY_DESTINATION='*.example.com' osdn egress-router http-proxy
      EGRESS_HTTP_PROXY_MODE=unit-test EGRESS_HTTP_PROXY_DESTINATION='!*.example.com' osdn egress-router http-proxy
    """
    _logging()
    sys.exit(egress.run_http_proxy(_env()))


@egress_router.command("dns-proxy")
def dns_proxy() -> None:
    """The egress-dns-proxy image: TCP forwarding for EGRESS_DNS_PROXY_DESTINATION (names resolved at run time).

    One line per listener: PORT HOST or PORT HOST REMOTEPORT, HOST an IPv4 address or a DNS name
    (re-resolved while running, as haproxy does). EGRESS_DNS_PROXY_DEBUG logs every connection;
    EGRESS_DNS_PROXY_MODE=unit-test prints the image's haproxy configuration and exits.

    \b
    Examples:
      EGRESS_DNS_PROXY_DESTINATION='8443 foobar.com 443' osdn egress-router dns-proxy
      EGRESS_DNS_PROXY_MODE=unit-test EGRESS_DNS_PROXY_DESTINATION='80 example.com' osdn egress-router dns-proxy
    """
    _logging()
    sys.exit(egress.run_dns_proxy(_env()))
