"""Administration commands: `adm token`, `adm policy`, `new-project`, `project`, `whoami`, `version`."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import click

from osdn import __version__
from osdn.cli.context import Ctx, handle_errors, pass_ctx
from osdn.cli.dryrun import Writer, dry_run_option
from osdn.client.config import set_namespace, write_kubeconfig
from osdn.errors import BadRequestError, ForbiddenError, NotFoundError

RBAC = "rbac.authorization.k8s.io"
Obj = dict[str, Any]


@click.group()
def adm() -> None:
    """Cluster administration (tokens, role bindings, pod networks, analysis).

    The `oc adm` commands osdn has, and its own analysis: reachability, trace and verify.

    \b
    Examples:
      osdn adm pod-network join-projects --to=project1 project2
      osdn adm policy add-role-to-user admin alice -n p1
      osdn adm trace --from blue/client --to blue/web
    """


@adm.group()
def token() -> None:
    """Bearer tokens for users.

    Create (shown once), list (by id) and revoke the tokens users authenticate with.

    \b
    Examples:
      osdn adm token create alice --write-config alice.conf
      osdn adm token list
    """


@token.command("create")
@click.argument("user")
@click.option("--group", "groups", multiple=True, help="Group the user belongs to (repeatable).")
@click.option("--write-config", type=click.Path(dir_okay=False), default=None,
              help="Also write a client config file for this user (use with --config FILE).")
@click.option("--expires-in", default=None, metavar="DURATION",
              help="The token stops working after this long (24h, 90m, 3600s); default: never.")
@pass_ctx
@handle_errors
def token_create(ctx: Ctx, user: str, groups: tuple[str, ...], write_config: str | None,
                 expires_in: str | None) -> None:
    """Create a token for USER and print it (it is shown only once).

    Cluster admins only. With --write-config the token goes into a client config file the user
    can pass to --config.

    \b
    Examples:
      osdn adm token create alice
      osdn adm token create bob --group developers --write-config bob.conf
    """
    body: Obj = {"user": user, "groups": list(groups), **({"expiresIn": expires_in} if expires_in else {})}
    raw = str(ctx.client.request("POST", "/osdn/v1/tokens", body)["token"])
    if write_config:
        path = Path(write_config)
        cfg = ctx.client.config
        write_kubeconfig(path, "osdn", cfg.server, user, raw, cfg.ca_pem)
        click.echo(f"wrote {path} for user {user}", err=True)
    click.echo(raw)


@token.command("list")
@pass_ctx
@handle_errors
def token_list(ctx: Ctx) -> None:
    """List tokens by id (never the tokens themselves).

    Cluster admins only. Shows each token's id, user, groups and expiry.

    \b
    Examples:
      osdn adm token list
    """
    items = ctx.client.request("GET", "/osdn/v1/tokens")["items"]
    rows = [("ID", "USER", "GROUPS", "CREATED", "EXPIRES")] + [
        (t["id"], t["user"], ",".join(t["groups"]) or "<none>", t["created"] or "<unknown>", t["expires"] or "<never>")
        for t in items]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for row in rows:
        click.echo("   ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


@token.command("revoke")
@click.argument("token_ids", nargs=-1, required=True)
@pass_ctx
@handle_errors
def token_revoke(ctx: Ctx, token_ids: tuple[str, ...]) -> None:
    """Revoke tokens by the id `token list` shows.

    A unique prefix of 6 or more characters of the id will do. Cluster admins only.

    \b
    Examples:
      osdn adm token revoke 3f9c2a71
    """
    for token_id in token_ids:
        gone = ctx.client.request("DELETE", f"/osdn/v1/tokens/{token_id}")["details"]
        click.echo(f'token {gone["id"]} of user "{gone["user"]}" revoked')


# ------------------------------------------------------------------------------------------- policy
@adm.group()
def policy() -> None:
    """Grant and revoke roles.

    Role bindings in a project, or cluster-wide, as `oc adm policy`.

    \b
    Examples:
      osdn adm policy add-role-to-user admin alice -n p1
      osdn adm policy add-cluster-role-to-user route-editor bob
    """


def _subject(user: str) -> Obj:
    return {"kind": "User", "apiGroup": RBAC, "name": user}


def _same(a: Obj, b: Obj) -> bool:
    return all(a.get(k) == b.get(k) for k in ("kind", "name", "namespace"))


def change_binding(writer: Writer, kind: str, role: str, subjects: list[Obj], namespace: str, add: bool) -> None:
    """Add/remove subjects on the binding named after the role (creating it if needed), as oc does."""
    client = writer.client
    info = "RoleBinding" if kind == "RoleBinding" else "ClusterRoleBinding"
    # Fail early with NotFound for a typo'd role; a project admin may not read cluster roles (the
    # server still checks the binding).
    with contextlib.suppress(ForbiddenError):
        client.get("ClusterRole", role)
    try:
        binding = client.get(info, role, namespace)
    except NotFoundError:
        if not add:
            raise
        binding = {"apiVersion": f"{RBAC}/v1", "kind": info, "metadata": {"name": role},
                   "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": role}, "subjects": subjects}
        writer.create(binding, namespace)
        return
    kept = [s for s in binding.get("subjects") or [] if not any(_same(s, t) for t in subjects)]
    binding["subjects"] = kept + subjects if add else kept
    writer.update(binding, namespace)


def _change_binding(writer: Writer, kind: str, role: str, users: tuple[str, ...], namespace: str,
                    add: bool) -> None:
    change_binding(writer, kind, role, [_subject(u) for u in users], namespace, add)


@policy.command("add-role-to-user")
@click.argument("role")
@click.argument("users", nargs=-1, required=True)
@click.option("-n", "--namespace", default=None)
@dry_run_option
@pass_ctx
@handle_errors
def add_role_to_user(ctx: Ctx, role: str, users: tuple[str, ...], namespace: str | None, dry_run: str) -> None:
    """Give USERS the cluster role ROLE in one project.

    Adds the users to the RoleBinding named ROLE in the project (made if missing), as
    `oc adm policy add-role-to-user`.

    \b
    Examples:
      osdn adm policy add-role-to-user admin alice -n p1
      osdn adm policy add-role-to-user edit bob carol -n p1
    """
    ns = ctx.namespace(namespace)
    writer = Writer(ctx.client, dry_run)
    _change_binding(writer, "RoleBinding", role, users, ns, True)
    click.echo(f'role "{role}" added: {", ".join(repr(u) for u in users)} (project {ns}){writer.suffix}')
    writer.finish()


@policy.command("remove-role-from-user")
@click.argument("role")
@click.argument("users", nargs=-1, required=True)
@click.option("-n", "--namespace", default=None)
@dry_run_option
@pass_ctx
@handle_errors
def remove_role_from_user(ctx: Ctx, role: str, users: tuple[str, ...], namespace: str | None,
                          dry_run: str) -> None:
    """Take the role ROLE in one project away from USERS.

    Removes the users from the RoleBinding named ROLE in the project, as
    `oc adm policy remove-role-from-user`.

    \b
    Examples:
      osdn adm policy remove-role-from-user admin alice -n p1
    """
    ns = ctx.namespace(namespace)
    writer = Writer(ctx.client, dry_run)
    _change_binding(writer, "RoleBinding", role, users, ns, False)
    click.echo(f'role "{role}" removed: {", ".join(repr(u) for u in users)} (project {ns}){writer.suffix}')
    writer.finish()


def _quoted(users: tuple[str, ...]) -> str:
    """The users as oc prints them: "alice", "bob" (double quotes, as Go's %q)."""
    return ", ".join(f'"{u}"' for u in users)


@policy.command("add-cluster-role-to-user")
@click.argument("role")
@click.argument("users", nargs=-1, required=True)
@dry_run_option
@pass_ctx
@handle_errors
def add_cluster_role_to_user(ctx: Ctx, role: str, users: tuple[str, ...], dry_run: str) -> None:
    """Give USERS the cluster role ROLE everywhere.

    Adds the users to the ClusterRoleBinding named ROLE (made if missing), as
    `oc adm policy add-cluster-role-to-user`.

    \b
    Examples:
      osdn adm policy add-cluster-role-to-user route-editor alice
      osdn adm policy add-cluster-role-to-user cluster-admin bob carol
    """
    writer = Writer(ctx.client, dry_run)
    _change_binding(writer, "ClusterRoleBinding", role, users, "", True)
    click.echo(f'clusterrole.rbac.authorization.k8s.io/{role} added: {_quoted(users)}'
               f'{writer.suffix}')
    writer.finish()


@policy.command("remove-cluster-role-from-user")
@click.argument("role")
@click.argument("users", nargs=-1, required=True)
@dry_run_option
@pass_ctx
@handle_errors
def remove_cluster_role_from_user(ctx: Ctx, role: str, users: tuple[str, ...], dry_run: str) -> None:
    """Take the cluster role ROLE away from USERS everywhere.

    Removes the users from the ClusterRoleBinding named ROLE, as
    `oc adm policy remove-cluster-role-from-user`.

    \b
    Examples:
      osdn adm policy remove-cluster-role-from-user route-editor alice
    """
    writer = Writer(ctx.client, dry_run)
    _change_binding(writer, "ClusterRoleBinding", role, users, "", False)
    click.echo(f'clusterrole.rbac.authorization.k8s.io/{role} removed: {_quoted(users)}'
               f'{writer.suffix}')
    writer.finish()


# ------------------------------------------------------------------------------------------ project
@click.command("new-project")
@click.argument("name")
@click.option("--display-name", default="")
@click.option("--description", default="")
@dry_run_option
@pass_ctx
@handle_errors
def new_project(ctx: Ctx, name: str, display_name: str, description: str, dry_run: str) -> None:
    """Create a project; you become its admin.

    Like `oc new-project`: the project request template runs, the new project becomes the current
    one (saved in the config file), and in multitenant mode it gets a NetID of its own.

    \b
    Examples:
      osdn new-project blue
      osdn new-project shop --display-name "Shop" --description "the web shop"
    """
    annotations = {k: v for k, v in (("openshift.io/display-name", display_name),
                                     ("openshift.io/description", description)) if v}
    writer = Writer(ctx.client, dry_run)
    writer.create({"apiVersion": "project.openshift.io/v1", "kind": "Project",
                   "metadata": {"name": name, **({"annotations": annotations} if annotations else {})}})
    if writer.dry:
        click.echo(f"project.project.openshift.io/{name} created{writer.suffix}")
        writer.finish()
        return
    click.echo(f'Now using project "{name}" on server "{ctx.client.config.server}".')
    _set_current(ctx, name)


def _set_current(ctx: Ctx, name: str) -> None:
    src = ctx.client.config.source
    if src and src != "flags" and Path(src).exists():
        set_namespace(src, name)


@click.command()
@click.argument("name", required=False)
@pass_ctx
@handle_errors
def project(ctx: Ctx, name: str | None) -> None:
    """Show the current project, or switch to NAME (saved in the config file).

    Commands without -n act in the current project, as with `oc project`.

    \b
    Examples:
      osdn project
      osdn project blue
    """
    if not name:
        click.echo(f'Using project "{ctx.namespace(None)}" on server "{ctx.client.config.server}".')
        return
    ctx.client.get("Project", name)
    _set_current(ctx, name)
    click.echo(f'Now using project "{name}" on server "{ctx.client.config.server}".')


@click.command()
@pass_ctx
@handle_errors
def whoami(ctx: Ctx) -> None:
    """Print the user the current token belongs to.

    As the server sees it: useful to check which config file or token is in use.

    \b
    Examples:
      osdn whoami
      osdn --config bob.conf whoami
    """
    click.echo(ctx.client.whoami()["user"])


@click.command()
@click.option("--client", "client_only", is_flag=True, help="Only the client version.")
@pass_ctx
def version(ctx: Ctx, client_only: bool) -> None:
    """Print the client and server versions.

    With --client only the client's (no server needed).

    \b
    Examples:
      osdn version
      osdn version --client
    """
    click.echo(f"Client Version: {__version__}")
    if client_only:
        return
    try:
        info = ctx.client.request("GET", "/version")
        click.echo(f"Server Version: {info.get('osdn')}")
    except BadRequestError:
        pass
    except Exception as e:  # an unreachable server must not hide the client version
        click.echo(f"Server Version: unavailable ({e})", err=True)
