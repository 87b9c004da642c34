"""The lab's "physical" world on one machine: a pure plan and its build.

Role: `plan_lab(name, nodes=N)` (pure, deterministic) computes every namespace, link name and
address; `build(topology, lab_dir, progress=...)` makes it with osdn.kernel; `destroy(state)` (from
osdn.lab.state) removes it. The pod bridge, gateway and VXLAN of each node are *not* built here: the
node agent makes them with osdn.kernel.links (`ensure_node_bridge`, `ensure_vxlan`, ...).

Layout (all names start with `osdn-<lab>-`; nothing is linked to the host's root namespace):
    underlay  bridge br0, 198.18.0.0/24 (RFC 2544 benchmarking range): the nodes' physical network
      router   eth0 198.18.0.1       (default gateway of every node)
      nodeI    eth0 198.18.0.(10+I)  (I = 1..89), ip_forward on
      198.18.0.100-199: free, reserved for egress IPs / egress-router EGRESS_SOURCE addresses
    router    eth0 on underlay, eth1 on external, ip_forward on, no NAT (servers see true sources)
    external  bridge br0, 203.0.113.0/24 (TEST-NET-3): the outside world
      router   eth1 203.0.113.1
      dns      eth0 203.0.113.53: DNS for zone ext.test (`osdn.lab.extdns`: records and TTLs change
               at run time with `osdn lab dns set/del`; initially TTL 5 s)
      web      eth0 203.0.113.80 and .81: HTTP on port 80 answering "you are <ip>:<port>"
Pod namespaces made for a lab should be named `<prefix>pod-...` so `destroy` sweeps them.

Invariants: plan_lab is pure; build records every namespace and process in the state file before
making it, so a crash at any point leaves something `destroy` can clean.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from osdn.kernel import links, netns
from osdn.lab import extdns
from osdn.lab.state import LabState, ProcessRecord, destroy, process_start_time

__all__ = ["LabTopology", "NodePlan", "Port", "build", "destroy", "dns_query", "plan_lab"]

UNDERLAY_CIDR = "198.18.0.0/24"
EXTERNAL_CIDR = "203.0.113.0/24"
EGRESS_IP_POOL = ("198.18.0.100", "198.18.0.199")
DNS_ZONE = "ext.test"
MAX_NODES = 89
_LAB_NAME = re.compile(r"^[a-z][a-z0-9]{0,11}$")
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Port:
    """A host's interface `ifname` in `netns`, plugged as `switch_port` into the bridge of `switch`."""

    netns: str
    ifname: str
    switch: str
    switch_port: str
    addresses: tuple[str, ...]
    gateway: str | None = None


@dataclass(frozen=True)
class NodePlan:
    name: str
    netns: str
    ip: str  # the node IP (VXLAN local address, HostSubnet hostIP)
    ifname: str = "eth0"  # the node's "physical NIC": VXLAN underlay and macvlan parent


@dataclass(frozen=True)
class LabTopology:
    name: str
    prefix: str
    underlay_netns: str
    external_netns: str
    router_netns: str
    dns_netns: str
    web_netns: str
    nodes: tuple[NodePlan, ...]
    ports: tuple[Port, ...]
    bridge: str = "br0"
    underlay_cidr: str = UNDERLAY_CIDR
    external_cidr: str = EXTERNAL_CIDR
    router_ip: str = ""
    dns_ip: str = ""
    web_ips: tuple[str, ...] = ()
    dns_records: tuple[tuple[str, str], ...] = ()
    egress_ip_pool: tuple[str, str] = EGRESS_IP_POOL

    @property
    def switches(self) -> tuple[str, ...]:
        return self.underlay_netns, self.external_netns

    @property
    def namespaces(self) -> tuple[str, ...]:
        """All namespaces, in build order (switches first)."""
        return (*self.switches, self.router_netns, *(n.netns for n in self.nodes),
                self.dns_netns, self.web_netns)

    def node(self, name: str) -> NodePlan:
        return next(n for n in self.nodes if n.name == name)


def plan_lab(name: str, nodes: int = 2) -> LabTopology:
    """The whole lab as data: names and addresses only. Pure and deterministic."""
    if not _LAB_NAME.match(name):
        raise ValueError(f"lab name {name!r}: want 1-12 lowercase letters/digits, starting with a letter")
    if not 1 <= nodes <= MAX_NODES:
        raise ValueError(f"lab {name!r}: nodes={nodes}: want 1..{MAX_NODES}")
    p = f"osdn-{name}-"
    ul, ext = ipaddress.ip_network(UNDERLAY_CIDR), ipaddress.ip_network(EXTERNAL_CIDR)
    router_ul, router_ext = str(ul[1]), str(ext[1])
    dns_ip, web_ips = str(ext[53]), (str(ext[80]), str(ext[81]))
    node_plans = tuple(NodePlan(f"node{i}", f"{p}node{i}", str(ul[10 + i])) for i in range(1, nodes + 1))
    ports = [Port(f"{p}router", "eth0", f"{p}underlay", "ul-router", (f"{router_ul}/24",)),
             Port(f"{p}router", "eth1", f"{p}external", "ex-router", (f"{router_ext}/24",))]
    ports += [Port(n.netns, n.ifname, f"{p}underlay", f"ul-{n.name}", (f"{n.ip}/24",), router_ul)
              for n in node_plans]
    ports += [Port(f"{p}dns", "eth0", f"{p}external", "ex-dns", (f"{dns_ip}/24",), router_ext),
              Port(f"{p}web", "eth0", f"{p}external", "ex-web", tuple(f"{w}/24" for w in web_ips),
                   router_ext)]
    for port in ports:
        links.check_ifname(port.ifname, f"lab {name} port in {port.netns}")
        links.check_ifname(port.switch_port, f"lab {name} switch port")
    records = ((f"dns.{DNS_ZONE}", dns_ip), (f"web.{DNS_ZONE}", web_ips[0]), (f"web2.{DNS_ZONE}", web_ips[1]))
    return LabTopology(name, p, f"{p}underlay", f"{p}external", f"{p}router", f"{p}dns", f"{p}web",
                       node_plans, tuple(ports), router_ip=router_ul, dns_ip=dns_ip, web_ips=web_ips,
                       dns_records=records)


def build(topology: LabTopology, lab_dir: str, progress: Progress | None = None,
          dns_server: str = "auto") -> LabState:
    """Make the planned lab; on failure everything made so far is destroyed and the error re-raised.

    `dns_server` is "auto" or "python" (`osdn.lab.extdns`, records settable at run time) or "dnsmasq"
    (static records, if installed).
    """
    say = progress or (lambda _msg: None)
    state = LabState(topology.name, topology.prefix, lab_dir, topology=asdict(topology))
    state.save()
    try:
        _build_namespaces(topology, state, say)
        _build_ports(topology, say)
        _start_servers(topology, state, say, dns_server)
    except BaseException:
        destroy(state)
        raise
    say("lab ready")
    return state


def _build_namespaces(topo: LabTopology, state: LabState, say: Progress) -> None:
    for name in topo.namespaces:
        state.add_namespace(name)  # recorded before it exists
        netns.ensure_netns(name)
        links.with_netlink(name, lambda nl: links.set_link(nl, "lo", up=True))
    say(f"{len(topo.namespaces)} namespaces")
    for switch in topo.switches:
        links.with_netlink(switch, lambda nl: links.ensure_bridge(nl, topo.bridge))
    for name in (topo.router_netns, *(n.netns for n in topo.nodes)):
        netns.set_sysctls(name, {"net.ipv4.ip_forward": 1})


def _build_ports(topo: LabTopology, say: Progress) -> None:
    for port in topo.ports:
        def host_side(nl: links.NL, port: Port = port) -> None:
            links.ensure_veth(nl, port.ifname, port.switch_port, port.switch)
            links.set_link(nl, port.ifname, up=True)
            links.ensure_addresses(nl, port.ifname, port.addresses)
            if port.gateway:
                links.ensure_routes(nl, port.ifname, [links.Route("0.0.0.0/0", port.gateway)])

        def switch_side(nl: links.NL, port: Port = port) -> None:
            links.set_link(nl, port.switch_port, master=topo.bridge, up=True)

        links.with_netlink(port.netns, host_side)
        links.with_netlink(port.switch, switch_side)
    say(f"{len(topo.ports)} links, {len(topo.nodes)} nodes on {topo.underlay_cidr}")


# -- servers on the external network -------------------------------------------------------------

WEB_SERVER = """
import http.server, socketserver
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("you are %s:%d\\n" % self.client_address[:2]).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True; allow_reuse_address = True
S(("0.0.0.0", 80), H).serve_forever()
"""



def _start_servers(topo: LabTopology, state: LabState, say: Progress, dns_server: str) -> None:
    use_dnsmasq = dns_server == "dnsmasq" and shutil.which("dnsmasq")
    if use_dnsmasq:
        argv = ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
                "--user=root", "--pid-file=", "--log-facility=-", "--bind-interfaces",
                f"--listen-address={topo.dns_ip}", "--local-ttl=5", f"--local=/{DNS_ZONE}/",
                *(f"--host-record={n},{ip}" for n, ip in topo.dns_records)]
    else:  # records change at run time: `osdn lab dns set` (osdn.lab.extdns)
        zone = extdns.zone_path(state.lab_dir)
        extdns.save_zone(zone, {n: {"addresses": [ip], "ttl": extdns.DEFAULT_TTL} for n, ip in topo.dns_records})
        argv = [sys.executable, "-m", "osdn.lab.extdns", "--zone", zone, "--listen", topo.dns_ip]
    _spawn(state, topo.dns_netns, argv, "dns")
    _spawn(state, topo.web_netns, [sys.executable, "-c", WEB_SERVER], "web")
    _wait_tcp(topo.router_netns, topo.web_ips[0], 80)
    _wait_dns(topo.router_netns, topo.dns_ip, topo.dns_records[0])
    say(f"servers: dns {topo.dns_ip} ({'dnsmasq' if use_dnsmasq else 'python'}), web {topo.web_ips[0]}:80")


def _spawn(state: LabState, ns: str, argv: list[str], role: str) -> None:
    log_path = os.path.join(state.lab_dir, f"{role}.log")
    with open(log_path, "ab") as log_fh:
        proc = netns.spawn_in_netns(ns, argv, stdin=subprocess.DEVNULL, stdout=log_fh,
                                    stderr=subprocess.STDOUT, start_new_session=True)
    start = process_start_time(proc.pid)
    state.add_process(ProcessRecord(proc.pid, ns, argv, start or 0, role))


def _wait_tcp(ns: str, ip: str, port: int, timeout: float = 10.0) -> None:
    """Wait until `ip:port` accepts a TCP connection from inside `ns`."""
    def attempt() -> bool:
        try:
            with socket.create_connection((ip, port), timeout=0.5):
                return True
        except OSError:
            return False

    deadline = time.monotonic() + timeout
    while not netns.run_in_netns(ns, attempt):
        if time.monotonic() > deadline:
            raise TimeoutError(f"lab server {ip}:{port} not reachable from netns {ns!r} after {timeout}s")
        time.sleep(0.05)


def dns_query(ns: str, server: str, name: str, timeout: float = 1.0) -> str | None:
    """Ask `server` (from inside `ns`) for the A record of `name`; the first address or None."""
    def ask() -> str | None:
        query = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
        query += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00\x00\x01\x00\x01"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(timeout)
            s.sendto(query, (server, 53))
            reply = s.recv(512)
        if reply[3] & 0x0F or reply[6:8] == b"\x00\x00":
            return None
        return socket.inet_ntoa(reply[-4:])  # one A answer: its 4 data bytes end the reply

    return netns.run_in_netns(ns, ask)


def _wait_dns(ns: str, server: str, record: tuple[str, str], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if dns_query(ns, server, record[0], timeout=0.2) == record[1]:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"lab DNS server {server} does not answer {record[0]} after {timeout}s")
        time.sleep(0.05)
