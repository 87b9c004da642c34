"""`osdn lab up/down/status`: a whole osdn cluster on one machine, as background processes.

Role: on top of the topology (osdn.lab.topology) start `osdn server` (root namespace, loopback, free
port), one `osdn node` agent per node (root namespace, programming `osdn-<lab>-nodeN` by name, CNI
on a unix socket in the lab dir) and the lab kubelet; wait until every node is registered, Ready
and has a HostSubnet. `lab.json` in the lab dir tells the other commands where everything is.

Invariants: every process is recorded in the lab state (state.json, under a file lock) right after
it starts, so `down` kills it even after a crash of `up`; a failed `up` tears down what it made;
`down` is idempotent and also sweeps namespaces that only carry the lab prefix. No link or route
ever touches the root namespace: control traffic is loopback HTTPS (the server's own CA, from its admin.conf) and unix sockets.
`up` merges a context `osdn-<lab>` into the user's kubeconfig and makes it current; `down` removes it.
With `store="etcd"` osdn.lab.controlplane starts a 3-member etcd cluster and `servers` API servers
instead of the one SQLite server; agents and the lab's admin.conf then know every server URL.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from osdn.client import Client, load_config
from osdn.client.config import merge_context, remove_context, user_kubeconfig_path, write_kubeconfig
from osdn.errors import OsdnError
from osdn.kernel import netns
from osdn.lab import topology
from osdn.lab.state import DestroyReport, LabState, ProcessRecord, destroy, load_state, process_start_time

MODES = ("multitenant", "networkpolicy", "subnet")
LAB_FILE = "lab.json"
Progress = Callable[[str], None]


class LabError(OsdnError):
    """The lab could not be brought up (or found); the message names the step and the log files."""


@dataclass
class NodeInfo:
    name: str
    netns: str
    ip: str
    socket: str
    config: str
    log: str


@dataclass
class LabInfo:
    """Where a running lab's parts are: written to <dir>/lab.json by `up`, read by every other command."""

    name: str
    dir: str
    mode: str
    prefix: str
    server: str = ""
    admin_conf: str = ""
    server_log: str = ""
    kubelet_log: str = ""
    nodes: list[NodeInfo] = field(default_factory=list)

    @property
    def bin_dir(self) -> str:
        return os.path.join(self.dir, "bin")

    def node(self, name: str) -> NodeInfo | None:
        return next((n for n in self.nodes if n.name == name), None)

    def save(self) -> None:
        tmp = os.path.join(self.dir, LAB_FILE + ".tmp")
        with open(tmp, "w") as fh:
            json.dump(asdict(self), fh, indent=1)
        os.replace(tmp, os.path.join(self.dir, LAB_FILE))


def load_lab(lab_dir: str) -> LabInfo | None:
    try:
        with open(os.path.join(lab_dir, LAB_FILE)) as fh:
            raw = json.load(fh)
    except FileNotFoundError:
        return None
    nodes = [NodeInfo(**n) for n in raw.pop("nodes", [])]
    return LabInfo(**raw, nodes=nodes)


def default_lab_dir(name: str) -> str:
    """/var/lib/osdn/lab/<name>, or /tmp/osdn-lab-<name> where /var/lib/osdn is not writable."""
    base = "/var/lib/osdn/lab"
    with contextlib.suppress(OSError):
        os.makedirs(base, exist_ok=True)
        if os.access(base, os.W_OK):
            return os.path.join(base, name)
    return f"/tmp/osdn-lab-{name}"


# -- the state file, shared with the kubelet ------------------------------------------------------

@contextlib.contextmanager
def locked_state(lab_dir: str) -> Iterator[LabState | None]:
    """Load the lab state under an exclusive lock; what the body changes is saved on exit."""
    with open(os.path.join(lab_dir, "state.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = load_state(lab_dir)
        yield state
        if state is not None:
            state.save()


def record_process(lab_dir: str, proc: subprocess.Popen[Any], ns: str, role: str) -> None:
    with locked_state(lab_dir) as state:
        if state is None:
            raise LabError(f"lab state {lab_dir}/state.json is gone (lab torn down?)")
        argv = [str(a) for a in proc.args] if isinstance(proc.args, list) else [str(proc.args)]
        state.processes.append(ProcessRecord(proc.pid, ns, argv, process_start_time(proc.pid) or 0, role))


def spawn(lab_dir: str, argv: list[str], role: str, log_path: str) -> subprocess.Popen[bytes]:
    """Start a control-plane process in the root namespace (own session), logging to `log_path`."""
    with open(log_path, "ab") as log_fh:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log_fh, stderr=subprocess.STDOUT,
                                start_new_session=True)
    record_process(lab_dir, proc, "", role)
    return proc


def osdn_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "osdn", *args]


# -- up -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class UpOptions:
    name: str = "lab"
    nodes: int = 3
    mode: str = "networkpolicy"
    lab_dir: str = ""
    timeout: float = 90.0
    host_subnet_length: int = 9  # bits for pods per node (9: a /23 per node)
    router: bool = True  # the router pod default/router on node1 (osdn.lab.routerpod)
    store: str = "sqlite"  # or "etcd": a 3-member etcd cluster and `servers` API servers (osdn.lab.controlplane)
    servers: int = 1


def up(opts: UpOptions, say: Progress) -> LabInfo:
    """Build the lab and start every process; on any failure tear all of it down and re-raise."""
    if opts.mode not in MODES:
        raise LabError(f"--mode {opts.mode!r}: want one of {', '.join(MODES)}")
    if opts.servers > 1 and opts.store != "etcd":
        raise LabError(f"--servers {opts.servers}: several API servers need --store etcd")
    lab_dir = opts.lab_dir or default_lab_dir(opts.name)
    if load_state(lab_dir) is not None:
        raise LabError(f"lab {opts.name!r} already exists in {lab_dir} (run `osdn lab down --name "
                       f"{opts.name}` first)")
    topo = topology.plan_lab(opts.name, opts.nodes)
    _fresh_dir(lab_dir)
    try:
        topology.build(topo, lab_dir, progress=say)
        return _start_cluster(topo, opts, lab_dir, say)
    except BaseException as exc:
        how = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        say(f"{how}: tearing the lab down (logs stay in the lab dir)")
        with _no_interrupts():
            down(opts.name, lab_dir)
        raise


@contextlib.contextmanager
def _no_interrupts() -> Iterator[None]:
    """A second Ctrl-C must not stop the cleanup half-way (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _fresh_dir(lab_dir: str) -> None:
    """A new lab starts from an empty cluster: drop the previous run's store, pods and node dirs."""
    os.makedirs(lab_dir, exist_ok=True)
    if not os.path.exists(os.path.join(lab_dir, "server", "admin.conf")):
        return  # not (yet) a lab dir: touch nothing
    for entry in os.listdir(lab_dir):
        path = os.path.join(lab_dir, entry)
        if entry in ("server", "pods", "bin") or (entry.startswith("node") and os.path.isdir(path)):
            shutil.rmtree(path)
        elif entry.endswith(".log"):
            os.unlink(path)


def _start_cluster(topo: topology.LabTopology, opts: UpOptions, lab_dir: str, say: Progress) -> LabInfo:
    lab = LabInfo(opts.name, lab_dir, opts.mode, topo.prefix)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    if opts.store == "etcd":
        from osdn.lab import controlplane  # imports this module
        controlplane.start(lab, opts.servers, server_args(lab, opts.host_subnet_length), say)
    else:
        _start_server(lab, procs, opts.host_subnet_length, say)
    _start_agents(lab, topo, procs, say)
    lab.kubelet_log = os.path.join(lab_dir, "kubelet.log")
    procs["kubelet"] = spawn(lab_dir, osdn_argv("lab", "kubelet", "--dir", lab_dir), "kubelet",
                             lab.kubelet_log)
    lab.save()
    _wait_nodes_ready(lab, procs, opts.timeout, say)
    if opts.router:
        from osdn.lab import routerpod  # imports this module
        say(routerpod.deploy_router(lab))
    _merge_user_context(lab, say)
    return lab


def _merge_user_context(lab: LabInfo, say: Progress) -> None:
    """As kind does: context `osdn-<lab>` in $KUBECONFIG's first file (or ~/.kube/config), made current."""
    admin = load_config(lab.admin_conf)
    path = user_kubeconfig_path()
    first = admin.server.split(",")[0]   # kubectl reads one URL; <lab>/admin.conf lists them all
    merge_context(path, f"osdn-{lab.name}", first, admin.token, admin.ca_pem)
    say(f"kubeconfig {path}: context osdn-{lab.name} is current (kubectl and osdn use it)")


def _start_server(lab: LabInfo, procs: dict[str, subprocess.Popen[bytes]], host_subnet_length: int,
                  say: Progress) -> None:
    data = os.path.join(lab.dir, "server")
    port = free_port()
    lab.server, lab.admin_conf = f"https://127.0.0.1:{port}", os.path.join(data, "admin.conf")
    lab.server_log = os.path.join(lab.dir, "server.log")
    argv = osdn_argv("server", "--data-dir", data, "--listen", f"127.0.0.1:{port}",
                     *server_args(lab, host_subnet_length))
    procs["server"] = proc = spawn(lab.dir, argv, "server", lab.server_log)
    deadline = time.monotonic() + 30
    while not _healthy(lab):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise LabError(f"osdn server did not come up ({_exit_text(proc)}); see {lab.server_log}")
        time.sleep(0.05)
    lab.save()
    say(f"osdn server on {lab.server} ({lab.mode}); log {lab.server_log}")


def server_args(lab: LabInfo, host_subnet_length: int) -> list[str]:
    """`osdn server` flags every lab server gets (mode, subnet size, the lab's master.yaml)."""
    return ["--network-plugin", lab.mode, "--host-subnet-length", str(host_subnet_length),
            "--config", write_master_config(lab)]


def write_master_config(lab: LabInfo) -> str:
    """master.yaml of the lab: egress nodes are probed on `<node IP>:9` from the router's namespace,
    across the underlay (a node whose link is down stops answering; see `osdn lab stop-node`)."""
    path = os.path.join(lab.dir, "master.yaml")
    with open(path, "w") as fh:
        json.dump({"egressHealth": {"mode": "tcp", "netns": f"{lab.prefix}router", "refusedIsOnline": True},
                   # EgressNetworkPolicy dnsNames: the outside world's DNS, asked from the router
                   "egressDNS": {"nameservers": [topology.plan_lab(lab.name, max(1, len(lab.nodes))).dns_ip],
                                 "netns": f"{lab.prefix}router", "timeout": 2}}, fh)
    return path


def _healthy(lab: LabInfo) -> bool:
    """admin.conf (with the CA) exists and the server answers /healthz over TLS."""
    if not os.path.exists(lab.admin_conf):
        return False
    try:
        with Client(load_config(lab.admin_conf)) as client:
            return client.http.get("/healthz", timeout=0.5).status_code == 200
    except (httpx.TransportError, OsdnError):
        return False


def _start_agents(lab: LabInfo, topo: topology.LabTopology, procs: dict[str, subprocess.Popen[bytes]],
                  say: Progress) -> None:
    with Client(load_config(lab.admin_conf)) as client:
        for plan in topo.nodes:
            node_dir = os.path.join(lab.dir, plan.name)
            os.makedirs(node_dir, exist_ok=True)
            info = NodeInfo(plan.name, plan.netns, plan.ip, os.path.join(node_dir, "cni.sock"),
                            os.path.join(node_dir, "node.conf"), os.path.join(lab.dir, f"{plan.name}.log"))
            _write_node_config(client, lab, info)
            argv = osdn_argv("node", "--name", info.name, "--netns", info.netns, "--node-ip", info.ip,
                             "--config", info.config, "--cni-socket", info.socket, "--dns-upstream", topo.dns_ip)
            procs[info.name] = spawn(lab.dir, argv, f"node:{info.name}", info.log)
            lab.nodes.append(info)
    lab.save()
    say(f"{len(lab.nodes)} node agents started (logs {lab.dir}/nodeN.log)")


def _write_node_config(client: Client, lab: LabInfo, node: NodeInfo) -> None:
    user = f"system:node:{node.name}"
    token = client.create_token(user, ["system:nodes"])
    write_kubeconfig(node.config, f"osdn-{lab.name}", lab.server, user, token, client.config.ca_pem)


def _wait_nodes_ready(lab: LabInfo, procs: dict[str, subprocess.Popen[bytes]], timeout: float,
                      say: Progress) -> None:
    deadline = time.monotonic() + timeout
    waiting = [n.name for n in lab.nodes]
    with Client(load_config(lab.admin_conf)) as client:
        while waiting:
            _check_alive(lab, procs)
            waiting = [n for n in waiting if not node_ready(client, n)]
            if waiting and time.monotonic() > deadline:
                logs = ", ".join(n.log for n in lab.nodes if n.name in waiting)
                raise LabError(f"nodes {', '.join(waiting)} not Ready with a HostSubnet after {timeout:.0f}s; "
                               f"see {logs} and {lab.server_log}")
            time.sleep(0.2)
    say(f"{len(lab.nodes)} nodes Ready with HostSubnets")


def _check_alive(lab: LabInfo, procs: dict[str, subprocess.Popen[bytes]]) -> None:
    logs = {"server": lab.server_log, "kubelet": lab.kubelet_log, **{n.name: n.log for n in lab.nodes}}
    for role, proc in procs.items():
        if proc.poll() is not None:
            raise LabError(f"{role} exited ({_exit_text(proc)}); see {logs[role]}:\n{_tail(logs[role])}")


def node_ready(client: Client, name: str) -> bool:
    """Registered, Ready (if it reports conditions) and holding a HostSubnet."""
    try:
        node = client.get("Node", name)
        client.get("HostSubnet", name)
    except OsdnError:
        return False
    conditions = (node.get("status") or {}).get("conditions") or []
    ready = [c for c in conditions if c.get("type") == "Ready"]
    return not ready or ready[0].get("status") == "True"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _exit_text(proc: subprocess.Popen[bytes]) -> str:
    rc = proc.poll()
    return "still running" if rc is None else f"exit status {rc}"


def _tail(path: str, lines: int = 15) -> str:
    try:
        with open(path, errors="replace") as fh:
            return "".join(fh.readlines()[-lines:])
    except OSError:
        return ""


# -- down and status ------------------------------------------------------------------------------

def down(name: str, lab_dir: str = "") -> DestroyReport:
    """Kill the lab's processes and delete its namespaces; works with or without a state file."""
    lab_dir = lab_dir or default_lab_dir(name)
    topology.plan_lab(name, 1)  # validates the name: the prefix below must be the lab's own
    state = load_state(lab_dir) or LabState(name, f"osdn-{name}-", lab_dir)
    report = destroy(state)
    remove_context(user_kubeconfig_path(), f"osdn-{name}")
    for leftover in (LAB_FILE, "state.lock"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(lab_dir, leftover))
    return report


@dataclass
class ProcessStatus:
    role: str
    pid: int
    alive: bool
    netns: str


def process_status(lab_dir: str) -> list[ProcessStatus]:
    state = load_state(lab_dir)
    if state is None:
        return []
    return [ProcessStatus(p.role, p.pid, process_start_time(p.pid) == p.start_time, p.netns or "(root)")
            for p in state.processes]


def leftovers(name: str) -> list[str]:
    """Namespaces that still carry the lab's prefix."""
    return netns.list_netns(f"osdn-{name}-")
