"""`osdn create deployment`: a Deployment from flags, as `kubectl create deployment` / `oc create deployment`."""

from __future__ import annotations

import re
from typing import Any

import click

from osdn.api.registry import by_kind
from osdn.cli.context import Ctx, handle_errors, pass_ctx, warn
from osdn.cli.crud import create, namespace_opt, report_object
from osdn.cli.dryrun import Writer, dry_run_option
from osdn.errors import BadRequestError

Obj = dict[str, Any]


def container_name(image: str) -> str:
    """kubectl's container name for an image: the last path part without tag or digest, `_` -> `-`."""
    last = image.rsplit("/", 1)[-1]
    return re.split(r"[:@]", last, maxsplit=1)[0].replace("_", "-").lower()


def deployment_object(name: str, images: tuple[str, ...], replicas: int, port: int | None,
                      command: tuple[str, ...]) -> Obj:
    """Pure: the Deployment kubectl builds: labels and selector `app=NAME`, one container per image
    (names made unique with `-2`, `-3`...), the command (with one image only) and the port on the first."""
    if command and len(images) > 1:
        raise BadRequestError("cannot specify multiple --image options and a command")
    containers: list[Obj] = []
    seen: dict[str, int] = {}
    for image in images:
        base = container_name(image) or "container"
        seen[base] = seen.get(base, 0) + 1
        c: Obj = {"name": base if seen[base] == 1 else f"{base}-{seen[base]}", "image": image}
        if command:
            c["command"] = list(command)
        containers.append(c)
    if port is not None:
        containers[0]["ports"] = [{"containerPort": port}]
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": containers}}}}


@create.command("deployment")
@click.argument("name")
@click.argument("command", nargs=-1)
@click.option("--image", "images", multiple=True, required=True, help="Container image (repeatable: a container each).")
@click.option("--replicas", type=click.IntRange(min=0), default=1, show_default=True, help="Number of pods.")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port the first container listens on.")
@namespace_opt
@dry_run_option
@click.option("-o", "--output", default=None, help="Print the object (json|yaml|name|...) instead of a message.")
@pass_ctx
@handle_errors
def create_deployment(ctx: Ctx, name: str, command: tuple[str, ...], images: tuple[str, ...], replicas: int,
                      port: int | None, namespace: str | None, dry_run: str, output: str | None) -> None:
    """Create a Deployment NAME running --image, labelled and selected by app=NAME.

    As `kubectl create deployment`: one container per --image (named after the image), --replicas
    pods (default 1), --port on the first container, and a command after `--` (one image only).
    The master's Deployment controller makes a ReplicaSet and its pods; `osdn expose deployment
    NAME --port=P` gives it a Service.

    \b
    Examples:
      osdn create deployment web --image=nginx --port=80 -n p1
      osdn create deployment pinger --image=busybox -n p1 -- sleep 3600
      osdn create deployment web --image=nginx --replicas=3 --dry-run=server -o yaml -n p1
    """
    writer = Writer(ctx.client, dry_run)
    result = writer.create(deployment_object(name, images, replicas, port, command), ctx.namespace(namespace))
    warn(ctx.client)
    report_object(by_kind("Deployment"), result, "created", output or "", writer.suffix)
    writer.finish()
