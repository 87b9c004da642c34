"""`--dry-run=impact`: which connections between existing pods (and from them to the outside
addresses that stand for the egress firewalls' rules) a change would open and close
(every writing command, e.g. `osdn apply --dry-run=impact`, `osdn label pod ... --dry-run=impact`,
`osdn adm pod-network ... --dry-run=impact`).

The change is first sent to the server as a dry run (see `dryrun.Writer`), so the objects compared
are exactly what the server would store (defaults applied, admission passed); nothing is written.
The preview leads with a one-line summary, groups the changes by (source, destination) project
pair, and lists every connection only with `--details` (or `-o wide`).
"""

from __future__ import annotations

from typing import Any

import click

from osdn.cli.clusterstate import fetch_objects
from osdn.cli.context import Ctx
from osdn.client import Client
from osdn.model.impact import (
    apply_changes,
    compute_change_impact,
    compute_network_changes,
    replace_objects,
    summarize_impact,
)
from osdn.model.sdnconfig import Mode

Obj = dict[str, Any]
DETAILS_KEY = "osdn.impact_details"  # set by the --details option (see dryrun.dry_run_option)


def print_impact(before_objs: list[Obj], after_objs: list[Obj], details: bool = False) -> None:
    opened, closed = compute_change_impact(before_objs, after_objs)
    click.echo("\n".join(summarize_impact(opened, closed, details)))


def wants_details() -> bool:
    """`--details` or `-o wide` on the running command."""
    cctx = click.get_current_context(silent=True)
    if cctx is None:
        return False
    return bool(cctx.meta.get(DETAILS_KEY)) or cctx.params.get("output") == "wide"


def print_change_impact(client: Client, changed: list[Obj], deleted: list[Obj]) -> None:
    """The impact of writes the server accepted as a dry run (`changed`, `deleted`)."""
    before = fetch_objects(client)
    print_impact(before, apply_changes(before, changed, deleted), wants_details())


def print_pod_network_impact(ctx: Ctx, projects: list[str], value: str) -> None:
    """What `adm pod-network ...` would open and close: replay the change-network decisions on a
    copy of the NetID registry, then compare the model's matrices before and after."""
    before = fetch_objects(ctx.client)
    changed, errors = compute_network_changes(before, [(p, value) for p in projects], Mode.MULTITENANT)
    for error in errors:
        click.echo(error, err=True)
    print_impact(before, replace_objects(before, changed), wants_details())
