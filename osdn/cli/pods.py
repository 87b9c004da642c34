"""`osdn exec` and `osdn logs` for pods run by a local osdn lab.

The lab kubelet marks each pod it runs with `lab.osdn.io/netns` (its network namespace),
`lab.osdn.io/log` (its output), `lab.osdn.io/bin` (busybox applets) and `lab.osdn.io/etc` (its
resolv.conf and hosts): `exec` runs a command as the pod sees the world (that namespace, those files
over /etc/resolv.conf and /etc/hosts in a private mount namespace, the pod's hostname) with the
caller's terminal and exits with its status; `logs` prints the file.
Pods not run by a lab on this machine get a clear error.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

import click

from osdn.cli.context import Ctx, handle_errors, pass_ctx
from osdn.errors import OsdnError
from osdn.kernel import netns

ANNOTATION_NETNS, ANNOTATION_LOG, ANNOTATION_BIN = "lab.osdn.io/netns", "lab.osdn.io/log", "lab.osdn.io/bin"
ANNOTATION_ETC = "lab.osdn.io/etc"


def _lab_annotation(pod: dict[str, Any], key: str) -> str:
    meta = pod.get("metadata") or {}
    value = (meta.get("annotations") or {}).get(key, "")
    if not value:
        raise OsdnError(f'pod "{meta.get("name")}" in project "{meta.get("namespace")}" has no {key} '
                        "annotation: exec and logs work only for pods run by a local osdn lab, once running")
    return str(value)


@click.command("exec", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("-n", "--namespace", default=None, help="Project of the pod.")
@click.argument("pod_name")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@pass_ctx
@handle_errors
def exec_(ctx: Ctx, namespace: str | None, pod_name: str, command: tuple[str, ...]) -> None:
    """Run a command in a lab pod, as the pod sees the world (like kubectl exec).

    The command runs in the pod's network namespace and in a private mount namespace where
    /etc/resolv.conf and /etc/hosts are the pod's own (written by the lab kubelet: search
    domains PROJECT.svc.cluster.local svc.cluster.local cluster.local, the pod's name and IP),
    with the pod's name as hostname. The exit status is the command's.

    \b
    Examples:
      osdn exec -n blue client -- wget -qO- -T 2 http://10.128.2.2/
      osdn exec -n blue client -- getent hosts client
      osdn exec -n blue web -- cat /etc/resolv.conf
      osdn exec -n blue client -- ip -4 addr
    """
    if command[:1] == ("--",):
        command = command[1:]
    if not command:
        raise OsdnError("no command: osdn exec -n PROJECT POD -- COMMAND [ARGS...]")
    ns = ctx.namespace(namespace)
    pod = ctx.client.get("Pod", pod_name, ns)
    phase = (pod.get("status") or {}).get("phase")
    if phase in ("Succeeded", "Failed"):
        raise OsdnError(f'pod "{pod_name}" in project "{ns}": cannot exec into a container in a completed '
                        f"pod; current phase is {phase}")
    pod_ns = _lab_annotation(pod, ANNOTATION_NETNS)
    if not netns.netns_exists(pod_ns):
        raise OsdnError(f'pod "{pod_name}" in project "{ns}": network namespace {pod_ns!r} (from '
                        f"{ANNOTATION_NETNS}) does not exist on this machine")
    notes = pod["metadata"].get("annotations") or {}
    env = dict(os.environ)
    if notes.get(ANNOTATION_BIN):
        env["PATH"] = f"{env.get('PATH', '/usr/bin:/bin')}:{notes[ANNOTATION_BIN]}"
    env.update(POD_NAME=pod_name, POD_NAMESPACE=ns, POD_IP=str((pod.get("status") or {}).get("podIP", "")),
               HOSTNAME=pod_name)
    etc = str(notes.get(ANNOTATION_ETC) or "")
    view = netns.etc_view(pod_ns, etc, pod_name) if etc else netns.PodView(pod_ns, hostname=pod_name)
    sys.exit(_wait(netns.spawn_in_view(view, list(command), env=env)))


def _wait(proc: subprocess.Popen[Any]) -> int:
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        return proc.wait()


@click.command()
@click.option("-n", "--namespace", default=None, help="Project of the pod.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new output.")
@click.argument("pod_name")
@pass_ctx
@handle_errors
def logs(ctx: Ctx, namespace: str | None, pod_name: str, follow: bool) -> None:
    """Print the output of a lab pod.

    The pod's stdout and stderr, from the log file the lab kubelet keeps (every restart appends
    to it); -f keeps printing new output.

    \b
    Examples:
      osdn logs -n blue web
      osdn logs -n blue client -f
    """
    ns = ctx.namespace(namespace)
    path = _lab_annotation(ctx.client.get("Pod", pod_name, ns), ANNOTATION_LOG)
    try:
        with open(path, errors="replace") as fh:
            sys.stdout.write(fh.read())
            while follow:
                sys.stdout.write(fh.read())
                sys.stdout.flush()
                time.sleep(0.3)
    except FileNotFoundError:
        raise OsdnError(f'log of pod "{pod_name}" in project "{ns}": {path} does not exist on this machine') \
            from None
    except KeyboardInterrupt:
        pass
