"""The lab kubelet's Multus: secondary networks of a pod from `k8s.v1.cni.cncf.io/networks`.

`resolve` reads the annotation and each referenced NetworkAttachmentDefinition (decisions in
osdn.model.multinet: namespace isolation, interface names, only shipped plugin types) before
anything runs. After the cluster network (eth0), `add_all` runs each attachment's plugin(s) as a
runtime does: CNI_COMMAND=ADD, CNI_NETNS (the pod's), CNI_IFNAME (net1, ...), CNI_CONTAINERID,
CNI_ARGS with the pod's name, the config on stdin, in the node's network namespace (the plugin sees
the node's links, e.g. the underlay a macvlan hangs off). The plugin program is osdn's own, found
by type (SHIPPED), never a path from the config. What ran is saved in the pod's directory
(`networks.json`) so `del_all` runs DEL with the same configs after the NAD is gone (as Multus keeps
its cache); a failed ADD undoes the attachments made before it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from typing import Any

from osdn.client import Client
from osdn.errors import NotFoundError
from osdn.kernel import netns
from osdn.lab.cluster import NodeInfo
from osdn.model.multinet import (
    NETWORKS_ANNOTATION,
    NetworkSelectionError,
    Selection,
    parse_networks,
    plugin_confs,
    status_entry,
)

log = logging.getLogger(__name__)
Obj = dict[str, Any]
SHIPPED = {"egress-router": ("egress-router", "osdn.egress.cni")}  # type -> (console script, module)
SAVED = "networks.json"
TIMEOUT = 60.0


Attachment = tuple[Selection, list[Obj]]  # a requested network and the plugin configs to run for it


class AttachError(Exception):
    """A secondary network could not be attached; the message names the network and why."""


def resolve(client: Client, pod: Obj) -> list[Attachment]:
    """Each requested attachment with the plugin configs to run; [] without the annotation."""
    meta = pod["metadata"]
    text = (meta.get("annotations") or {}).get(NETWORKS_ANNOTATION, "").strip()
    if not text:
        return []
    try:
        out = []
        for sel in parse_networks(text, meta.get("namespace", "")):
            try:
                nad = client.get("NetworkAttachmentDefinition", sel.name, sel.namespace)
            except NotFoundError:
                raise AttachError(f"network-attachment-definition {sel.ref} (pod annotation {NETWORKS_ANNOTATION}) "
                                  "not found") from None
            out.append((sel, plugin_confs(sel, str((nad.get("spec") or {}).get("config") or ""))))
    except NetworkSelectionError as exc:
        raise AttachError(exc.message) from None
    return out


def plugin_argv(kind: str) -> list[str]:
    script, module = SHIPPED[kind]
    found = shutil.which(script) or os.path.join(os.path.dirname(sys.executable), script)
    return [found] if os.access(found, os.X_OK) else [sys.executable, "-m", module]


def run_plugin(command: str, node: NodeInfo, pod: Obj, ns: str, ifname: str, conf: Obj) -> Obj:
    """One plugin invocation in the node's namespace; its parsed result ({} for DEL)."""
    meta = pod["metadata"]
    env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "CNI_COMMAND": command,
           "CNI_CONTAINERID": meta.get("uid") or ns, "CNI_NETNS": netns.netns_path(ns), "CNI_IFNAME": ifname,
           "CNI_PATH": os.path.dirname(sys.executable),
           "CNI_ARGS": f"IgnoreUnknown=1;K8S_POD_NAMESPACE={meta.get('namespace', '')};K8S_POD_NAME={meta['name']}"}
    proc = netns.spawn_in_netns(node.netns, plugin_argv(str(conf["type"])), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        out, err = proc.communicate(json.dumps(conf), timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise AttachError(f"CNI {command} of {conf['type']} ({ifname}) timed out after {TIMEOUT:.0f}s") from None
    if proc.returncode != 0:
        raise AttachError(f"CNI {command} of {conf['type']} ({ifname}) failed (exit {proc.returncode}): "
                          f"{(out + err).strip()[:500]}")
    return json.loads(out) if out.strip() else {}


def add_all(node: NodeInfo, pod: Obj, ns: str, etc_dir: str,
            attachments: list[Attachment]) -> list[Obj]:
    """ADD every attachment in order; the network-status entries. Saved first, so a DEL always finds them."""
    os.makedirs(etc_dir, exist_ok=True)
    with open(os.path.join(etc_dir, SAVED), "w") as fh:
        json.dump([{"ifname": s.ifname, "confs": confs} for s, confs in attachments], fh)
    entries: list[Obj] = []
    try:
        for sel, confs in attachments:
            result: Obj = {}
            for conf in confs:
                result = run_plugin("ADD", node, pod, ns, sel.ifname, {**conf, "prevResult": result} if result
                                    else conf)
            entries.append(status_entry(sel, result))
            log.info("pod %s/%s: %s attached as %s", pod["metadata"].get("namespace"), pod["metadata"]["name"],
                     sel.ref, sel.ifname)
    except AttachError:
        del_all(node, pod, ns, etc_dir)
        raise
    return entries


def del_all(node: NodeInfo, pod: Obj, ns: str, etc_dir: str) -> None:
    """DEL every saved attachment, last first (errors logged: the namespace goes anyway)."""
    try:
        with open(os.path.join(etc_dir, SAVED)) as fh:
            saved = json.load(fh)
    except (OSError, ValueError):
        return
    for item in reversed(saved):
        for conf in reversed(item["confs"]):
            try:
                run_plugin("DEL", node, pod, ns, item["ifname"], conf)
            except (AttachError, OSError) as exc:
                log.warning("pod %s: %s", pod["metadata"]["name"], exc)
    os.remove(os.path.join(etc_dir, SAVED))
