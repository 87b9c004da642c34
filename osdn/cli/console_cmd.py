"""`osdn console`: where the network console of the configured API server is, and how to log in.

The console is served by `osdn server` itself under /console/ (same TLS, bearer tokens, RBAC), so
this command runs no server and no proxy: it prints the URL for the current config.
"""

from __future__ import annotations

import click

from osdn.cli.context import Ctx, pass_ctx
from osdn.errors import OsdnError


@click.command("console")
@click.option("--with-token", is_flag=True,
              help="Put this config's token in the URL's #fragment so the console logs in by itself "
                   "(the fragment never reaches a server, but it may stay in the browser's history).")
@pass_ctx
def console(ctx: Ctx, with_token: bool) -> None:
    """Print the network console's URL for the configured API server.

    The console (topology, reachability heat map, trace, impact preview, live) is part of `osdn
    server` at /console/. Log in there with a bearer token: you see what your roles let you read.

    \b
    Examples:
      osdn console
      osdn --config /var/lib/osdn/admin.conf console --with-token
    """
    try:
        cfg = ctx.client.config
    except OsdnError as e:
        raise click.ClickException(e.message) from None
    url = cfg.server.split(",")[0].rstrip("/") + "/console/"
    if with_token and cfg.token:
        url += f"#token={cfg.token}"
    click.echo(url)
    if not with_token:
        click.echo(f"log in with a bearer token: the token of {cfg.source or 'your config'}, or one from "
                   "osdn adm token create NAME", err=True)
