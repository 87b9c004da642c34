"""`osdn create token SA`, as `kubectl create token`: a bound service account token from the
TokenRequest API (osdn.apiserver.satoken). `token_request` is pure.
"""

from __future__ import annotations

import json
from typing import Any

import click
import yaml

from osdn.api.duration import parse_duration
from osdn.api.satoken import API_VERSION
from osdn.cli.context import Ctx, handle_errors, pass_ctx
from osdn.cli.crud import create, namespace_opt
from osdn.errors import BadRequestError

Obj = dict[str, Any]
BINDABLE = ("Pod", "Secret")


def _seconds(duration: str) -> int | None:
    """--duration as whole seconds; None (0 or absent): the server's default."""
    if not duration:
        return None
    seconds = parse_duration(duration)
    if seconds is None:
        raise BadRequestError(f'invalid argument "{duration}" for "--duration" flag: want a duration such as '
                              '"1h" or "90m"')
    if seconds != int(seconds):
        raise BadRequestError("--duration cannot be expressed in units less than seconds")
    return int(seconds) or None


def token_request(duration: str, audiences: tuple[str, ...], bound_kind: str, bound_name: str,
                  bound_uid: str) -> Obj:
    """Pure: the TokenRequest `kubectl create token` posts for these flags (its checks and messages)."""
    if any(not a for a in audiences):
        raise BadRequestError("--audience must not be an empty string")
    spec: Obj = {"audiences": list(audiences)}
    if (seconds := _seconds(duration)) is not None:
        spec["expirationSeconds"] = seconds
    if not bound_kind and (bound_name or bound_uid):
        flag = "--bound-object-name" if bound_name else "--bound-object-uid"
        raise BadRequestError(f"{flag} can only be set if --bound-object-kind is provided")
    if bound_kind:
        if bound_kind not in BINDABLE:
            raise BadRequestError(f"supported --bound-object-kind values are {', '.join(BINDABLE)}")
        if not bound_name:
            raise BadRequestError("--bound-object-name is required if --bound-object-kind is provided")
        spec["boundObjectRef"] = {"kind": bound_kind, "apiVersion": "v1", "name": bound_name,
                                  **({"uid": bound_uid} if bound_uid else {})}
    return {"apiVersion": API_VERSION, "kind": "TokenRequest", "metadata": {}, "spec": spec}


@create.command("token")
@click.argument("service_account", metavar="SERVICE_ACCOUNT")
@namespace_opt
@click.option("--duration", default="", metavar="DURATION",
              help="How long the token is valid (10m at least; the server caps it, 24h by default); "
                   "default 1h.")
@click.option("--audience", "audiences", multiple=True, metavar="AUD",
              help="An audience of the token (repeatable); default: the API server itself.")
@click.option("--bound-object-kind", default="", metavar="Pod|Secret",
              help="Bind the token to this object: it stops working when the object is deleted.")
@click.option("--bound-object-name", default="", metavar="NAME", help="Name of the object to bind the token to.")
@click.option("--bound-object-uid", default="", metavar="UID",
              help="UID of the object to bind the token to (refused if the object was re-created).")
@click.option("-o", "--output", default="", type=click.Choice(["", "json", "yaml"]),
              help="Print the whole TokenRequest instead of the token.")
@pass_ctx
@handle_errors
def create_token(ctx: Ctx, service_account: str, namespace: str | None, duration: str, audiences: tuple[str, ...],
                 bound_object_kind: str, bound_object_name: str, bound_object_uid: str, output: str) -> None:
    """Print a new token that authenticates as the ServiceAccount SERVICE_ACCOUNT.

    As `kubectl create token`. The token is a signed JWT of the user
    system:serviceaccount:NAMESPACE:SERVICE_ACCOUNT (groups system:serviceaccounts and
    system:serviceaccounts:NAMESPACE); it grants what RoleBindings to the ServiceAccount grant.
    It stops working when it expires or when the ServiceAccount (or the bound object) is deleted.
    Needs `create` on serviceaccounts/token in the namespace (the admin and edit roles have it).
    Every project has the ServiceAccounts default, builder and deployer. Use the token with
    `osdn --token TOKEN ...` or `kubectl --token=TOKEN ...`.

    \b
    Examples:
      osdn create token default -n p1
      osdn create token robot -n p1 --duration=8h
      osdn create token robot -n p1 --audience=https://vault.example.com
      osdn create token robot -n p1 --bound-object-kind=Secret --bound-object-name=robot-key
      osdn create token default -n p1 -o json
    """
    body = token_request(duration, audiences, bound_object_kind, bound_object_name, bound_object_uid)
    ns = ctx.namespace(namespace)
    answer = ctx.client.request("POST", f"/api/v1/namespaces/{ns}/serviceaccounts/{service_account}/token", body)
    if output == "json":
        click.echo(json.dumps(answer, indent=4))
    elif output == "yaml":
        click.echo(yaml.safe_dump(answer, sort_keys=False), nl=False)
    else:
        click.echo(answer["status"]["token"])
