"""`osdn create quota`, as `kubectl create quota` (its description: osdn.cli.quota_describe).

A ResourceQuota bounds what a project may hold (osdn.api.quota); only cluster admins create or change
one, project roles read it. `quota_object` is pure.
"""

from __future__ import annotations

from typing import Any

import click

from osdn.api.registry import by_kind
from osdn.cli.context import Ctx, handle_errors, pass_ctx, warn
from osdn.cli.crud import create, namespace_opt, report_object
from osdn.cli.dryrun import Writer, dry_run_option
from osdn.errors import BadRequestError

Obj = dict[str, Any]
def quota_object(name: str, hard: str, scopes: str) -> Obj:
    """Pure: the ResourceQuota `kubectl create quota NAME --hard=a=1,b=2 --scopes=X,Y` builds."""
    limits: dict[str, str] = {}
    for item in (i for i in hard.split(",") if i):
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise BadRequestError(f'invalid resource quota --hard item "{item}": want NAME=QUANTITY '
                                  "(e.g. pods=10,count/deployments.apps=2)")
        limits[key.strip()] = value.strip()
    spec: Obj = {"hard": limits}
    if scopes:
        spec["scopes"] = [s.strip() for s in scopes.split(",") if s.strip()]
    return {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": name}, "spec": spec}


@create.command("quota")
@click.argument("name")
@click.option("--hard", default="", help="Limits, NAME=QUANTITY separated by commas (pods=10,requests.cpu=2,"
                                         "count/deployments.apps=2).")
@click.option("--scopes", default="", help="Scopes, separated by commas (Terminating, NotTerminating, BestEffort, "
                                           "NotBestEffort).")
@namespace_opt
@dry_run_option
@click.option("-o", "--output", default=None, help="Print the object (json|yaml|name|...) instead of a message.")
@pass_ctx
@handle_errors
def create_quota(ctx: Ctx, name: str, hard: str, scopes: str, namespace: str | None, dry_run: str,
                 output: str | None) -> None:
    """Create a ResourceQuota NAME bounding what a project may hold (cluster admins only).

    As `kubectl create quota`. Object counts (pods, services, configmaps, replicationcontrollers,
    secrets, resourcequotas, services.loadbalancers, services.nodeports, count/<resource>[.<group>]
    for any kind) and pod compute (requests.cpu, requests.memory, limits.cpu, limits.memory). A
    create that would pass a limit is refused with `exceeded quota`.

    \b
    Examples:
      osdn create quota q1 --hard=pods=10,count/deployments.apps=2 -n p1
      osdn create quota compute --hard=requests.cpu=2,limits.memory=4Gi -n p1
      osdn create quota best-effort --hard=pods=5 --scopes=BestEffort -n p1
    """
    writer = Writer(ctx.client, dry_run)
    result = writer.create(quota_object(name, hard, scopes), ctx.namespace(namespace))
    warn(ctx.client)
    report_object(by_kind("ResourceQuota"), result, "created", output or "", writer.suffix)
    writer.finish()
