"""`osdn router`: serve Routes (and Ingresses) with HAProxy until interrupted."""

from __future__ import annotations

import logging
import signal
from pathlib import Path

import click

from osdn.cli.context import Ctx, handle_errors, pass_ctx


@click.command("router")
@click.option("--name", "router_name", default="default", show_default=True,
              help="Router name: the routerName of the status.ingress entries this router writes.")
@click.option("--run-dir", type=click.Path(file_okay=False), default="/var/lib/osdn/router", show_default=True,
              help="Where the HAProxy configuration generations, sockets and the default certificate live.")
@click.option("--reload-interval", type=click.IntRange(0, 3_600_000), default=1000, show_default=True,
              envvar="RELOAD_INTERVAL_MS", metavar="MS",
              help="Reload HAProxy at most once per MS milliseconds; changes meanwhile are batched.")
@click.option("--allow-wildcard-routes", is_flag=True, envvar="ROUTER_ALLOW_WILDCARD_ROUTES",
              help="Admit routes with wildcardPolicy Subdomain (refused with RouteNotAdmitted otherwise).")
@click.option("--netns", default=None, metavar="NAME",
              help="Run HAProxy in this network namespace (the router pod's, in the lab).")
@click.option("--http-port", type=click.IntRange(1, 65535), default=80, show_default=True)
@click.option("--https-port", type=click.IntRange(1, 65535), default=443, show_default=True)
@click.option("--default-certificate", type=click.Path(exists=True, dir_okay=False), default=None,
              help="PEM with certificate and key for TLS routes without their own (default: one generated "
                   "in --run-dir).")
@click.option("--canonical-hostname", default="", help="routerCanonicalHostname written in route statuses.")
@click.option("--log-level", default="info", type=click.Choice(["debug", "info", "warning", "error"]))
@pass_ctx
@handle_errors
def router(ctx: Ctx, router_name: str, run_dir: str, reload_interval: int, allow_wildcard_routes: bool,
           netns: str | None, http_port: int, https_port: int, default_certificate: str | None,
           canonical_hostname: str, log_level: str) -> None:
    """Serve Routes with HAProxy: host admission, edge/passthrough/reencrypt TLS, HSTS, statuses.

    Watches Routes, Ingresses (served as the routes OpenShift makes of them), Services and Endpoints;
    admits routes by host (the oldest claim wins), writes each route's status.ingress, renders the
    HAProxy configuration, checks it with `haproxy -c` and reloads HAProxy (master-worker mode, no
    dropped connections). A configuration HAProxy refuses never goes live.

    \b
    Examples:
      osdn --config admin.conf router --run-dir /tmp/router --http-port 8080 --https-port 8443
      osdn router --reload-interval 200 --netns osdn-lab-pod-0123456789
    """
    from osdn.router.controller import Router, RouterOptions

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    options = RouterOptions(run_dir=Path(run_dir), router_name=router_name, reload_interval=reload_interval / 1000,
                            allow_wildcards=allow_wildcard_routes, netns=netns, http_port=http_port,
                            https_port=https_port,
                            default_certificate=Path(default_certificate) if default_certificate else None,
                            canonical_hostname=canonical_hostname)
    running = Router(ctx.client.config, options)
    signal.signal(signal.SIGTERM, lambda *_: running.stopping.set())
    click.echo(f"osdn router {router_name}: serving routes on :{http_port} and :{https_port} "
               f"against {ctx.client.config.server}", err=True)
    try:
        running.start().run()
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()
