"""The lab's container runtime: a pod is a network namespace, a CNI ADD and a host process in it.

Role: `start_pod` makes the pod namespace `osdn-<lab>-pod-<hash>`, asks the node's osdn agent for its
network by running the `osdn-cni` plugin (CNI env + netconf on stdin, like a kubelet does), writes the
pod's own /etc/resolv.conf and /etc/hosts (in <lab>/pods/<ns>_<name>/) and starts the pod's command
as the pod sees the world (its netns, those two files bind-mounted in a private mount namespace, its
hostname: osdn.kernel.netns.spawn_in_view) with stdout/stderr to a log file; `spawn_container`
starts the command again (a restart); `kill_container` ends it and keeps the pod's network;
`stop_pod` undoes everything (kill, CNI DEL, delete the namespace). "Images" are host programs: `busybox` puts the applets of the host's
/bin/busybox first on PATH; anything else (`python`, ...) runs the command with the host's tools.
A container without a command serves HTTP on each containerPort (default 80), so policies can be
probed: the answer is "<namespace>/<pod> on port P: you are IP:PORT".

Invariants: the namespace and the process are recorded in the lab state (under its lock) before
or right after they exist, so `osdn lab down` removes them whatever happens to the kubelet.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from osdn.kernel import links, netns
from osdn.lab import images, multus, routerpod, topology
from osdn.lab.cluster import LabInfo, NodeInfo, locked_state, record_process

log = logging.getLogger(__name__)
Obj = dict[str, Any]
CNI_VERSION = "1.0.0"

HTTP_SERVER = """
import http.server, socketserver, sys, threading
who = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        port = self.server.server_address[1]
        body = ("%s on port %d: you are %s:%d\\n" % ((who, port) + self.client_address[:2])).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, fmt, *a): sys.stdout.write("%s %s\\n" % (self.client_address[0], fmt % a)); sys.stdout.flush()
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True; allow_reuse_address = True
servers = [S(("0.0.0.0", int(p)), H) for p in sys.argv[2:]]
print("serving HTTP on ports", " ".join(sys.argv[2:]), flush=True)
for s in servers[1:]: threading.Thread(target=s.serve_forever, daemon=True).start()
servers[0].serve_forever()
"""


class CniError(Exception):
    """The CNI plugin failed; the message carries its error output."""


@dataclass
class PodRuntime:
    """What runs for one pod: enough to stop it, also after a kubelet restart."""

    key: str  # namespace/name
    uid: str
    node: str
    netns: str
    log: str
    pid: int = 0
    ip: str = ""
    secondary: list[Obj] = field(default_factory=list)  # network-status entries of net1, ... (osdn.lab.multus)


def pod_key(pod: Obj) -> str:
    meta = pod["metadata"]
    return f"{meta.get('namespace', '')}/{meta['name']}"


def pod_netns_name(lab: LabInfo, pod: Obj) -> str:
    """`osdn-<lab>-pod-<10 hex of namespace/name/uid>`: unique per pod incarnation, swept by destroy."""
    meta = pod["metadata"]
    digest = hashlib.sha256(f"{pod_key(pod)}/{meta.get('uid', '')}".encode()).hexdigest()[:10]
    return f"{lab.prefix}pod-{digest}"


def ensure_busybox_bin(lab: LabInfo) -> str:
    """A directory of busybox applet links (from the host's /bin/busybox); empty if there is none."""
    busybox = shutil.which("busybox") or "/bin/busybox"
    os.makedirs(lab.bin_dir, exist_ok=True)
    if not os.path.exists(busybox) or os.listdir(lab.bin_dir):
        return lab.bin_dir
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=False).stdout.split()
    for applet in applets:
        with contextlib.suppress(FileExistsError):
            os.symlink(busybox, os.path.join(lab.bin_dir, applet))
    return lab.bin_dir


def pod_argv(pod: Obj) -> list[str]:
    """The command of the pod's first container, or an HTTP server on its containerPorts."""
    container = ((pod.get("spec") or {}).get("containers") or [{}])[0]
    command = [*(container.get("command") or []), *(container.get("args") or [])]
    if command:
        return [str(a) for a in command]
    program = images.image_argv(str(container.get("image") or ""))
    if program:
        return program
    ports = [str(p["containerPort"]) for p in container.get("ports") or [] if p.get("containerPort")]
    return [sys.executable, "-u", "-c", HTTP_SERVER, pod_key(pod), *(ports or ["80"])]


def pod_env(lab: LabInfo, pod: Obj, ip: str, init: bool = False) -> dict[str, str]:
    """The first container's environment (`init`: only the pod-wide part, for init containers)."""
    container = ((pod.get("spec") or {}).get("containers") or [{}])[0]
    image = str(container.get("image") or "")
    path = os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
    path = f"{lab.bin_dir}:{path}" if "busybox" in image else f"{path}:{lab.bin_dir}"
    meta = pod["metadata"]
    env = {"PATH": path, "HOME": "/", "POD_NAME": meta["name"], "POD_NAMESPACE": meta.get("namespace", ""),
           "POD_IP": ip, "PYTHONUNBUFFERED": "1"}
    if not init:
        env.update(images.container_env(lab, pod, container, ip))
    return env


# -- CNI ------------------------------------------------------------------------------------------

def cni_argv() -> list[str]:
    plugin = shutil.which("osdn-cni")
    return [plugin] if plugin else [sys.executable, "-m", "osdn.cni.plugin"]


def run_cni(command: str, node: NodeInfo, pod: Obj, ns: str, timeout: float = 60.0) -> Obj:
    """Run the osdn CNI plugin for `pod` (CNI_COMMAND=`command`); the parsed result (or {})."""
    meta = pod["metadata"]
    env = {**os.environ, "CNI_COMMAND": command, "CNI_CONTAINERID": meta.get("uid") or ns,
           "CNI_NETNS": netns.netns_path(ns), "CNI_IFNAME": "eth0", "CNI_PATH": os.path.dirname(cni_argv()[0]),
           "CNI_ARGS": f"IgnoreUnknown=1;K8S_POD_NAMESPACE={meta.get('namespace', '')};"
                       f"K8S_POD_NAME={meta['name']};K8S_POD_INFRA_CONTAINER_ID={meta.get('uid') or ns}"}
    conf = {"cniVersion": CNI_VERSION, "name": "osdn", "type": "osdn-cni", "socket": node.socket}
    try:
        done = subprocess.run(cni_argv(), input=json.dumps(conf), env=env, capture_output=True, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise CniError(f"CNI {command} for pod {pod_key(pod)} timed out after {timeout}s") from None
    if done.returncode != 0:
        raise CniError(f"CNI {command} for pod {pod_key(pod)} on {node.name} failed "
                       f"(exit {done.returncode}): {(done.stdout + done.stderr).strip()[:500]}")
    return json.loads(done.stdout) if done.stdout.strip() else {}


def result_ip(result: Obj) -> str:
    for ip in result.get("ips") or []:
        if "." in str(ip.get("address", "")):
            return str(ip["address"]).split("/")[0]
    return ""


# -- the pod's view: /etc/resolv.conf and /etc/hosts ----------------------------------------------

def render_resolv_conf(namespace: str, nameserver: str) -> str:
    """The pod's resolv.conf when the CNI result names no DNS: kube's search path and the lab's outside
    world DNS server. Pure."""
    return (f"# written by the osdn lab kubelet; the CNI result named no cluster DNS: {nameserver} is the\n"
            f"# lab's outside world DNS server (zone ext.test), what a kubelet without clusterDNS gives its pods\n"
            f"search {namespace}.svc.cluster.local svc.cluster.local cluster.local\n"
            f"nameserver {nameserver}\noptions ndots:5\n")


def resolv_conf_from_cni(dns: Obj) -> str | None:
    """The pod's resolv.conf from the CNI ADD result's `dns` section (the node's cluster DNS: the DNS
    service VIP, kube's search path, ndots:5); None when the result has no nameserver. Pure."""
    servers = [str(s) for s in dns.get("nameservers") or []]
    if not servers:
        return None
    lines = ["# written by the osdn lab kubelet from the CNI result's dns section (cluster DNS)"]
    if dns.get("search"):
        lines.append("search " + " ".join(str(s) for s in dns["search"]))
    lines += [f"nameserver {s}" for s in servers]
    if dns.get("options"):
        lines.append("options " + " ".join(str(o) for o in dns["options"]))
    return "\n".join(lines) + "\n"


def render_hosts(pod_name: str, ip: str) -> str:
    """The pod's /etc/hosts as the kubelet writes it. Pure."""
    lines = ["# Kubernetes-managed hosts file.", "127.0.0.1\tlocalhost",
             "::1\tlocalhost ip6-localhost ip6-loopback", "fe00::0\tip6-localnet", "fe00::0\tip6-mcastprefix",
             "fe00::1\tip6-allnodes", "fe00::2\tip6-allrouters"]
    if ip:
        lines.append(f"{ip}\t{pod_name}")
    return "\n".join(lines) + "\n"


def pod_etc_dir(lab: LabInfo, pod: Obj) -> str:
    meta = pod["metadata"]
    return os.path.join(lab.dir, "pods", f"{meta.get('namespace', '')}_{meta['name']}")


def write_pod_etc(lab: LabInfo, pod: Obj, ip: str, dns: Obj | None = None) -> str:
    """Write the pod's resolv.conf (from the CNI result's `dns`, else the lab's outside DNS) and
    hosts; the directory holding them."""
    etc = pod_etc_dir(lab, pod)
    os.makedirs(etc, exist_ok=True)
    nameserver = topology.plan_lab(lab.name, max(1, len(lab.nodes))).dns_ip
    meta = pod["metadata"]
    resolv = resolv_conf_from_cni(dns or {}) or render_resolv_conf(meta.get("namespace", ""), nameserver)
    for name, text in (("resolv.conf", resolv),
                       ("hosts", render_hosts(meta["name"], ip))):
        with open(os.path.join(etc, name), "w") as fh:
            fh.write(text)
    return etc


def pod_view(rt: PodRuntime, etc: str) -> netns.PodView:
    return netns.etc_view(rt.netns, etc, rt.key.split("/", 1)[1])


# -- start / stop ---------------------------------------------------------------------------------

def start_pod(lab: LabInfo, node: NodeInfo, pod: Obj, attachments: list[multus.Attachment] | None = None,
              ) -> tuple[PodRuntime, subprocess.Popen[bytes]]:
    """Namespace, CNI ADD (eth0, then each secondary network of `attachments`), process. On failure
    the namespace is removed again (CNI DEL best effort)."""
    ns = pod_netns_name(lab, pod)
    log_dir = os.path.join(lab.dir, "pods")
    os.makedirs(log_dir, exist_ok=True)
    meta = pod["metadata"]
    rt = PodRuntime(pod_key(pod), meta.get("uid", ""), node.name, ns,
                    os.path.join(log_dir, f"{meta.get('namespace', '')}_{meta['name']}.log"))
    with locked_state(lab.dir) as state:
        if state is not None:
            state.add_namespace(ns)
    netns.ensure_netns(ns)
    try:
        links.with_netlink(ns, lambda nl: links.set_link(nl, "lo", up=True))
        result = run_cni("ADD", node, pod, ns)
        rt.ip = result_ip(result)
        rt.secondary = multus.add_all(node, pod, ns, pod_etc_dir(lab, pod), attachments or [])
        routerpod.ensure_host_ports(node, pod, ns, rt.ip)
        write_pod_etc(lab, pod, rt.ip, result.get("dns"))
        images.run_init_containers(lab, pod, pod_view(rt, pod_etc_dir(lab, pod)), pod_env(lab, pod, rt.ip, init=True),
                                   rt.ip, rt.log)
        proc = spawn_container(lab, pod, rt)
    except BaseException:
        stop_pod(lab, node, pod, rt)
        raise
    return rt, proc


def spawn_container(lab: LabInfo, pod: Obj, rt: PodRuntime) -> subprocess.Popen[bytes]:
    """Start the pod's command as the pod sees the world; recorded in the lab state."""
    argv = pod_argv(pod)
    with open(rt.log, "ab") as fh:
        fh.write(f"--- {time.strftime('%H:%M:%S')} {rt.key} ({rt.ip}) in {rt.netns}: {argv[:3]}\n".encode())
        fh.flush()
        host_argv = routerpod.host_argv(lab, pod, rt.netns)  # a router runs on the host, HAProxy in the pod
        if host_argv is not None:
            proc = subprocess.Popen(host_argv, stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT,
                                    start_new_session=True, cwd="/tmp")
        else:
            proc = netns.spawn_in_view(pod_view(rt, pod_etc_dir(lab, pod)), argv, stdin=subprocess.DEVNULL,
                                       stdout=fh, stderr=subprocess.STDOUT, start_new_session=True,
                                       env=pod_env(lab, pod, rt.ip), cwd="/tmp")
    with locked_state(lab.dir) as state:  # the previous run of this container is gone
        if state is not None:
            state.processes = [p for p in state.processes if not (p.netns == rt.netns and p.pid == rt.pid)]
    record_process(lab.dir, proc, rt.netns, f"pod:{rt.key}:{rt.uid}")
    rt.pid = proc.pid
    return proc


def kill_container(rt: PodRuntime, grace: float = 1.0) -> None:
    """End every process in the pod (SIGTERM, then SIGKILL after `grace`); its network stays."""
    netns.kill_pids(netns.pids_in_netns(rt.netns), signal.SIGTERM)
    _wait_empty(rt.netns, grace)
    netns.kill_pids(netns.pids_in_netns(rt.netns), signal.SIGKILL)
    _wait_empty(rt.netns, grace)


def stop_pod(lab: LabInfo, node: NodeInfo | None, pod: Obj, rt: PodRuntime) -> None:
    """Kill the pod's processes, release its network (CNI DEL) and delete its namespace. Idempotent."""
    if netns.netns_exists(rt.netns):
        netns.kill_pids(netns.pids_in_netns(rt.netns), signal.SIGTERM)
        _wait_empty(rt.netns, 1.0)
        if node is not None:
            routerpod.delete_host_ports(node, rt.netns)
            multus.del_all(node, pod, rt.netns, pod_etc_dir(lab, pod))
            try:
                run_cni("DEL", node, pod, rt.netns)
            except CniError as exc:
                log.warning("pod %s: %s", rt.key, exc)
        netns.delete_netns(rt.netns, kill=True)
    shutil.rmtree(pod_etc_dir(lab, pod), ignore_errors=True)
    with locked_state(lab.dir) as state:
        if state is not None:
            state.processes = [p for p in state.processes if p.netns != rt.netns]
            state.namespaces = [n for n in state.namespaces if n != rt.netns]


def _wait_empty(ns: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while netns.pids_in_netns(ns) and time.monotonic() < deadline:
        time.sleep(0.02)
