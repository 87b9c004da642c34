"""`osdn adm policy add-scc-to-user|remove-scc-from-user|add-scc-to-group|remove-scc-from-group`, as `oc`.

A security context constraint (osdn.api.podsecurity: restricted for everyone; hostnetwork,
hostaccess and privileged granted) is used through the ClusterRole `system:openshift:scc:NAME`;
these commands add or remove subjects on the ClusterRoleBinding of that name, as `oc adm policy`
does in OpenShift 4. `-z SA` names service accounts of the current (or `-n`) project.
"""

from __future__ import annotations

from typing import Any

import click

from osdn.api import podsecurity
from osdn.cli.admin import RBAC, change_binding, policy
from osdn.cli.context import Ctx, handle_errors, pass_ctx
from osdn.cli.dryrun import Writer, dry_run_option
from osdn.errors import BadRequestError

Obj = dict[str, Any]
SCC_NAMES = click.Choice(podsecurity.GRANTABLE)


def _subjects(ctx: Ctx, kind: str, names: tuple[str, ...], accounts: tuple[str, ...], namespace: str | None) -> \
        list[Obj]:
    if not names and not accounts:
        raise BadRequestError(f"name a {kind.lower()}{' or a service account (-z)' if kind == 'User' else ''}")
    subjects: list[Obj] = [{"kind": kind, "apiGroup": RBAC, "name": n} for n in names]
    if accounts:
        ns = ctx.namespace(namespace)
        subjects += [{"kind": "ServiceAccount", "name": sa, "namespace": ns} for sa in accounts]
    return subjects


def _change(ctx: Ctx, scc: str, subjects: list[Obj], dry_run: str, add: bool) -> None:
    role = f"system:openshift:scc:{scc}"
    writer = Writer(ctx.client, dry_run)
    change_binding(writer, "ClusterRoleBinding", role, subjects, "", add)
    shown = ", ".join(f'"{s["name"]}"' for s in subjects)
    click.echo(f"clusterrole.rbac.authorization.k8s.io/{role} {'added' if add else 'removed'}: {shown}"
               f"{writer.suffix}")
    writer.finish()


def _user_command(name: str, add: bool) -> click.Command:
    @policy.command(name)
    @click.argument("scc", type=SCC_NAMES)
    @click.argument("users", nargs=-1)
    @click.option("-z", "--serviceaccount", "accounts", multiple=True, metavar="SA",
                  help="A service account of the project (-n or the current one); repeatable.")
    @click.option("-n", "--namespace", default=None, help="The project of the -z service accounts.")
    @dry_run_option
    @pass_ctx
    @handle_errors
    def command(ctx: Ctx, scc: str, users: tuple[str, ...], accounts: tuple[str, ...], namespace: str | None,
                dry_run: str) -> None:
        _change(ctx, scc, _subjects(ctx, "User", users, accounts, namespace), dry_run, add)
    return command


def _group_command(name: str, add: bool) -> click.Command:
    @policy.command(name)
    @click.argument("scc", type=SCC_NAMES)
    @click.argument("groups", nargs=-1, required=True)
    @dry_run_option
    @pass_ctx
    @handle_errors
    def command(ctx: Ctx, scc: str, groups: tuple[str, ...], dry_run: str) -> None:
        _change(ctx, scc, _subjects(ctx, "Group", groups, (), None), dry_run, add)
    return command


_HELP = """{verb} the security context constraint SCC {prep} USERS or service accounts (-z).

Pods that need more than `restricted` (host network or ports, host PID/IPC, hostPath volumes,
privileged containers, added capabilities) are admitted only when the user who writes them, or
the pod's service account, may use an SCC that allows them. Cluster admins may use every SCC.

{what}

\b
Examples:
  osdn adm policy {name} privileged alice
  osdn adm policy {name} hostnetwork -z router -n ops
"""

_user_command("add-scc-to-user", True).help = _HELP.format(
    verb="Let", prep="be used by", name="add-scc-to-user",
    what="Adds the subjects to the ClusterRoleBinding system:openshift:scc:SCC (made if missing), as oc.")
_user_command("remove-scc-from-user", False).help = _HELP.format(
    verb="Stop letting", prep="be used by", name="remove-scc-from-user",
    what="Removes the subjects from the ClusterRoleBinding system:openshift:scc:SCC, as oc.")
_GROUP_HELP = """{verb} the security context constraint SCC {prep} GROUPS.

An SCC decides which pods beyond `restricted` its users may write (see add-scc-to-user). {what}

\b
Examples:
  osdn adm policy {name} hostnetwork network-admins
"""

_group_command("add-scc-to-group", True).help = _GROUP_HELP.format(
    verb="Let", prep="be used by", name="add-scc-to-group",
    what="Adds the groups to the ClusterRoleBinding system:openshift:scc:SCC (made if missing), as oc.")
_group_command("remove-scc-from-group", False).help = _GROUP_HELP.format(
    verb="Stop letting", prep="be used by", name="remove-scc-from-group",
    what="Removes the groups from the ClusterRoleBinding system:openshift:scc:SCC, as oc.")
