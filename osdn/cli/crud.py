"""kubectl-shaped object commands: get, describe, create, apply, replace, delete, patch, edit."""

from __future__ import annotations

import copy
import dataclasses
import json
import sys
import time
from typing import Any

import click
import yaml

from osdn.api import patch as patching
from osdn.api.cells import event_time
from osdn.api.registry import KindInfo, for_object, resolve
from osdn.cli.context import Ctx, handle_errors, pass_ctx, warn
from osdn.cli.describe_kinds import describe_as_kubectl
from osdn.cli.dryrun import Writer, dry_run_option
from osdn.cli.manifests import read_manifests
from osdn.cli.printers import OUTPUT_HELP, PrintOptions, check_output, describe_events, qualified_name, render
from osdn.cli.quota_describe import describe_quota
from osdn.cli.services import describe_service
from osdn.client import Client
from osdn.errors import BadRequestError, ForbiddenError, NotFoundError, OsdnError

Obj = dict[str, Any]
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

namespace_opt = click.option("-n", "--namespace", default=None, help="Project (namespace) to act in.")
file_opt = click.option("-f", "--filename", "files", multiple=True, metavar="FILE|DIR|-",
                        help="Manifest file, directory of manifests, or - for stdin (repeatable).")


def now() -> float:
    """The clock the tables' ages are measured against (epoch seconds)."""
    return time.time()


def split_targets(args: tuple[str, ...]) -> list[tuple[KindInfo, list[str]]]:
    """`pods a b`, `pod/a svc/b`, `pods,services` -> [(kind, names)]."""
    if not args:
        raise BadRequestError("you must specify the type of resource to get, e.g. `osdn get pods`")
    if "/" in args[0] and not args[0].startswith("/"):
        out: list[tuple[KindInfo, list[str]]] = []
        for a in args:
            kind, _, name = a.partition("/")
            if not name:
                raise BadRequestError(f'"{a}" is not KIND/NAME')
            out.append((resolve(kind), [name]))
        return out
    kinds = [resolve(k) for k in args[0].split(",") if k]
    if len(kinds) > 1 and len(args) > 1:
        raise BadRequestError("names cannot be given together with more than one resource type")
    return [(k, list(args[1:])) for k in kinds]


def _ns_for(ctx: Ctx, info: KindInfo, explicit: str | None, obj: Obj | None = None) -> str:
    if not info.namespaced:
        return ""
    if obj is not None and (obj.get("metadata") or {}).get("namespace") and not explicit:
        return str(obj["metadata"]["namespace"])
    return ctx.namespace(explicit)


# ---------------------------------------------------------------------------------------------- get
@click.command()
@click.argument("targets", nargs=-1, required=True)
@namespace_opt
@click.option("-A", "--all-namespaces", is_flag=True, help="List across all projects.")
@click.option("-o", "--output", default="", help=f"Output format: {OUTPUT_HELP}.")
@click.option("-l", "--selector", default="", help="Label selector, e.g. -l 'app=web,tier!=db'.")
@click.option("--field-selector", default="", help="Field selector, e.g. spec.nodeName=node1.")
@click.option("-w", "--watch", is_flag=True, help="After listing, watch for changes.")
@click.option("--show-labels", is_flag=True, help="Add a LABELS column.")
@click.option("-L", "--label-columns", multiple=True, metavar="KEY[,KEY]",
              help="Add a column with the value of each label (repeatable or comma-separated).")
@click.option("--sort-by", default="", metavar="JSONPATH", help="Sort by a field, e.g. --sort-by=.metadata.name.")
@click.option("--no-headers", is_flag=True, help="Print tables without the header row.")
@click.option("--show-kind", is_flag=True, help="Print the kind with each name (pod/web).")
@pass_ctx
@handle_errors
def get(ctx: Ctx, targets: tuple[str, ...], namespace: str | None, all_namespaces: bool, output: str,
        selector: str, field_selector: str, watch: bool, show_labels: bool, label_columns: tuple[str, ...],
        sort_by: str, no_headers: bool, show_kind: bool) -> None:
    """Show objects.

    A table by default; -o json|yaml|wide|name and the other kubectl output formats; -w keeps
    watching for changes after the list.

    \b
    Examples:
      osdn get netnamespaces
      osdn get hostsubnets
      osdn get pods -o wide -n myproject
      osdn get egressnetworkpolicy default -n p1 -o yaml
      osdn get pods -A -l app=web
    """
    check_output(output)
    client = ctx.client
    blocks = []
    kinds = split_targets(targets)
    opts = PrintOptions(output, no_headers, show_labels, show_kind or len(kinds) > 1, all_namespaces,
                        tuple(k for spec in label_columns for k in spec.split(",") if k), sort_by)
    for info, names in kinds:
        ns = "" if all_namespaces or not info.namespaced else ctx.namespace(namespace)
        if names:
            items = [client.get(info, n, ns) for n in names]
        else:
            items = client.list(info, ns, selector, field_selector)["items"]
        if info.kind == "Event" and not sort_by:
            items = sorted(items, key=event_time)  # oldest first, as kubectl
        text = render(info, items, opts, now(), single=bool(names))
        if text:
            blocks.append(text)
        elif not output:
            where = f" in {ns} namespace" if ns else ""
            click.echo(f"No resources found{where}.", err=True)
        if watch:
            click.echo("\n\n".join(blocks))
            blocks = []
            row_opts = dataclasses.replace(opts, no_headers=True, sort_by="")
            for ev in client.watch(info, ns, label_selector=selector):
                click.echo(render(info, [ev["object"]], row_opts, now(), single=bool(output)),
                           nl=not opts.templated)
    if blocks:
        click.echo("\n\n".join(blocks), nl=not opts.templated)


# ----------------------------------------------------------------------------------------- describe
def _describe(info: KindInfo, obj: Obj, events: list[Obj]) -> str:
    meta = obj.get("metadata", {})
    lines = [f"Name:         {meta.get('name')}"]
    if info.namespaced:
        lines.append(f"Namespace:    {meta.get('namespace')}")
    for title, key in (("Labels", "labels"), ("Annotations", "annotations")):
        values = meta.get(key) or {}
        items = [f"{k}={v}" for k, v in sorted(values.items()) if k != LAST_APPLIED] or ["<none>"]
        lines.append(f"{title + ':':<14}{items[0]}")
        lines += [" " * 14 + i for i in items[1:]]
    lines.append(f"Created:      {meta.get('creationTimestamp')}")
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    if body:
        lines.append(yaml.safe_dump(body, sort_keys=False, default_flow_style=False).rstrip())
    lines += describe_events(events, now())
    return "\n".join(lines)


def _describe_service(client: Client, svc: Obj, events: list[Obj]) -> str:
    try:
        endpoints: Obj | None = client.get("Endpoints", svc["metadata"]["name"], svc["metadata"].get("namespace", ""))
    except NotFoundError:
        endpoints = None
    try:   # as kubectl: the Endpoints line from the service's slices; a user who may not list them sees Endpoints
        slices = client.list("EndpointSlice", svc["metadata"].get("namespace", ""),
                             label_selector=f"kubernetes.io/service-name={svc['metadata']['name']}")["items"]
    except ForbiddenError:
        slices = []
    return describe_service(svc, endpoints, events, now(), slices)


@click.command()
@click.argument("targets", nargs=-1, required=True)
@namespace_opt
@click.option("-l", "--selector", default="")
@pass_ctx
@handle_errors
def describe(ctx: Ctx, targets: tuple[str, ...], namespace: str | None, selector: str) -> None:
    """Show one or more objects in detail, with their events.

    KIND NAME, KIND/NAME, or a whole kind (with -l to select); the object's fields follow its
    labels and annotations, and its events end the description.

    \b
    Examples:
      osdn describe pod web -n p1
      osdn describe netnamespace p1
      osdn describe hostsubnets
    """
    client = ctx.client
    out = []
    for info, names in split_targets(targets):
        ns = ctx.namespace(namespace) if info.namespaced else ""
        objs = [client.get(info, n, ns) for n in names] if names else client.list(info, ns, selector)["items"]
        for obj in objs:
            name = obj["metadata"]["name"]
            events = [e for e in client.list("events", obj["metadata"].get("namespace") or "default")["items"]
                      if (e.get("involvedObject") or {}).get("name") == name
                      and (e.get("involvedObject") or {}).get("kind") == info.kind]
            text = describe_as_kubectl(client, info.kind, obj, events, now())
            out.append(text.rstrip("\n") if text is not None else
                       _describe_service(client, obj, events) if info.kind == "Service" else
                       describe_quota(obj) if info.kind == "ResourceQuota" else _describe(info, obj, events))
    click.echo("\n\n".join(out))


# ------------------------------------------------------------------------------------------- create
def _parsed(files: tuple[str, ...], recursive: bool) -> list[tuple[str, Obj, KindInfo]]:
    return [(src, obj, for_object(obj)) for src, obj in read_manifests(files, recursive)]


def report_object(info: KindInfo, obj: Obj, verb: str, output: str, suffix: str) -> None:
    if output and output != "wide":
        click.echo(render(info, [obj], output, now(), single=True))
    else:
        click.echo(f"{qualified_name(info, obj['metadata']['name'])} {verb}{suffix}")


@click.group(invoke_without_command=True)
@file_opt
@namespace_opt
@click.option("-R", "--recursive", is_flag=True, help="Read directories recursively.")
@dry_run_option
@click.option("-o", "--output", default="", help="Print the created object (json|yaml|name|...).")
@pass_ctx
@click.pass_context
@handle_errors
def create(cctx: click.Context, ctx: Ctx, files: tuple[str, ...], namespace: str | None, recursive: bool,
           dry_run: str, output: str) -> None:
    """Create objects from manifests (`-f FILE|DIR|-`), or a kind from flags (see subcommands).

    A file may hold one object, several YAML documents or a List; nothing is sent before every
    file parses. Errors name the file and the field.

    \b
    Examples:
      osdn create -f egressnetworkpolicy.json -n p1
      osdn create -f manifests/ -R
      cat pod.yaml | osdn create -f - -n p1
      osdn create -f networkpolicy.yaml -n p1 --dry-run=server
    """
    if cctx.invoked_subcommand:
        return
    if not files:
        raise BadRequestError("must specify -f FILE (or a subcommand: osdn create --help)")
    check_output(output)
    writer = Writer(ctx.client, dry_run)
    objs = _parsed(files, recursive)
    failed = False
    for src, obj, info in objs:
        try:
            created = writer.create(obj, _ns_for(ctx, info, namespace, obj))
            warn(ctx.client)
            report_object(info, created, "created", output, writer.suffix)
        except OsdnError as e:
            failed = True
            name = (obj.get("metadata") or {}).get("name", "")
            prefix = f"Error from server ({e.reason})" if e.from_server else "error"
            click.echo(f"{prefix}: error when creating \"{src}\": {e.message}" if len(objs) > 1 or name
                       else f"{prefix}: {e.message}", err=True)
    if failed:
        sys.exit(1)
    writer.finish()


# -------------------------------------------------------------------------------------------- apply
def apply_one(writer: Writer, info: KindInfo, obj: Obj, namespace: str) -> tuple[Obj, str]:
    client = writer.client
    desired = copy.deepcopy(obj)
    desired.pop("status", None)
    name = (desired.get("metadata") or {}).get("name")
    if not name:
        raise BadRequestError(f"{info.kind} has no metadata.name: apply needs a name to find the object")
    applied = json.dumps(desired, sort_keys=True, separators=(",", ":"))
    desired.setdefault("metadata", {}).setdefault("annotations", {})[LAST_APPLIED] = applied
    try:
        live = client.get(info, name, namespace)
    except NotFoundError:
        return writer.create(desired, namespace), "created"
    last_text = (live.get("metadata", {}).get("annotations") or {}).get(LAST_APPLIED)
    last = json.loads(last_text) if last_text else None
    if last_text == applied:
        return live, "unchanged"
    patch = patching.three_way_patch(last, desired)
    result = writer.patch(info, name, patch, namespace, "merge")
    return result, "configured"


@click.command()
@file_opt
@namespace_opt
@click.option("-R", "--recursive", is_flag=True)
@dry_run_option
@click.option("-o", "--output", default="")
@pass_ctx
@handle_errors
def apply(ctx: Ctx, files: tuple[str, ...], namespace: str | None, recursive: bool, dry_run: str,
          output: str) -> None:
    """Create or update objects to match the manifests (three-way merge, like kubectl apply).

    The last applied manifest is kept in the kubectl.kubernetes.io/last-applied-configuration
    annotation, so fields removed from the manifest are removed from the object.
    --dry-run=impact lists the connections the change would open and close, and writes nothing.

    \b
    Examples:
      osdn apply -f networkpolicy.yaml -n p1
      osdn apply -f manifests/ -R
      osdn apply -f deny-all.yaml -n p1 --dry-run=impact
    """
    if not files:
        raise BadRequestError("must specify -f FILE")
    check_output(output)
    objs = _parsed(files, recursive)
    writer = Writer(ctx.client, dry_run)
    for _src, obj, info in objs:
        result, verb = apply_one(writer, info, obj, _ns_for(ctx, info, namespace, obj))
        warn(ctx.client)
        report_object(info, result, verb, output, writer.suffix)
    writer.finish()


@click.command()
@file_opt
@namespace_opt
@click.option("--force", is_flag=True, help="Delete and re-create instead of updating.")
@dry_run_option
@pass_ctx
@handle_errors
def replace(ctx: Ctx, files: tuple[str, ...], namespace: str | None, force: bool, dry_run: str) -> None:
    """Replace objects with the manifests' content (the object must exist).

    The whole object is sent as an update (its resourceVersion is taken from the live object);
    --force deletes and re-creates it instead.

    \b
    Examples:
      osdn replace -f egressnetworkpolicy.json -n p1
      osdn replace -f pod.yaml -n p1 --force
    """
    if not files:
        raise BadRequestError("must specify -f FILE")
    writer = Writer(ctx.client, dry_run)
    for _src, obj, info in _parsed(files, False):
        ns = _ns_for(ctx, info, namespace, obj)
        name = str((obj.get("metadata") or {}).get("name") or "")
        live = ctx.client.get(info, name, ns)
        new = copy.deepcopy(obj)
        if force and not writer.dry:
            writer.delete(info, name, ns)
            result = writer.create(obj, ns)
        else:  # a dry run of --force checks the new object as an update: the old one is still there
            new.setdefault("metadata", {}).setdefault("resourceVersion", live["metadata"]["resourceVersion"])
            result = writer.update(new, ns)
        warn(ctx.client)
        report_object(info, result, "replaced", "", writer.suffix)
    writer.finish()


# ------------------------------------------------------------------------------------------- delete
@click.command()
@click.argument("targets", nargs=-1)
@file_opt
@namespace_opt
@click.option("-l", "--selector", default="")
@click.option("--all", "all_", is_flag=True, help="Delete every object of the kind in the project.")
@click.option("--ignore-not-found", is_flag=True, help="Treat a missing object as deleted.")
@dry_run_option
@pass_ctx
@handle_errors
def delete(ctx: Ctx, targets: tuple[str, ...], files: tuple[str, ...], namespace: str | None, selector: str,
           all_: bool, ignore_not_found: bool, dry_run: str) -> None:
    """Delete objects by kind and name, by label selector, or as listed in manifests.

    A missing object is an error unless --ignore-not-found; -l or --all deletes every match of a
    kind in the project.

    \b
    Examples:
      osdn delete pod web -n p1
      osdn delete networkpolicy/deny-all -n p1
      osdn delete pods -l app=web -n p1
      osdn delete -f networkpolicy.yaml -n p1 --ignore-not-found
    """
    client = ctx.client
    work: list[tuple[KindInfo, str, str]] = []
    if files:
        for _src, obj, info in _parsed(files, False):
            work.append((info, obj["metadata"]["name"], _ns_for(ctx, info, namespace, obj)))
    for info, names in split_targets(targets) if targets else []:
        ns = ctx.namespace(namespace) if info.namespaced else ""
        if not names:
            if not (selector or all_):
                raise BadRequestError(f"resource(s) were provided, but no name was specified "
                                      f"(use a name, -l SELECTOR or --all for {info.plural})")
            names = [o["metadata"]["name"] for o in client.list(info, ns, selector)["items"]]
        work += [(info, n, ns) for n in names]
    if not work and not (selector or all_):
        raise BadRequestError("you must specify objects to delete (KIND NAME, KIND/NAME or -f FILE)")
    failed = False
    writer = Writer(client, dry_run)
    for info, name, ns in work:
        try:
            writer.delete(info, name, ns)
            click.echo(f'{qualified_name(info, name)} deleted{writer.suffix}')
        except NotFoundError as e:
            if not ignore_not_found:
                click.echo(f"Error from server (NotFound): {e.message}", err=True)
                failed = True
    if failed:
        sys.exit(1)
    writer.finish()


# -------------------------------------------------------------------------------------------- patch
@click.command()
@click.argument("targets", nargs=-1, required=True)
@namespace_opt
@click.option("-p", "--patch", "patch_text", required=True, help="The patch, JSON or YAML.")
@click.option("--type", "patch_type", default="strategic", type=click.Choice(["strategic", "merge", "json"]),
              show_default=True)
@dry_run_option
@pass_ctx
@handle_errors
def patch(ctx: Ctx, targets: tuple[str, ...], namespace: str | None, patch_text: str, patch_type: str,
          dry_run: str) -> None:
    """Change fields of an object.

    --type merge (RFC 7386), json (RFC 6902) or strategic (kubectl's default: lists merge by
    their keys); the patch is JSON or YAML.

    \b
    Examples:
      osdn patch netnamespace project1 --type=merge -p '{"egressIPs": ["192.168.1.100"]}'
      osdn patch hostsubnet node1 --type=merge -p '{"egressIPs": ["192.168.1.100"]}'
      osdn patch pod web -n p1 -p '{"metadata": {"labels": {"tier": "front"}}}'
    """
    try:
        body = yaml.safe_load(patch_text)
    except yaml.YAMLError as e:
        raise BadRequestError(f"the patch is not valid JSON or YAML: {e}") from None
    writer = Writer(ctx.client, dry_run)
    for info, names in split_targets(targets):
        ns = ctx.namespace(namespace) if info.namespaced else ""
        for name in names:
            before = ctx.client.get(info, name, ns)
            after = writer.patch(info, name, body, ns, patch_type)
            warn(ctx.client)
            same = {k: v for k, v in before.items() if k != "metadata"} == \
                {k: v for k, v in after.items() if k != "metadata"} and \
                before["metadata"].get("labels") == after["metadata"].get("labels") and \
                before["metadata"].get("annotations") == after["metadata"].get("annotations")
            click.echo(f"{qualified_name(info, name)} patched{' (no change)' if same else ''}{writer.suffix}")
    writer.finish()


# --------------------------------------------------------------------------------------------- edit
@click.command()
@click.argument("targets", nargs=-1, required=True)
@namespace_opt
@click.option("-o", "--output", default="yaml", type=click.Choice(["yaml", "json"]))
@dry_run_option
@pass_ctx
@handle_errors
def edit(ctx: Ctx, targets: tuple[str, ...], namespace: str | None, output: str, dry_run: str) -> None:
    """Edit an object in $OSDN_EDITOR or $EDITOR (default vi) and save it as an update.

    As kubectl edit: lines starting with '#' are ignored; if the text does not parse or the server
    rejects it, the editor reopens with the error as a comment at the top. Saving no change after
    an error (or an editor that exits non-zero) keeps your text in a file whose path is printed,
    and exits 1. An empty file or no change at all cancels the edit.

    \b
    Examples:
      osdn edit configmap settings -n p1
      OSDN_EDITOR=nano osdn edit netnamespace p1
      osdn edit egressnetworkpolicy default -n p1 -o json
    """
    from osdn.cli.editing import EditSession
    (info, names), = split_targets(targets)
    if len(names) != 1:
        raise BadRequestError("edit takes exactly one object")
    ns = ctx.namespace(namespace) if info.namespaced else ""
    obj = ctx.client.get(info, names[0], ns)
    writer = Writer(ctx.client, dry_run)
    session = EditSession(obj, f'{info.plural} "{names[0]}"', lambda new: writer.update(new, ns), output)
    result = session.run(lambda msg: click.echo(msg, err=True))
    if result is not None:
        warn(ctx.client)
        click.echo(f"{qualified_name(info, result['metadata']['name'])} edited{writer.suffix}")
        writer.finish()

