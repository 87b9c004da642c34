"""Commands that build objects from flags: label, annotate, expose, create configmap|clusterrole|namespace."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from osdn.api.registry import KindInfo, resolve_subresource
from osdn.cli.context import Ctx, handle_errors, pass_ctx, warn
from osdn.cli.crud import create, namespace_opt, split_targets
from osdn.cli.dryrun import Writer, dry_run_option
from osdn.cli.printers import qualified_name
from osdn.errors import BadRequestError

Obj = dict[str, Any]


def parse_changes(pairs: tuple[str, ...], what: str) -> tuple[dict[str, str], list[str]]:
    """`k=v` sets, `k-` removes; anything else is an error naming the argument."""
    sets: dict[str, str] = {}
    removes: list[str] = []
    for p in pairs:
        if "=" in p:
            k, v = p.split("=", 1)
            sets[k] = v
        elif p.endswith("-"):
            removes.append(p[:-1])
        else:
            raise BadRequestError(f'invalid {what} "{p}": use KEY=VALUE to set or KEY- to remove')
    return sets, removes


def _meta_command(ctx: Ctx, field: str, args: tuple[str, ...], namespace: str | None, overwrite: bool,
                  selector: str, all_: bool, writer: Writer) -> None:
    what = "label" if field == "labels" else "annotation"
    split = [i for i, a in enumerate(args) if "=" in a or (a.endswith("-") and i > 0)]
    if not split:
        raise BadRequestError(f"at least one {what} update is required (KEY=VALUE or KEY-)")
    targets, changes = args[:split[0]], args[split[0]:]
    sets, removes = parse_changes(changes, what)
    client = ctx.client
    for info, names in split_targets(targets):
        ns = ctx.namespace(namespace) if info.namespaced else ""
        if not names:
            if not (selector or all_):
                raise BadRequestError(f"give a name, -l SELECTOR or --all for {info.plural}")
            names = [o["metadata"]["name"] for o in client.list(info, ns, selector)["items"]]
        for name in names:
            obj = client.get(info, name, ns)
            current = obj["metadata"].get(field) or {}
            for k, v in sets.items():
                if k in current and current[k] != v and not overwrite:
                    raise BadRequestError(f"'{k}' already has a value ({current[k]}), and --overwrite is false")
            patch = {"metadata": {field: {**{k: v for k, v in sets.items()}, **{k: None for k in removes}},
                                  "resourceVersion": obj["metadata"]["resourceVersion"]}}
            if field == "labels":
                for k in removes:
                    if k not in current:
                        click.echo(f'label "{k}" not found.')
            writer.patch(info, name, patch, ns, "merge")
            warn(client)
            verb = _label_verb(current, sets, removes, overwrite) if field == "labels" else "annotated"
            click.echo(f"{qualified_name(info, name)} {verb}{writer.suffix}")
    writer.finish()


def _label_verb(current: dict[str, str], sets: dict[str, str], removes: list[str], overwrite: bool) -> str:
    """kubectl label's word: "not labeled" when nothing changes, "unlabeled" when the labels only got
    shorter (without --overwrite; kubectl compares the JSON lengths), else "labeled"."""
    new = {k: v for k, v in {**current, **sets}.items() if k not in removes}
    if new == current:
        return "not labeled"
    shorter = len(json.dumps(new, separators=(",", ":"))) < len(json.dumps(current, separators=(",", ":")))
    return "unlabeled" if shorter and not overwrite else "labeled"


_META_OPTS = [namespace_opt,
              click.option("--overwrite", is_flag=True, help="Allow changing an existing value."),
              click.option("-l", "--selector", default=""),
              click.option("--all", "all_", is_flag=True),
              dry_run_option]


def _with(opts: list[Any]) -> Any:
    def deco(fn: Any) -> Any:
        for o in reversed(opts):
            fn = o(fn)
        return fn
    return deco


@click.command()
@click.argument("args", nargs=-1, required=True)
@_with(_META_OPTS)
@pass_ctx
@handle_errors
def label(ctx: Ctx, args: tuple[str, ...], namespace: str | None, overwrite: bool, selector: str,
          all_: bool, dry_run: str) -> None:
    """Set (KEY=VALUE) or remove (KEY-) labels.

    On one object (KIND NAME or KIND/NAME), on those matching -l, or on --all of a kind; changing
    an existing value needs --overwrite, as kubectl label. Labels on pods and namespaces decide
    what NetworkPolicies and pod-network selectors match.

    \b
    Examples:
      osdn label namespace default name=default
      osdn label pod web -n p1 app=web tier=front
      osdn label pods -n p1 --all tier-
    """
    _meta_command(ctx, "labels", args, namespace, overwrite, selector, all_, Writer(ctx.client, dry_run))


@click.command()
@click.argument("args", nargs=-1, required=True)
@_with(_META_OPTS)
@pass_ctx
@handle_errors
def annotate(ctx: Ctx, args: tuple[str, ...], namespace: str | None, overwrite: bool, selector: str,
             all_: bool, dry_run: str) -> None:
    """Set (KEY=VALUE) or remove (KEY-) annotations.

    On one object (KIND NAME or KIND/NAME), on those matching -l, or on --all of a kind; changing
    an existing value needs --overwrite, as kubectl annotate.

    \b
    Examples:
      osdn annotate netnamespace p1 netnamespace.network.openshift.io/multicast-enabled=true
      osdn annotate namespace p1 openshift.io/node-selector-
      osdn annotate pod web -n p1 owner=alice --overwrite
    """
    _meta_command(ctx, "annotations", args, namespace, overwrite, selector, all_, Writer(ctx.client, dry_run))


# --------------------------------------------------------------------------------------- create ...
@create.command("configmap")
@click.argument("name")
@click.option("--from-file", "from_file", multiple=True, metavar="[KEY=]PATH",
              help="Add a file's content; the key defaults to the file name.")
@click.option("--from-literal", multiple=True, metavar="KEY=VALUE")
@namespace_opt
@dry_run_option
@pass_ctx
@handle_errors
def create_configmap(ctx: Ctx, name: str, from_file: tuple[str, ...], from_literal: tuple[str, ...],
                     namespace: str | None, dry_run: str) -> None:
    """Create a ConfigMap from files and literals.

    --from-file=KEY=PATH (or PATH, keyed by the file name) and --from-literal=KEY=VALUE, both
    repeatable, as kubectl create configmap.

    \b
    Examples:
      osdn create configmap egress-routes --from-file=destination=my-egress-destination.txt -n p1
      osdn create configmap settings --from-literal=mode=fast --from-literal=level=3 -n p1
    """
    data: dict[str, str] = {}
    for spec in from_file:
        key, _, path = spec.rpartition("=") if "=" in spec else ("", "", spec)
        p = Path(path)
        if not p.is_file():
            raise BadRequestError(f'--from-file: "{path}" is not a file')
        data[key or p.name] = p.read_text()
    for spec in from_literal:
        if "=" not in spec:
            raise BadRequestError(f'--from-literal "{spec}" must be KEY=VALUE')
        k, v = spec.split("=", 1)
        data[k] = v
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}
    writer = Writer(ctx.client, dry_run)
    result = writer.create(obj, ctx.namespace(namespace))
    click.echo(f"configmap/{result['metadata']['name']} created{writer.suffix}")
    writer.finish()


@create.command("clusterrole")
@click.argument("name")
@click.option("--verb", multiple=True, required=True, help="Verb(s), repeatable or comma-separated.")
@click.option("--resource", multiple=True, required=True,
              help="Resource(s) as PLURAL[.GROUP][/SUBRESOURCE], e.g. routes.route.openshift.io/custom-host.")
@click.option("--resource-name", multiple=True)
@dry_run_option
@pass_ctx
@handle_errors
def create_clusterrole(ctx: Ctx, name: str, verb: tuple[str, ...], resource: tuple[str, ...],
                       resource_name: tuple[str, ...], dry_run: str) -> None:
    """Create a ClusterRole with one rule per API group.

    Each --resource (PLURAL or PLURAL.GROUP) goes into the rule of its group, with every --verb;
    --resource-name limits the rules to named objects.

    \b
    Examples:
      osdn create clusterrole route-editor --verb=get --verb=update --resource=routes.route.openshift.io
      osdn create clusterrole pod-reader --verb=get --verb=list --verb=watch --resource=pods
    """
    verbs = [v for item in verb for v in item.split(",") if v]
    by_group: dict[str, list[str]] = {}
    for item in (r for spec in resource for r in spec.split(",") if r):
        info, sub = resolve_subresource(item)
        by_group.setdefault(info.group, []).append(f"{info.plural}/{sub}" if sub else info.plural)
    rules = [{"apiGroups": [g], "resources": rs, "verbs": verbs,
              **({"resourceNames": list(resource_name)} if resource_name else {})} for g, rs in by_group.items()]
    writer = Writer(ctx.client, dry_run)
    writer.create({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                   "metadata": {"name": name}, "rules": rules})
    click.echo(f"clusterrole.rbac.authorization.k8s.io/{name} created{writer.suffix}")
    writer.finish()


@create.command("namespace")
@click.argument("name")
@dry_run_option
@pass_ctx
@handle_errors
def create_namespace(ctx: Ctx, name: str, dry_run: str) -> None:
    """Create a Namespace.

    Prefer `osdn new-project`, which also makes you its admin and applies the project request
    template.

    \b
    Examples:
      osdn create namespace scratch
    """
    writer = Writer(ctx.client, dry_run)
    writer.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    click.echo(f"namespace/{name} created{writer.suffix}")
    writer.finish()


# ------------------------------------------------------------------------------------------- expose
def _selector_of(info: KindInfo, obj: Obj) -> dict[str, str]:
    spec = obj.get("spec") or {}
    if info.kind == "Pod":
        sel = obj["metadata"].get("labels") or {}
    elif info.kind == "ReplicationController":
        sel = spec.get("selector") or (spec.get("template") or {}).get("metadata", {}).get("labels") or {}
    elif info.kind in ("Deployment", "ReplicaSet"):
        sel = (spec.get("selector") or {}).get("matchLabels") or {}
    elif info.kind == "Service":
        sel = spec.get("selector") or {}
    else:
        raise BadRequestError(f"cannot expose a {info.kind}: expose pods, replicationcontrollers, "
                              "deployments, replicasets or services")
    if not sel:
        raise BadRequestError(f'{info.kind} "{obj["metadata"]["name"]}" has no labels to select its pods')
    return dict(sel)


def _ports_of(obj: Obj) -> list[int]:
    spec = obj.get("spec") or {}
    pod_spec = spec.get("template", {}).get("spec", spec) if "template" in spec else spec
    return [p["containerPort"] for c in pod_spec.get("containers") or [] for p in c.get("ports") or []
            if "containerPort" in p]


def _parse_selector(text: str) -> dict[str, str]:
    """`k=v,k2=v2` (equality only, as a Service selector) -> a map; anything else is a BadRequestError."""
    out = {}
    for term in text.split(","):
        key, sep, value = term.partition("=")
        if not sep or not key.strip() or "!" in key:
            raise BadRequestError(f'--selector: "{term}" is not key=value (a Service selects by equality only)')
        out[key.strip()] = value.strip()
    return out


@click.command()
@click.argument("targets", nargs=-1, required=True)
@namespace_opt
@click.option("--port", type=int, help="Service port (default: the first container port).")
@click.option("--target-port", default=None, help="Container port or name (default: --port).")
@click.option("--protocol", default="TCP", type=click.Choice(["TCP", "UDP", "SCTP"]))
@click.option("--name", "svc_name", default=None, help="Name of the new Service/Route.")
@click.option("--type", "svc_type", default="ClusterIP",
              type=click.Choice(["ClusterIP", "NodePort", "LoadBalancer"]), help="Type of the Service.")
@click.option("--node-port", type=click.IntRange(1, 65535), default=None,
              help="The node port to ask for (type NodePort/LoadBalancer; default: one is allocated).")
@click.option("--hostname", default=None, help="Route host name (exposing a service).")
@click.option("--selector", "selector_text", default=None, help="Pod selector k=v[,k=v] (default: the object's).")
@click.option("--session-affinity", default=None, type=click.Choice(["None", "ClientIP"]))
@click.option("--cluster-ip", default=None, help='ClusterIP to ask for ("None": a headless service).')
@dry_run_option
@pass_ctx
@handle_errors
def expose(ctx: Ctx, targets: tuple[str, ...], namespace: str | None, port: int | None, target_port: str | None,
           protocol: str, svc_name: str | None, svc_type: str, node_port: int | None, hostname: str | None,
           selector_text: str | None, session_affinity: str | None, cluster_ip: str | None, dry_run: str) -> None:
    """Expose pods/rc/deployments/replicasets as a Service, or a Service as a Route (like oc expose).

    The Service selects the pods of the object exposed; --port is the Service port, --target-port
    the pods' port. A Service is exposed as a Route (with --hostname).

    \b
    Examples:
      osdn expose rc egress-demo-controller --port=80 -n p1
      osdn expose pod web --port=80 --target-port=8080 --name=web -n p1
      osdn expose service web --hostname=www.example.com -n p1
      osdn expose pod web --port=80 --name=sticky --session-affinity=ClientIP -n p1
      osdn expose deployment web --port=80 --type=NodePort --node-port=30080 -n p1
    """
    (info, names), = split_targets(targets)
    if len(names) != 1:
        raise BadRequestError("expose takes exactly one object")
    ns = ctx.namespace(namespace)
    obj = ctx.client.get(info, names[0], ns)
    name = svc_name or names[0]
    writer = Writer(ctx.client, dry_run)
    if info.kind == "Service":
        route: Obj = {"apiVersion": "route.openshift.io/v1", "kind": "Route",
                      "metadata": {"name": name, "labels": obj["metadata"].get("labels") or {}},
                      "spec": {"to": {"kind": "Service", "name": names[0]}}}
        if hostname:
            route["spec"]["host"] = hostname
        writer.create(route, ns)
        click.echo(f"route.route.openshift.io/{name} exposed{writer.suffix}")
        writer.finish()
        return
    selector = _parse_selector(selector_text) if selector_text else _selector_of(info, obj)
    ports = [port] if port else _ports_of(obj)
    if not ports:
        raise BadRequestError(f'couldn\'t find a port for {info.singular} "{names[0]}": pass --port')
    svc_ports = [{"name": f"port-{p}" if len(ports) > 1 else None, "port": p, "protocol": protocol,
                  "targetPort": (int(target_port) if target_port and target_port.isdigit() else target_port) or p}
                 for p in ports]
    if node_port is not None:
        if svc_type == "ClusterIP" or len(svc_ports) != 1:
            raise BadRequestError("--node-port needs --type=NodePort or LoadBalancer and exactly one port")
        svc_ports[0]["nodePort"] = node_port
    svc_ports = [{k: v for k, v in sp.items() if v is not None} for sp in svc_ports]
    spec: Obj = {"selector": selector, "ports": svc_ports, "type": svc_type}
    spec.update({k: v for k, v in (("sessionAffinity", session_affinity), ("clusterIP", cluster_ip)) if v})
    svc = {"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": name, "labels": obj["metadata"].get("labels") or {}}, "spec": spec}
    writer.create(svc, ns)
    warn(ctx.client)
    click.echo(f"service/{name} exposed{writer.suffix}")
    writer.finish()

