"""The lab's router pod: the HAProxy router image, host ports, and the pod `osdn lab up` creates.

Role: `host_argv` says how the kubelet runs the `openshift/origin-haproxy-router` image (any
registry, tag, or the `ose-` name): as `osdn router` on the host, talking to the API as
user `osdn:router` bound to the cluster role `system:router` (read routes,
services, endpoints, ingresses; write routes/status; kubeconfig `<lab>/routers/router.conf`, 0600)
— the API is on the host's loopback, which a pod namespace cannot reach — with
HAProxy started *inside the pod's network namespace* (`--netns`). HAProxy is the pod's only
process in that namespace; when the kubelet kills the pod's processes the HAProxy master ends and
the router exits with it, as a container would.
Host ports: `render_host_ports` (pure) makes a pod's `hostPort`s DNAT rules for its node
(`table ip osdn-hp-<pod netns hash>`: the node's address and hostPort to the pod's IP and
containerPort, from the underlay and from the node itself), as the CNI portmap plugin does; the
kubelet installs them after CNI ADD and removes them before CNI DEL.
`router_pod` is the pod `lab up` creates: `router` in project `default` on node1 with hostPorts 80
and 443, so the outside world reaches routes at node1's underlay address.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any

from osdn.kernel.nft import Nft
from osdn.lab.cluster import LabInfo, NodeInfo

Obj = dict[str, Any]
ROUTER_IMAGE = "openshift/origin-haproxy-router"
_ROUTER_NAMES = ("origin-haproxy-router", "ose-haproxy-router")
RELOAD_INTERVAL_MS = 200


def _image_name(image: str) -> str:
    return image.rsplit("/", 1)[-1].split("@", 1)[0].split(":", 1)[0]


def is_router_pod(pod: Obj) -> bool:
    container = ((pod.get("spec") or {}).get("containers") or [{}])[0]
    return not container.get("command") and _image_name(str(container.get("image") or "")) in _ROUTER_NAMES


def router_run_dir(lab: LabInfo, pod: Obj) -> str:
    meta = pod["metadata"]
    return os.path.join(lab.dir, "routers", f"{meta.get('namespace', '')}_{meta['name']}")


def host_argv(lab: LabInfo, pod: Obj, pod_netns: str) -> list[str] | None:
    """`osdn router` for a router-image pod (HAProxy in `pod_netns`), None for any other pod."""
    if not is_router_pod(pod):
        return None
    container = ((pod.get("spec") or {}).get("containers") or [{}])[0]
    env = {e.get("name"): str(e.get("value")) for e in container.get("env") or [] if "value" in e}
    interval = env.get("RELOAD_INTERVAL_MS", str(RELOAD_INTERVAL_MS))
    conf = router_kubeconfig(lab) if os.path.exists(router_kubeconfig(lab)) else lab.admin_conf
    argv = [sys.executable, "-m", "osdn", "--config", conf, "router", "--netns", pod_netns,
            "--run-dir", router_run_dir(lab, pod), "--reload-interval", interval,
            "--name", env.get("ROUTER_SERVICE_NAME", "default")]
    if env.get("ROUTER_ALLOW_WILDCARD_ROUTES") == "true":
        argv.append("--allow-wildcard-routes")
    return argv


# -- host ports -----------------------------------------------------------------------------------

def host_ports_table(pod_netns: str) -> str:
    return "osdn-hp-" + pod_netns.rsplit("-", 1)[-1]


def host_ports(pod: Obj) -> list[tuple[str, int, int]]:
    """(protocol, hostPort, containerPort) of every container port with a hostPort. Pure."""
    return [(str(p.get("protocol") or "TCP").lower(), int(p["hostPort"]), int(p.get("containerPort") or p["hostPort"]))
            for c in (pod.get("spec") or {}).get("containers") or [] for p in c.get("ports") or [] if p.get("hostPort")]


def render_host_ports(table: str, node_ip: str, pod_ip: str, ports: list[tuple[str, int, int]]) -> str:
    """The nft script (re)making `table` with DNAT for `ports`. Pure."""
    rules = "".join(f"    ip daddr {node_ip} {proto} dport {host} dnat to {pod_ip}:{cport}\n"
                    for proto, host, cport in ports)
    chains = "".join(f"  chain {hook} {{\n    type nat hook {hook} priority -100; policy accept;\n{rules}  }}\n"
                     for hook in ("prerouting", "output"))
    return f"add table ip {table}\ndelete table ip {table}\ntable ip {table} {{\n{chains}}}\n"


def ensure_host_ports(node: NodeInfo, pod: Obj, pod_netns: str, pod_ip: str) -> None:
    ports = host_ports(pod)
    if ports:
        with Nft(node.netns) as nft:
            nft.run(render_host_ports(host_ports_table(pod_netns), node.ip, pod_ip, ports))


def delete_host_ports(node: NodeInfo, pod_netns: str) -> None:
    with Nft(node.netns) as nft:
        if nft.table_exists("ip", host_ports_table(pod_netns)):
            nft.delete_table("ip", host_ports_table(pod_netns))


# -- the lab's router -----------------------------------------------------------------------------

def router_pod(node: str = "node1") -> Obj:
    """The router pod of `osdn lab up`: project default, node1, hostPorts 80 and 443."""
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "router", "namespace": "default", "labels": {"router": "router"}},
            "spec": {"nodeName": node, "restartPolicy": "Always",
                     "containers": [{"name": "router", "image": ROUTER_IMAGE,
                                     "ports": [{"containerPort": 80, "hostPort": 80, "protocol": "TCP"},
                                               {"containerPort": 443, "hostPort": 443, "protocol": "TCP"}]}]}}


ROUTER_USER = "osdn:router"  # the API mints no `system:` tokens but for nodes (and no service accounts yet)
ROUTER_GROUPS = ["osdn:routers"]
# What the router reads and writes, as the upstream `system:router` cluster role (and no more).
ROUTER_ROLE: Obj = {
    "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "system:router"},
    "rules": [{"apiGroups": ["route.openshift.io"], "resources": ["routes"], "verbs": ["get", "list", "watch"]},
              {"apiGroups": ["route.openshift.io"], "resources": ["routes/status"], "verbs": ["update", "patch"]},
              {"apiGroups": [""], "resources": ["services", "endpoints"], "verbs": ["get", "list", "watch"]},
              {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses"], "verbs": ["get", "list", "watch"]}]}
ROUTER_BINDING: Obj = {
    "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "router"},
    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:router"},
    "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": ROUTER_USER}]}


def router_kubeconfig(lab: LabInfo) -> str:
    return os.path.join(lab.dir, "routers", "router.conf")


def _router_credentials(client: Any, lab: LabInfo) -> None:
    """The router's own identity: the system:router role only, in a kubeconfig only root can read."""
    from osdn.client.config import write_kubeconfig
    from osdn.errors import AlreadyExistsError

    for obj in (ROUTER_ROLE, ROUTER_BINDING):
        with contextlib.suppress(AlreadyExistsError):
            client.create(obj)
    os.makedirs(os.path.dirname(router_kubeconfig(lab)), exist_ok=True)
    token = client.create_token(ROUTER_USER, ROUTER_GROUPS)
    write_kubeconfig(router_kubeconfig(lab), f"osdn-{lab.name}", lab.server, ROUTER_USER, token,
                     client.config.ca_pem)


def deploy_router(lab: LabInfo) -> str:
    """Create the router's credentials and pod (if missing); returns what was done, for `lab up`."""
    from osdn.client import Client, load_config
    from osdn.errors import AlreadyExistsError

    with Client(load_config(lab.admin_conf)) as client:
        _router_credentials(client, lab)
        try:
            client.create(router_pod(lab.nodes[0].name), "default")
        except AlreadyExistsError:
            return "router pod default/router already exists"
    return (f"router pod default/router ({ROUTER_IMAGE}) on {lab.nodes[0].name}: routes are served at "
            f"{lab.nodes[0].ip}:80 and :443")
