"""`osdn adm pod-network`: join, isolate and make global the pod networks of projects (multitenant).

Like `oc adm pod-network`: each verb sets `pod.network.openshift.io/multitenant.change-network`
on the projects' NetNamespaces, then waits until the master has applied it (annotation removed) or
refused it (`network.osdn.io/change-network-error`), and reports each project's resulting NetID.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import click

from osdn.cli.context import Ctx, handle_errors, pass_ctx
from osdn.cli.dryrun import Writer, dry_run_option
from osdn.cli.impact import print_pod_network_impact
from osdn.client import Client
from osdn.errors import BadRequestError, NotFoundError, OsdnError
from osdn.model.netid import CHANGE_NETWORK_ANNOTATION, DEFAULT_NAMESPACE
from osdn.model.sdnconfig import Mode, parse_mode

CHANGE_ERROR_ANNOTATION = "network.osdn.io/change-network-error"
WAIT_SECONDS = 15.0


@dataclass
class Outcome:
    project: str
    netid: int | None = None
    error: str | None = None


def require_multitenant(client: Client) -> None:
    plugin = str(client.get("ClusterNetwork", "default").get("pluginName") or "")
    if parse_mode(plugin) is not Mode.MULTITENANT:
        raise BadRequestError("managing pod network is only supported for openshift multitenant network "
                              f"plugin (this cluster runs {plugin!r})")


def select_projects(client: Client, names: tuple[str, ...], selector: str) -> list[str]:
    if names and selector:
        raise BadRequestError("either specify --selector or projects but not both")
    if not names and not selector:
        raise BadRequestError("must provide --selector=<project_selector> or projects")
    if selector:
        found = [p["metadata"]["name"] for p in client.list("Project", label_selector=selector)["items"]]
        if not found:
            raise NotFoundError(f'no projects found matching selector "{selector}"')
        return found
    missing = []
    for name in names:
        try:
            client.get("Project", name)
        except NotFoundError:
            missing.append(name)
    if missing:
        raise NotFoundError(f"project(s) not found: {', '.join(missing)}")
    return list(dict.fromkeys(names))


def _request(client: Client, project: str, value: str) -> None:
    """Set the change annotation (and clear an old error); waits for the NetNamespace to exist."""
    deadline = time.monotonic() + WAIT_SECONDS
    patch = {"metadata": {"annotations": {CHANGE_NETWORK_ANNOTATION: value, CHANGE_ERROR_ANNOTATION: None}}}
    while True:
        try:
            client.patch("NetNamespace", project, patch)
            return
        except NotFoundError:
            if time.monotonic() > deadline:
                raise NotFoundError(f'project "{project}" has no NetNamespace yet (is the master running?)') from None
            time.sleep(0.1)


def _wait(client: Client, project: str, value: str, deadline: float) -> Outcome:
    delay = 0.02
    while True:
        netns = client.get("NetNamespace", project)
        annotations = (netns.get("metadata") or {}).get("annotations") or {}
        error = annotations.get(CHANGE_ERROR_ANNOTATION)
        if error and error.startswith(f"{value}: "):
            return Outcome(project, error=error[len(value) + 2:])
        if CHANGE_NETWORK_ANNOTATION not in annotations:
            return Outcome(project, netid=int(netns.get("netid") or 0))
        if time.monotonic() > deadline:
            return Outcome(project, error=f"the master did not apply {value!r} within {WAIT_SECONDS:.0f}s "
                                          "(is it running in multitenant mode?)")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)


def change_network(client: Client, projects: list[str], value: str) -> list[Outcome]:
    """Request `value` for every project, then wait for all of them (they run in parallel)."""
    outcomes: dict[str, Outcome] = {}
    for project in projects:
        try:
            _request(client, project, value)
        except OsdnError as err:
            outcomes[project] = Outcome(project, error=err.message)
    deadline = time.monotonic() + WAIT_SECONDS
    for project in projects:
        if project not in outcomes:
            outcomes[project] = _wait(client, project, value, deadline)
    return [outcomes[p] for p in projects]


def report(outcomes: list[Outcome], done: str) -> None:
    failed = False
    for o in outcomes:
        if o.error:
            failed = True
            click.echo(f'error: project "{o.project}": {o.error}', err=True)
        else:
            click.echo(f'project "{o.project}" {done} (netid {o.netid})')
    if failed:
        sys.exit(1)


@click.group("pod-network")
def pod_network() -> None:
    """Join, isolate or make global project pod networks (multitenant plugin only).

    As `oc adm pod-network`: the NetIDs of the projects' NetNamespaces change, and with them who
    reaches whom. --dry-run=impact shows the connections that would open and close.

    \b
    Examples:
      osdn adm pod-network join-projects --to=project1 project2
      osdn adm pod-network isolate-projects project3
      osdn adm pod-network make-projects-global project4
    """


_selector = click.option("--selector", default="", help="Label selector of the projects (instead of names).")
_dry_run = dry_run_option


def previewed(ctx: Ctx, projects: list[str], value: str, dry_run: str, done: str) -> bool:
    """Carry out a dry run of the change (True), or do nothing for `none` (False).

    impact: the model's before/after matrices; server: the change annotation is sent as a server
    dry run (authorized and admitted, not stored); client: the NetNamespaces are only read.
    """
    if dry_run == "none":
        return False
    if dry_run == "impact":
        print_pod_network_impact(ctx, projects, value)
        return True
    writer = Writer(ctx.client, dry_run)
    for project in projects:
        writer.patch("NetNamespace", project, {"metadata": {"annotations": {CHANGE_NETWORK_ANNOTATION: value}}})
        click.echo(f'project "{project}" {done}{writer.suffix}')
    return True


@pod_network.command("join-projects")
@click.option("--to", "to", default="", help="The project whose pod network the others join.")
@_selector
@_dry_run
@click.argument("projects", nargs=-1)
@pass_ctx
@handle_errors
def join_projects(ctx: Ctx, to: str, selector: str, dry_run: str, projects: tuple[str, ...]) -> None:
    """Join PROJECTS (or --selector) to the pod network of --to: they get its NetID.

    Pods of joined projects reach each other as if they were one project (multitenant mode), as
    `oc adm pod-network join-projects`.

    \b
    Examples:
      osdn adm pod-network join-projects --to=project1 project2 project3
      osdn adm pod-network join-projects --to=project1 --selector='project=myproject'
      osdn adm pod-network join-projects --to=project1 project2 --dry-run=impact
    """
    client = ctx.client
    require_multitenant(client)
    if not to:
        raise BadRequestError("must provide --to=<project_name>")
    try:
        client.get("Project", to)
    except NotFoundError:
        raise NotFoundError(f'project "{to}" not found (from --to)') from None
    names = [p for p in select_projects(client, projects, selector) if p != to]
    if previewed(ctx, names, f"join:{to}", dry_run, f'joined to "{to}"'):
        return
    report(change_network(client, names, f"join:{to}"), f'joined to "{to}"')


@pod_network.command("isolate-projects")
@_selector
@_dry_run
@click.argument("projects", nargs=-1)
@pass_ctx
@handle_errors
def isolate_projects(ctx: Ctx, selector: str, dry_run: str, projects: tuple[str, ...]) -> None:
    """Give PROJECTS (or --selector) pod networks of their own.

    Each project gets a NetID of its own (multitenant mode), so its pods reach and are reached by
    no other project except global ones, as `oc adm pod-network isolate-projects`.

    \b
    Examples:
      osdn adm pod-network isolate-projects project1 project2
      osdn adm pod-network isolate-projects --selector='team=blue'
      osdn adm pod-network isolate-projects project1 --dry-run=impact
    """
    client = ctx.client
    require_multitenant(client)
    names = select_projects(client, projects, selector)
    if DEFAULT_NAMESPACE in names:
        raise BadRequestError(f'network isolation for project "{DEFAULT_NAMESPACE}" is forbidden')
    if previewed(ctx, names, "isolate", dry_run, "isolated"):
        return
    report(change_network(client, names, "isolate"), "isolated")


@pod_network.command("make-projects-global")
@_selector
@_dry_run
@click.argument("projects", nargs=-1)
@pass_ctx
@handle_errors
def make_projects_global(ctx: Ctx, selector: str, dry_run: str, projects: tuple[str, ...]) -> None:
    """Make PROJECTS (or --selector) global: they reach, and are reached by, every project.

    A global project has NetID 0 (multitenant mode), like `default`, as
    `oc adm pod-network make-projects-global`.

    \b
    Examples:
      osdn adm pod-network make-projects-global project1 project2
      osdn adm pod-network make-projects-global --selector='shared=true'
    """
    client = ctx.client
    require_multitenant(client)
    names = select_projects(client, projects, selector)
    if previewed(ctx, names, "global", dry_run, "made global"):
        return
    report(change_network(client, names, "global"), "made global")
