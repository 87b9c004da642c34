"""`osdn console`: where the network console of the configured API server is, and how to log in.

The console is served by `osdn server` itself under /console/ (same TLS, bearer tokens, RBAC): by
default this command prints the URL for the current config. With --serve it runs the console on this
machine instead (osdn.cli.console_serve), which adds the kernel's view to traces when a local osdn
lab runs here.
"""

from __future__ import annotations

import click

from osdn.cli.context import Ctx, pass_ctx
from osdn.client import ClientConfig
from osdn.errors import OsdnError


@click.command("console")
@click.option("--with-token", is_flag=True,
              help="Put this config's token in the URL's #fragment so the console logs in by itself "
                   "(the fragment never reaches a server, but it may stay in the browser's history).")
@click.option("--serve", is_flag=True,
              help="Serve the console here (plain HTTP, loopback only), forwarding to the API server, with "
                   "the kernel's answer and counters in traces when a local lab runs on this machine (root).")
@click.option("--listen", default="127.0.0.1:0", show_default=True,
              help="With --serve: loopback HOST:PORT to listen on (port 0: any free port).")
@click.option("--max-probes", type=click.IntRange(1, 2), default=1, show_default=True,
              help="With --serve: kernel probes running at once (more requests get 429).")
@pass_ctx
def console(ctx: Ctx, with_token: bool, serve: bool, listen: str, max_probes: int) -> None:
    """Print the network console's URL for the configured API server.

    The console (topology, reachability heat map, trace, impact preview, live) is part of `osdn
    server` at /console/. Log in there with a bearer token: you see what your roles let you read.

    \b
    Examples:
      osdn console
      osdn --config /var/lib/osdn/admin.conf console --with-token
      osdn --config /tmp/osdn-lab-demo/server/admin.conf console --serve --listen 127.0.0.1:8765 --with-token
    """
    try:
        cfg = ctx.client.config
    except OsdnError as e:
        raise click.ClickException(e.message) from None
    if serve:
        _serve(cfg, listen, max_probes, with_token)
        return
    url = cfg.server.split(",")[0].rstrip("/") + "/console/"
    if with_token and cfg.token:
        url += f"#token={cfg.token}"
    click.echo(url)
    if not with_token:
        click.echo(f"log in with a bearer token: the token of {cfg.source or 'your config'}, or one from "
                   "osdn adm token create NAME", err=True)


def _serve(cfg: ClientConfig, listen: str, probes: int, with_token: bool) -> None:
    import uvicorn

    from osdn.cli.console_serve import ServeLimits, build_app, loopback_socket
    try:
        sock = loopback_socket(listen)
    except OsdnError as e:
        raise click.ClickException(e.message) from None
    host, port = sock.getsockname()[:2]
    host = f"[{host}]" if ":" in host else host
    url = f"http://{host}:{port}/console/" + (f"#token={cfg.token}" if with_token and cfg.token else "")
    click.echo(url)
    click.echo(f"serving the console of {cfg.server} here (Ctrl-C stops it)", err=True)
    server = uvicorn.Server(uvicorn.Config(build_app(cfg, ServeLimits(probes=probes)), log_level="warning"))
    server.run(sockets=[sock])
