"""The lab's replicated control plane: `osdn lab up --store etcd --servers N`, and its failure drills.

Role: a 3-member etcd cluster (Debian's etcd-server, as tests/etcdproc.py runs it) and N `osdn server
--store etcd://...` processes, all in the root namespace on loopback ports (control traffic only, as
DESIGN.md §6 allows; nothing links to the lab's networks). The servers share one data dir (`<lab>/server`:
the CA and serving certificate, the token file they all re-read, osdn.apiserver.auth) and each has its
own port and log (`<lab>/server-N.log`); the master controllers run on the one holding the Lease
kube-system/osdn-master. The lab's admin.conf (`<lab>/admin.conf`) and every node's kubeconfig list
all server URLs, so clients and agents fail over (osdn.client.failover). `controlplane.json` records
the members and servers with their command lines: `kill_server`/`start_server` and
`kill_etcd`/`start_etcd` stop one with SIGKILL (a crash) and run its recorded argv again (a member
keeps its data dir and rejoins its cluster).

Invariants: every process is recorded in the lab state (role `etcd:eN` / `server:N`) as it starts, so
`lab down` stops it; only the recorded pid of the named member or server is ever signalled.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from dataclasses import asdict, dataclass, field

import httpx

from osdn.client import Client
from osdn.client.config import load_config, write_kubeconfig
from osdn.errors import OsdnError
from osdn.lab.cluster import LabError, LabInfo, Progress, free_port, locked_state, osdn_argv, spawn
from osdn.lab.state import ProcessRecord, load_state, process_running, process_start_time, reap, send_signal

FILE = "controlplane.json"
ETCD_MEMBERS = 3


@dataclass
class Member:
    name: str
    client_port: int
    peer_port: int
    argv: list[str]
    log: str

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.client_port}"


@dataclass
class ApiServer:
    index: int
    port: int
    argv: list[str]
    log: str

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"


@dataclass
class ControlPlane:
    members: list[Member] = field(default_factory=list)
    servers: list[ApiServer] = field(default_factory=list)

    @property
    def store_url(self) -> str:
        return "etcd://" + ",".join(m.endpoint for m in self.members)

    @property
    def server_urls(self) -> str:
        return ",".join(s.url for s in self.servers)

    def save(self, lab_dir: str) -> None:
        with open(os.path.join(lab_dir, FILE), "w") as fh:
            json.dump(asdict(self), fh, indent=1)


def load(lab_dir: str) -> ControlPlane:
    try:
        with open(os.path.join(lab_dir, FILE)) as fh:
            raw = json.load(fh)
    except FileNotFoundError:
        raise LabError(f"the lab in {lab_dir} has no replicated control plane (lab up --store etcd)") from None
    return ControlPlane([Member(**m) for m in raw["members"]], [ApiServer(**s) for s in raw["servers"]])


# -- planning ---------------------------------------------------------------------------------------

def plan(lab: LabInfo, servers: int, server_args: list[str]) -> ControlPlane:
    """Ports, data dirs and command lines of every member and server (nothing started)."""
    binary = shutil.which("etcd")
    if binary is None:
        raise LabError("--store etcd needs the etcd binary (apt-get install etcd-server; scripts/setup.sh)")
    ports = [(free_port(), free_port()) for _ in range(ETCD_MEMBERS)]
    cluster = ",".join(f"e{i + 1}=http://127.0.0.1:{peer}" for i, (_, peer) in enumerate(ports))
    cp = ControlPlane()
    for i, (client, peer) in enumerate(ports):
        name = f"e{i + 1}"
        argv = [binary, "--name", name, "--data-dir", os.path.join(lab.dir, "etcd", name),
                "--listen-client-urls", f"http://127.0.0.1:{client}",
                "--advertise-client-urls", f"http://127.0.0.1:{client}",
                "--listen-peer-urls", f"http://127.0.0.1:{peer}",
                "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
                "--initial-cluster", cluster, "--initial-cluster-token", f"osdn-lab-{lab.name}",
                "--initial-cluster-state", "new"]
        cp.members.append(Member(name, client, peer, argv, os.path.join(lab.dir, f"etcd-{name}.log")))
    data = os.path.join(lab.dir, "server")
    for n in range(1, servers + 1):
        port = free_port()
        argv = osdn_argv("server", "--data-dir", data, "--listen", f"127.0.0.1:{port}", "--store", cp.store_url,
                         *server_args)
        cp.servers.append(ApiServer(n, port, argv, os.path.join(lab.dir, f"server-{n}.log")))
    return cp


# -- starting ---------------------------------------------------------------------------------------

def start(lab: LabInfo, servers: int, server_args: list[str], say: Progress) -> ControlPlane:
    """Start the etcd cluster, then server 1 (it bootstraps the cluster alone), then the others; write
    the lab's admin.conf with every server URL. Sets lab.server/admin_conf/server_log."""
    for old in ("etcd", FILE, "admin.conf"):            # a previous lab's members must not rejoin
        path = os.path.join(lab.dir, old)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.unlink(path)
    cp = plan(lab, servers, server_args)
    cp.save(lab.dir)
    for member in cp.members:
        spawn(lab.dir, member.argv, etcd_role(member.name), member.log)
    for member in cp.members:
        wait_etcd(member)
    say(f"etcd cluster of {len(cp.members)} members on {cp.store_url}")
    for server in cp.servers:
        spawn(lab.dir, server.argv, server_role(server.index), server.log)
        wait_server(lab, server)
    admin = load_config(os.path.join(lab.dir, "server", "admin.conf"))
    lab.admin_conf = os.path.join(lab.dir, "admin.conf")
    write_kubeconfig(lab.admin_conf, f"osdn-{lab.name}", cp.server_urls, admin.user or "system:admin",
                     admin.token, admin.ca_pem)
    lab.server, lab.server_log = cp.server_urls, cp.servers[0].log
    lab.save()
    say(f"{len(cp.servers)} osdn servers on {cp.server_urls}; logs {lab.dir}/server-N.log")
    return cp


def etcd_role(name: str) -> str:
    return f"etcd:{name}"


def server_role(index: int) -> str:
    return f"server:{index}"


def wait_etcd(member: Member, timeout: float = 30.0) -> None:
    """Until the member answers /health with a quorum behind it."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            r = httpx.get(f"http://{member.endpoint}/health", timeout=1.0)
            if r.status_code == 200 and r.json().get("health") == "true":
                return
        except (httpx.HTTPError, ValueError):
            pass
        if time.monotonic() > deadline:
            raise LabError(f"etcd member {member.name} not healthy on {member.endpoint} after {timeout:.0f}s; "
                           f"see {member.log}")
        time.sleep(0.1)


def wait_server(lab: LabInfo, server: ApiServer, timeout: float = 60.0) -> None:
    """Until the server answers /healthz over TLS (with the lab's CA)."""
    conf = os.path.join(lab.dir, "server", "admin.conf")
    deadline = time.monotonic() + timeout
    while True:
        if os.path.exists(conf):
            try:
                with Client(load_config(conf, server=server.url)) as client:
                    if client.http.get(f"{server.url}/healthz", timeout=1.0).status_code == 200:
                        return
            except (httpx.TransportError, OsdnError):
                pass
        if time.monotonic() > deadline:
            raise LabError(f"osdn server {server.index} did not come up on {server.url} after {timeout:.0f}s; "
                           f"see {server.log}")
        time.sleep(0.1)


# -- failure drills ---------------------------------------------------------------------------------

def _server(cp: ControlPlane, index: int) -> ApiServer:
    found = [s for s in cp.servers if s.index == index]
    if not found:
        raise LabError(f"no server {index}: the lab runs servers 1..{len(cp.servers)}")
    return found[0]


def _member(cp: ControlPlane, index: int) -> Member:
    if not 1 <= index <= len(cp.members):
        raise LabError(f"no etcd member {index}: the lab runs members 1..{len(cp.members)}")
    return cp.members[index - 1]


def _record(lab: LabInfo, role: str) -> ProcessRecord | None:
    state = load_state(lab.dir)
    records = [p for p in (state.processes if state else []) if p.role == role]
    return records[-1] if records else None


def _running(record: ProcessRecord | None) -> bool:
    return record is not None and process_start_time(record.pid) == record.start_time and \
        process_running(record.pid)


def _kill(lab: LabInfo, role: str) -> int:
    """SIGKILL the recorded process of `role` and wait until it is gone; its pid (0: it was not running)."""
    record = _record(lab, role)
    if record is None or not _running(record):
        return 0
    send_signal(record.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _running(record):
        if time.monotonic() > deadline:
            raise LabError(f"{role}: pid {record.pid} survives SIGKILL")
        time.sleep(0.02)
    reap(record.pid)
    return record.pid


def _respawn(lab: LabInfo, role: str, argv: list[str], log: str) -> int:
    if _running(_record(lab, role)):
        raise LabError(f"{role} is still running (kill it first)")
    with locked_state(lab.dir) as state:
        if state is not None:
            state.processes = [p for p in state.processes if p.role != role]
    return spawn(lab.dir, argv, role, log).pid


def kill_server(lab: LabInfo, index: int) -> int:
    return _kill(lab, server_role(_server(load(lab.dir), index).index))


def start_server(lab: LabInfo, index: int) -> int:
    server = _server(load(lab.dir), index)
    pid = _respawn(lab, server_role(index), server.argv, server.log)
    wait_server(lab, server)
    return pid


def kill_etcd(lab: LabInfo, index: int) -> int:
    return _kill(lab, etcd_role(_member(load(lab.dir), index).name))


def start_etcd(lab: LabInfo, index: int) -> int:
    member = _member(load(lab.dir), index)
    pid = _respawn(lab, etcd_role(member.name), member.argv, member.log)
    wait_etcd(member)
    return pid


def leader(lab: LabInfo) -> int:
    """The index of the server whose controllers hold the Lease kube-system/osdn-master (0: none)."""
    cp = load(lab.dir)
    with Client(load_config(lab.admin_conf)) as client:
        try:
            holder = str(client.get("Lease", "osdn-master", "kube-system")["spec"].get("holderIdentity") or "")
        except OsdnError:
            return 0
    return next((s.index for s in cp.servers if holder.endswith(f"_127.0.0.1:{s.port}")), 0)
