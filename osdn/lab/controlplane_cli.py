"""`osdn lab kill-server N` / `start-server N` / `kill-etcd N` / `start-etcd N`: control-plane failure drills
on a lab made with `lab up --store etcd --servers N` (osdn.lab.controlplane does the work)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import click

from osdn.lab.cli import find_lab, lab_errors

if TYPE_CHECKING:
    from osdn.lab.cluster import LabInfo

_name = click.option("--name", default="lab", show_default=True, help="Lab name.")
_dir = click.option("--dir", "lab_dir", default="", metavar="DIR", help="Lab directory (as for `lab up`).")


def _leader_text(info: LabInfo) -> str:
    from osdn.lab import controlplane
    index = controlplane.leader(info)
    return f"the controllers' leader is server {index}" if index else "no server holds the leader Lease"


@click.command("kill-server")
@click.argument("index", type=int)
@_name
@_dir
@lab_errors
def kill_server(index: int, name: str, lab_dir: str) -> None:
    """Crash API server INDEX (SIGKILL); clients and agents fail over to the others.

    If it led the master controllers, another server takes the Lease kube-system/osdn-master over
    once it expires (4 s by default).

    \b
    Examples:
      osdn lab kill-server 1
    """
    from osdn.lab import controlplane
    pid = controlplane.kill_server(find_lab(name, lab_dir), index)
    click.echo(f"server {index}: " + (f"pid {pid} killed" if pid else "was not running"))


@click.command("start-server")
@click.argument("index", type=int)
@_name
@_dir
@lab_errors
def start_server(index: int, name: str, lab_dir: str) -> None:
    """Start API server INDEX again with its recorded command line; wait until it answers.

    It shares the lab's data dir (CA, tokens) and etcd with the others, so it serves the current
    state at once; it takes the controllers' Lease only if no other server holds it.

    \b
    Examples:
      osdn lab start-server 1
    """
    from osdn.lab import controlplane
    info = find_lab(name, lab_dir)
    t0 = time.monotonic()
    pid = controlplane.start_server(info, index)
    click.echo(f"server {index}: pid {pid} serving after {time.monotonic() - t0:.1f}s; {_leader_text(info)}")


@click.command("kill-etcd")
@click.argument("index", type=int)
@_name
@_dir
@lab_errors
def kill_etcd(index: int, name: str, lab_dir: str) -> None:
    """Crash etcd member INDEX (SIGKILL); with two of three left the cluster keeps its quorum.

    The API servers' store clients move on to the other members; if it led the etcd cluster, the
    others elect a new leader first (about a second without writes).

    \b
    Examples:
      osdn lab kill-etcd 2
    """
    from osdn.lab import controlplane
    pid = controlplane.kill_etcd(find_lab(name, lab_dir), index)
    click.echo(f"etcd member {index}: " + (f"pid {pid} killed" if pid else "was not running"))


@click.command("start-etcd")
@click.argument("index", type=int)
@_name
@_dir
@lab_errors
def start_etcd(index: int, name: str, lab_dir: str) -> None:
    """Start etcd member INDEX again; wait until it is healthy.

    It restarts on its own data dir with its recorded command line, rejoins the cluster and
    catches up with the writes it missed.

    \b
    Examples:
      osdn lab start-etcd 2
    """
    from osdn.lab import controlplane
    t0 = time.monotonic()
    pid = controlplane.start_etcd(find_lab(name, lab_dir), index)
    click.echo(f"etcd member {index}: pid {pid} healthy after {time.monotonic() - t0:.1f}s")


COMMANDS: list[click.Command] = [kill_server, start_server, kill_etcd, start_etcd]
