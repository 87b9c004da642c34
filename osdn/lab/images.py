"""The lab's "images" that are osdn programs, container environments, and init containers.

Role: the lab runs no container images; a container with a `command` runs that host command, and a
container without one runs what its image stands for here (`image_argv`): the openshift egress
router images (`openshift/origin-egress-router`, `openshift3/ose-egress-router`, the `-egress-http-proxy`
and `-egress-dns-proxy` ones, any registry or tag) run `osdn egress-router [http-proxy|dns-proxy]`,
and `origin-pod`/`ose-pod` (the pause image) sleeps. `container_env` resolves `env` as a kubelet does:
`value`, and `valueFrom` with `configMapKeyRef`, `secretKeyRef` (read through the API with the lab's
admin credentials) and `fieldRef` (name, namespace, pod IP, node). `run_init_containers` runs
`spec.initContainers` in order, each to completion, before the pod's container starts; a failing one
stops the start (the kubelet retries the pod with back-off) with its last output line as the reason.
"""

from __future__ import annotations

import base64
import subprocess
import sys
import time
from typing import Any

from osdn.client import Client, load_config
from osdn.errors import NotFoundError, OsdnError
from osdn.kernel import netns
from osdn.lab.cluster import LabInfo

Obj = dict[str, Any]
INIT_TIMEOUT = 120.0
_PROGRAMS = {"egress-router": [], "egress-http-proxy": ["http-proxy"], "egress-dns-proxy": ["dns-proxy"]}


def image_name(image: str) -> str:
    """`registry:5000/openshift3/ose-egress-router:v3.11` -> `ose-egress-router`. Pure."""
    last = image.rsplit("/", 1)[-1]
    return last.split("@", 1)[0].split(":", 1)[0]


def image_argv(image: str) -> list[str] | None:
    """The argv an image stands for in the lab, or None for an ordinary image. Pure."""
    name = image_name(image)
    for prefix in ("origin-", "ose-"):
        if name.startswith(prefix) and name[len(prefix):] in _PROGRAMS:
            return [sys.executable, "-m", "osdn", "egress-router", *_PROGRAMS[name[len(prefix):]]]
        if name == f"{prefix}pod":
            return ["sleep", "infinity"]
    return None


class EnvError(OsdnError):
    """An env var's valueFrom cannot be resolved (missing ConfigMap, key or Secret)."""


def _ref_value(client: Client | None, kind: str, ref: Obj, namespace: str, name: str) -> str | None:
    if client is None:
        raise EnvError(f"env {name}: valueFrom needs the API and the lab has no admin credentials")
    try:
        obj = client.get(kind, ref.get("name", ""), namespace)
    except NotFoundError:
        if ref.get("optional"):
            return None
        raise EnvError(f'env {name}: {kind} "{ref.get("name")}" not found in project "{namespace}"') from None
    data = obj.get("data") or {}
    if ref.get("key") not in data:
        if ref.get("optional"):
            return None
        raise EnvError(f'env {name}: key "{ref.get("key")}" not found in {kind} "{ref.get("name")}"')
    value = str(data[ref["key"]])
    return base64.b64decode(value).decode() if kind == "Secret" else value


def _field_value(pod: Obj, path: str, ip: str) -> str:
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    fields = {"metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace"),
              "metadata.uid": meta.get("uid"), "spec.nodeName": spec.get("nodeName"),
              "spec.serviceAccountName": spec.get("serviceAccountName"), "status.podIP": ip}
    return str(fields.get(path) or "")


def container_env(lab: LabInfo, pod: Obj, container: Obj, ip: str) -> dict[str, str]:
    """The container's env as a kubelet gives it (later entries win)."""
    ns = (pod.get("metadata") or {}).get("namespace", "")
    client: Client | None = None
    out: dict[str, str] = {}
    try:
        for var in container.get("env") or []:
            name, source = str(var.get("name")), var.get("valueFrom") or {}
            if "value" in var or not source:
                out[name] = str(var.get("value") or "")
                continue
            if "fieldRef" in source:
                out[name] = _field_value(pod, str(source["fieldRef"].get("fieldPath")), ip)
                continue
            if client is None and lab.admin_conf:
                client = Client(load_config(lab.admin_conf))
            kind, ref = ("ConfigMap", source["configMapKeyRef"]) if "configMapKeyRef" in source else \
                ("Secret", source.get("secretKeyRef") or {})
            value = _ref_value(client, kind, ref, ns, name)
            if value is not None:
                out[name] = value
    finally:
        if client is not None:
            client.close()
    return out


def container_argv(container: Obj) -> list[str] | None:
    command = [*(container.get("command") or []), *(container.get("args") or [])]
    return [str(a) for a in command] if command else image_argv(str(container.get("image") or ""))


def run_init_containers(lab: LabInfo, pod: Obj, view: netns.PodView, base_env: dict[str, str],
                        ip: str, log_path: str) -> None:
    """Run each init container to completion (in the pod's view); raise EnvError/OsdnError on a failure."""
    for c in (pod.get("spec") or {}).get("initContainers") or []:
        argv = container_argv(c) or ["true"]
        env = {**base_env, **container_env(lab, pod, c, ip)}
        with open(log_path, "ab") as fh:
            fh.write(f"--- {time.strftime('%H:%M:%S')} init container {c.get('name')}: {argv[:4]}\n".encode())
            fh.flush()
            proc = netns.spawn_in_view(view, argv, stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT,
                                       env=env, cwd="/tmp")
            try:
                code = proc.wait(INIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                code = -1
        if code != 0:
            raise OsdnError(f'init container "{c.get("name")}" failed (exit {code}): {_last_line(log_path)}')


def _last_line(path: str) -> str:
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        fh.seek(max(0, fh.tell() - 2000))
        lines = fh.read().decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else ""
