"""`osdn create route edge|passthrough|reencrypt`: secured routes from flags, as `oc create route`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from osdn.cli.context import Ctx, handle_errors, pass_ctx, warn
from osdn.cli.crud import create, namespace_opt
from osdn.cli.dryrun import Writer, dry_run_option
from osdn.errors import BadRequestError

Obj = dict[str, Any]


@create.group("route")
def create_route() -> None:
    """Create a secured route (edge, passthrough or reencrypt TLS) to a service.

    An unsecured route is `osdn expose service NAME --hostname H`.

    \b
    Examples:
      osdn create route edge shop --service=web --hostname=shop.example.com --insecure-policy=Redirect -n p1
      osdn create route passthrough db --service=db --hostname=db.example.com -n p1
      osdn create route reencrypt api --service=api --dest-ca-cert=ca.crt --hostname=api.example.com -n p1
    """


def _read(path: str | None) -> str | None:
    try:
        return Path(path).read_text() if path else None
    except OSError as e:
        raise BadRequestError(f"cannot read {path}: {e.strerror}") from None


def _common(fn: Any) -> Any:
    for option in reversed([
            click.argument("name", required=False),
            click.option("--service", required=True, help="The Service the route sends traffic to."),
            click.option("--hostname", default=None, help="The route's host (spec.host)."),
            click.option("--port", default=None, help="Target port of the service (number or name)."),
            click.option("--insecure-policy", default=None, type=click.Choice(["None", "Allow", "Redirect"]),
                         help="What to do with HTTP requests (spec.tls.insecureEdgeTerminationPolicy)."),
            click.option("--wildcard-policy", default=None, type=click.Choice(["None", "Subdomain"])),
            namespace_opt, dry_run_option]):
        fn = option(fn)
    return fn


def _tls_files(fn: Any) -> Any:
    for option in reversed([
            click.option("--path", "route_path", default=None, help="Path the route serves (spec.path)."),
            click.option("--cert", type=click.Path(dir_okay=False), help="Certificate (PEM)."),
            click.option("--key", type=click.Path(dir_okay=False), help="Private key (PEM)."),
            click.option("--ca-cert", type=click.Path(dir_okay=False), help="CA chain (PEM).")]):
        fn = option(fn)
    return fn


def build_route(termination: str, name: str, service: str, opts: dict[str, Any]) -> Obj:
    """The Route object of `oc create route <termination>`. Pure."""
    spec: Obj = {"to": {"kind": "Service", "name": service}}
    tls: Obj = {"termination": termination}
    for key, field in (("hostname", "host"), ("route_path", "path"), ("wildcard_policy", "wildcardPolicy")):
        if opts.get(key):
            spec[field] = opts[key]
    if opts.get("port"):
        port = opts["port"]
        spec["port"] = {"targetPort": int(port) if str(port).isdigit() else port}
    for key, field in (("cert", "certificate"), ("key", "key"), ("ca_cert", "caCertificate"),
                       ("dest_ca_cert", "destinationCACertificate")):
        if opts.get(key):
            tls[field] = _read(opts[key])
    if opts.get("insecure_policy"):
        tls["insecureEdgeTerminationPolicy"] = opts["insecure_policy"]
    spec["tls"] = tls
    return {"apiVersion": "route.openshift.io/v1", "kind": "Route", "metadata": {"name": name}, "spec": spec}


def _create(ctx: Ctx, termination: str, name: str | None, service: str, opts: dict[str, Any]) -> None:
    writer = Writer(ctx.client, opts.pop("dry_run"))
    ns = ctx.namespace(opts.pop("namespace"))
    route = build_route(termination, name or service, service, opts)
    writer.create(route, ns)
    warn(ctx.client)
    click.echo(f"route.route.openshift.io/{name or service} created{writer.suffix}")
    writer.finish()


@create_route.command("edge")
@_common
@_tls_files
@pass_ctx
@handle_errors
def edge(ctx: Ctx, name: str | None, service: str, **opts: Any) -> None:
    """Create an edge route: TLS ends at the router.

    The router presents --cert/--key (with the --ca-cert chain), or its default certificate, and
    talks plain HTTP to the pods. --insecure-policy says what HTTP requests get (default None: 503).

    \b
    Examples:
      osdn create route edge --service=web --hostname=www.example.com -n p1
      osdn create route edge shop --service=web --cert=tls.crt --key=tls.key --insecure-policy=Redirect -n p1
    """
    _create(ctx, "edge", name, service, opts)


@create_route.command("passthrough")
@_common
@pass_ctx
@handle_errors
def passthrough(ctx: Ctx, name: str | None, service: str, **opts: Any) -> None:
    """Create a passthrough route: the router forwards TLS by SNI.

    The router never decrypts: clients see the pod's own certificate, and no path, certificate or
    HSTS header applies. --insecure-policy may be None or Redirect.

    \b
    Examples:
      osdn create route passthrough db --service=db --hostname=db.example.com -n p1
      osdn create route passthrough --service=web --insecure-policy=Redirect --hostname=w.example.com -n p1
    """
    _create(ctx, "passthrough", name, service, opts)


@create_route.command("reencrypt")
@_common
@_tls_files
@click.option("--dest-ca-cert", type=click.Path(dir_okay=False),
              help="CA that signed the pods' certificates (spec.tls.destinationCACertificate).")
@pass_ctx
@handle_errors
def reencrypt(ctx: Ctx, name: str | None, service: str, **opts: Any) -> None:
    """Create a reencrypt route: TLS at the router, and TLS again to the pods.

    The router verifies the pods' certificate against --dest-ca-cert for the name
    SERVICE.NAMESPACE.svc (the system CAs without it), as the upstream router does.

    \b
    Examples:
      osdn create route reencrypt api --service=api --dest-ca-cert=ca.crt --hostname=api.example.com -n p1
    """
    _create(ctx, "reencrypt", name, service, opts)
