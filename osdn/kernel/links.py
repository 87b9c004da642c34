"""Links, addresses, routes and bridge FDB entries with pyroute2: idempotent ensure_*/delete_*/observe_*.

Role: the netlink part of the kernel layer. Two levels:
- primitives that take an `NL` handle (`ensure_bridge`, `ensure_veth`, `set_link`, `ensure_addresses`,
  `ensure_routes`, `ensure_vxlan_link`, `sync_flood_fdb`, `change_fdb`, `delete_link`, `observe_link`);
  they must run inside `with_netlink(netns, fn)`, which calls `fn(nl)` on a thread that has entered `netns`;
- whole-object functions that take namespace names (`ensure_node_bridge`, `ensure_vxlan`,
  `ensure_pod_interface`, `delete_pod_interface`, `ensure_macvlan`, `observe_links`, and the bulk FDB
  functions `observe_fdb_entries` / `apply_fdb_batch`, which run iproute2's `bridge` in the namespace:
  pyroute2 takes ~1 ms per FDB request and 1.6 s to dump 10k entries, `bridge` 0.2 s and 0.1 s).

Invariants:
- pyroute2 0.9 opens its netlink socket per *thread*, lazily, in that thread's namespace: an
  `IPRoute` built in one namespace and used from another thread acts on the other thread's namespace.
  So an `IPRoute` here never leaves the thread `with_netlink` made for it. `IPRoute(netns=...)` would
  also create a missing namespace unless given `flags=0`; it is not used (it forks besides).
- Every ensure_* returns True iff it changed the kernel; a second call with the same input returns
  False ("apply twice, the second pass has nothing to do").
- Link names are checked against IFNAMSIZ (15) and never truncated: `LinkNameError` instead.
- Names osdn generates start with LINK_PREFIX so stale objects can be found and removed.
- Netlink errno is turned into `LinkError` subclasses whose message names the link and namespace.
"""

from __future__ import annotations

import errno
import hashlib
import ipaddress
import json
import os
import re
import subprocess
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from osdn.errors import KernelError
from osdn.kernel.netns import netns_exists, netns_path, run_in_netns, spawn_in_netns

IFNAMSIZ = 15  # usable characters of IFNAMSIZ (16 with the NUL)
LINK_PREFIX = "osdn"
ZERO_MAC = "00:00:00:00:00:00"
VXLAN_PORT = 4789
RTPROT_KERNEL, SCOPE_LINK, IFF_UP, AF_INET = 2, 253, 1, 2
NUD_PERMANENT, NTF_SELF = 0x80, 0x02
BRIDGE_TIMEOUT_S = 30.0
_MAC_RE = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")
T = TypeVar("T")
_VXLAN_KEYS = {"IFLA_VXLAN_ID", "IFLA_VXLAN_LOCAL", "IFLA_VXLAN_PORT", "IFLA_VXLAN_LEARNING",
               "IFLA_VXLAN_LINK"}


class LinkError(KernelError):
    """A netlink operation failed; the message names the link and namespace."""


class LinkNotFoundError(LinkError):
    reason = "NotFound"


class LinkConflictError(LinkError):
    """A link exists with the wanted name but is not the wanted thing (other kind, other peer)."""

    reason = "Conflict"


class LinkNameError(LinkError):
    reason = "Invalid"


# -- names and addresses (pure) -------------------------------------------------------------------

def check_ifname(name: str, where: str = "") -> str:
    """Return `name` if it is a valid link name; raise LinkNameError (never truncate)."""
    if not name or len(name) > IFNAMSIZ or "/" in name or any(c.isspace() for c in name) \
            or name in (".", ".."):
        src = f" (from {where})" if where else ""
        raise LinkNameError(f"link name {name!r}{src} is invalid: 1-{IFNAMSIZ} characters, "
                            "no '/' or whitespace")
    return name


def osdn_link_name(tag: str, key: str) -> str:
    """Deterministic osdn link name `osdn<tag><hash of key>`, exactly 15 characters."""
    head = LINK_PREFIX + tag
    return check_ifname(head + hashlib.sha256(key.encode()).hexdigest()[: IFNAMSIZ - len(head)])


def ifb_name(host_veth: str) -> str:
    """The IFB device carrying a pod's egress limit (see osdn.kernel.tc); derived from its host veth."""
    return osdn_link_name("i", host_veth)


def pod_mac(ip: str) -> str:
    """OpenShift's pod MAC: 0a:58 followed by the four bytes of the IPv4 address."""
    packed = ipaddress.IPv4Address(ip.split("/")[0]).packed
    return "0a:58:" + ":".join(f"{b:02x}" for b in packed)


@dataclass(frozen=True)
class Route:
    """A route on one device: `dst` CIDR ("0.0.0.0/0" for default), on-link when `gateway` is None."""

    dst: str
    gateway: str | None = None

    def key(self) -> tuple[str, str | None]:
        return str(ipaddress.ip_network(self.dst, strict=False)), self.gateway


def default_pod_routes(gateway: str, cluster_cidrs: Iterable[str] = ()) -> list[Route]:
    """OpenShift pod routes: default via the gateway, cluster networks on-link, 224.0.0.0/4 on-link."""
    return [Route("0.0.0.0/0", gateway), *(Route(c) for c in cluster_cidrs), Route("224.0.0.0/4")]


@dataclass(frozen=True)
class LinkState:
    """What the kernel reports about one link (the result of observe_*)."""

    name: str
    index: int
    kind: str
    mtu: int
    mac: str
    up: bool
    master: str | None = None
    addresses: tuple[str, ...] = ()
    info: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class PodInterface:
    """One pod's veth: `host_veth` on `bridge` in `node_netns`, `ifname` in `pod_netns` (name or path)."""

    node_netns: str
    pod_netns: str
    bridge: str
    host_veth: str
    ip_cidr: str
    gateway: str
    mac: str = ""  # default: pod_mac(ip)
    mtu: int = 1450
    routes: tuple[Route, ...] = ()
    ifname: str = "eth0"

    @property
    def pod_mac(self) -> str:
        return self.mac or pod_mac(self.ip_cidr)


# -- running netlink in a namespace --------------------------------------------------------------

@dataclass
class NL:
    """An IPRoute bound to `netns`; valid only on the thread `with_netlink` runs `fn` on."""

    ipr: IPRoute
    netns: str
    changed: list[str] = field(default_factory=list)
    _indexes: dict[str, int] = field(default_factory=dict)  # positive lookups; delete_link evicts

    def link(self, name: str) -> Any | None:
        """The RTM_NEWLINK message of `name`, or None. (Not link_lookup: that dumps every link.)"""
        try:
            return self.ipr.link("get", ifname=name)[0]
        except NetlinkError as exc:
            if exc.code == errno.ENODEV:
                return None
            raise

    def index(self, name: str) -> int | None:
        if name in self._indexes:
            return self._indexes[name]
        msg = self.link(name)
        if msg is None:
            return None
        self._indexes[name] = msg["index"]
        return msg["index"]

    def forget(self, name: str) -> None:
        self._indexes.pop(name, None)

    def require(self, name: str) -> int:
        idx = self.index(name)
        if idx is None:
            raise LinkNotFoundError(f"link {name!r} not found in netns {self.netns!r}")
        return idx

    def note(self, what: str) -> bool:
        self.changed.append(what)
        return True


def with_netlink(netns: str, fn: Callable[[NL], T]) -> T:
    """Run `fn(nl)` on a thread inside `netns` with a fresh IPRoute; close it afterwards."""
    def body() -> T:
        with IPRoute() as ipr:
            return fn(NL(ipr, netns))

    return run_in_netns(netns, body)


@contextmanager
def nl_errors(what: str) -> Iterator[None]:
    """Turn a NetlinkError into a LinkError subclass whose message starts with `what`."""
    try:
        yield
    except NetlinkError as exc:
        cls = {errno.ENODEV: LinkNotFoundError, errno.EEXIST: LinkConflictError,
               errno.EBUSY: LinkConflictError}.get(exc.code, LinkError)
        name = errno.errorcode.get(exc.code, str(exc.code))
        raise cls(f"{what}: {os.strerror(exc.code)} ({name})") from exc


# -- primitives (inside with_netlink) ---------------------------------------------------------------

def observe_link(nl: NL, name: str) -> LinkState | None:
    msg = nl.link(name)
    if msg is None:
        return None
    idx = msg["index"]
    linkinfo = msg.get_attr("IFLA_LINKINFO")
    kind = linkinfo.get_attr("IFLA_INFO_KIND") if linkinfo else ""
    data = linkinfo.get_attr("IFLA_INFO_DATA") if linkinfo else None
    info = tuple(sorted((k, v) for k, v in data["attrs"] if k in _VXLAN_KEYS)) \
        if data is not None and kind == "vxlan" else ()
    master = msg.get_attr("IFLA_MASTER")
    master_name = None
    if master:
        master_name = nl.ipr.link("get", index=master)[0].get_attr("IFLA_IFNAME")
    addrs = tuple(sorted(f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}"
                         for a in nl.ipr.get_addr(index=idx, family=AF_INET)))
    return LinkState(name, idx, kind or "", msg.get_attr("IFLA_MTU"), msg.get_attr("IFLA_ADDRESS"),
                     bool(msg["flags"] & IFF_UP), master_name, addrs, info)


def set_link(nl: NL, name: str, *, mtu: int | None = None, mac: str | None = None,
             master: str | None = None, up: bool | None = True) -> bool:
    """Set only the attributes that differ from what the kernel has."""
    cur = nl.link(name)
    if cur is None:
        raise LinkNotFoundError(f"link {name!r} not found in netns {nl.netns!r}")
    attrs: dict[str, Any] = {}
    if mtu is not None and cur.get_attr("IFLA_MTU") != mtu:
        attrs["mtu"] = mtu
    if mac is not None and cur.get_attr("IFLA_ADDRESS").lower() != mac.lower():
        attrs["address"] = mac
    if master is not None and cur.get_attr("IFLA_MASTER") != (master_idx := nl.require(master)):
        attrs["master"] = master_idx
    if up is not None and bool(cur["flags"] & IFF_UP) != up:
        attrs["state"] = "up" if up else "down"
    if not attrs:
        return False
    with nl_errors(f"set {sorted(attrs)} on link {name!r} in netns {nl.netns!r}"):
        nl.ipr.link("set", index=cur["index"], **attrs)
    return nl.note(f"set {name} {sorted(attrs)}")


def _ensure_kind(nl: NL, name: str, kind: str) -> bool:
    """True if `name` exists with `kind`; False if missing; LinkConflictError if another kind."""
    cur = observe_link(nl, name)
    if cur is None:
        return False
    if cur.kind != kind:
        raise LinkConflictError(f"link {name!r} in netns {nl.netns!r} is a {cur.kind or 'device'!s}, "
                                f"not a {kind}")
    return True


def ensure_bridge(nl: NL, name: str, mtu: int | None = None, mac: str | None = None) -> bool:
    """A Linux bridge, no STP, forward delay 0, up; a fixed MAC keeps it from following its ports."""
    check_ifname(name)
    changed = False
    if not _ensure_kind(nl, name, "bridge"):
        with nl_errors(f"create bridge {name!r} in netns {nl.netns!r}"):
            nl.ipr.link("add", ifname=name, kind="bridge", br_stp_state=0, br_forward_delay=0)
        changed = nl.note(f"create bridge {name}")
    return set_link(nl, name, mtu=mtu, mac=mac, up=True) or changed


def ensure_veth(nl: NL, name: str, peer: str, peer_netns: str) -> bool:
    """A veth `name` here whose peer `peer` is created straight in `peer_netns` (a name or path)."""
    check_ifname(name)
    check_ifname(peer)
    if _ensure_kind(nl, name, "veth"):
        return False
    if not netns_exists(peer_netns):
        raise LinkNotFoundError(f"veth {name!r}: peer netns {peer_netns!r} does not exist")
    with nl_errors(f"create veth {name!r} in netns {nl.netns!r} with peer {peer!r} in netns {peer_netns!r}"):
        nl.ipr.link("add", ifname=name, kind="veth",
                    peer={"ifname": peer, "net_ns_fd": netns_path(peer_netns)})
    return nl.note(f"create veth {name}")


def delete_link(nl: NL, name: str) -> bool:
    idx = nl.index(name)
    if idx is None:
        return False
    nl.forget(name)
    try:
        with nl_errors(f"delete link {name!r} in netns {nl.netns!r}"):
            nl.ipr.link("del", index=idx)
    except LinkNotFoundError:  # gone meanwhile (its peer was deleted)
        return False
    return nl.note(f"delete {name}")


def ensure_addresses(nl: NL, name: str, cidrs: Iterable[str], exclusive: bool = True) -> bool:
    """IPv4 addresses on `name`: add the missing ones; with `exclusive`, remove all others."""
    idx = nl.require(name)
    want = {str(ipaddress.ip_interface(c)) for c in cidrs}
    have = {f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}" for a in nl.ipr.get_addr(index=idx, family=AF_INET)}
    changed = False
    for cidr in sorted(have - want) if exclusive else []:
        ip, plen = cidr.split("/")
        with nl_errors(f"remove address {cidr} from {name!r} in netns {nl.netns!r}"):
            nl.ipr.addr("del", index=idx, address=ip, prefixlen=int(plen))
        changed = nl.note(f"del addr {cidr} {name}")
    for cidr in sorted(want - have):
        ip, plen = cidr.split("/")
        with nl_errors(f"add address {cidr} to {name!r} in netns {nl.netns!r}"):
            nl.ipr.addr("add", index=idx, address=ip, prefixlen=int(plen))
        changed = nl.note(f"add addr {cidr} {name}")
    return changed


def observe_routes(nl: NL, name: str) -> set[tuple[str, str | None]]:
    """Non-kernel IPv4 routes of the main table that leave through `name`, as (dst, gateway)."""
    idx = nl.require(name)
    found = set()
    for r in nl.ipr.get_routes(family=AF_INET, table=254):
        if r.get_attr("RTA_OIF") != idx or r["proto"] == RTPROT_KERNEL:
            continue
        dst = f"{r.get_attr('RTA_DST') or '0.0.0.0'}/{r['dst_len']}"
        found.add((dst, r.get_attr("RTA_GATEWAY")))
    return found


def ensure_routes(nl: NL, name: str, routes: Iterable[Route], exclusive: bool = True) -> bool:
    """Routes through `name` (on-link ones first); with `exclusive`, remove other non-kernel routes."""
    idx = nl.require(name)
    want = {r.key() for r in routes}
    have = observe_routes(nl, name)
    changed = False
    for dst, gw in sorted(have - want, key=str) if exclusive else []:
        with nl_errors(f"remove route {dst} via {gw} dev {name!r} in netns {nl.netns!r}"):
            nl.ipr.route("del", dst=dst, oif=idx, **({"gateway": gw} if gw else {"scope": SCOPE_LINK}))
        changed = nl.note(f"del route {dst}")
    for dst, gw in sorted(want - have, key=lambda k: (k[1] is not None, str(k))):
        extra = {"gateway": gw} if gw else {"scope": SCOPE_LINK}
        with nl_errors(f"add route {dst} via {gw or 'on-link'} dev {name!r} in netns {nl.netns!r}"):
            nl.ipr.route("replace", dst=dst, oif=idx, **extra)
        changed = nl.note(f"add route {dst}")
    return changed


def ensure_vxlan_link(nl: NL, name: str, vni: int, local_ip: str, port: int = VXLAN_PORT,
                      underlay_dev: str | None = None) -> bool:
    """A VXLAN device, learning off, no default remote; recreated if its fixed parameters differ."""
    check_ifname(name)
    want = {"IFLA_VXLAN_ID": vni, "IFLA_VXLAN_LOCAL": local_ip, "IFLA_VXLAN_PORT": port,
            "IFLA_VXLAN_LEARNING": 0}
    changed = False
    if _ensure_kind(nl, name, "vxlan"):
        cur = dict(observe_link(nl, name).info)  # type: ignore[union-attr]
        if all(cur.get(k) == v for k, v in want.items()):
            return False
        changed = delete_link(nl, name)
    args: dict[str, Any] = {"vxlan_id": vni, "vxlan_local": local_ip, "vxlan_port": port,
                            "vxlan_learning": 0}
    if underlay_dev:
        args["vxlan_link"] = nl.require(underlay_dev)
    with nl_errors(f"create vxlan {name!r} (vni {vni}, local {local_ip}) in netns {nl.netns!r}"):
        nl.ipr.link("add", ifname=name, kind="vxlan", **args)
    return nl.note(f"create vxlan {name}") or changed


def observe_fdb(nl: NL, name: str) -> set[tuple[str, str]]:
    """(MAC, remote IP) entries of a VXLAN device's FDB that have a remote; flood entries use ZERO_MAC."""
    nl.require(name)
    return observe_fdb_entries(nl.netns, name)


def observe_fdb_entries(netns: str, name: str) -> set[tuple[str, str]]:
    """(MAC, remote IP) of every `self` entry of VXLAN device `name` in `netns` that has a remote.
    Read with `bridge -j fdb show` (0.1 s for 10k entries; a pyroute2 dump parses them in 1.6 s)."""
    out = _bridge(netns, ["-j", "fdb", "show", "dev", check_ifname(name)], f"read the fdb of {name!r}")
    return {(str(e["mac"]).lower(), str(e["dst"])) for e in json.loads(out or "[]")
            if e.get("dst") and "self" in e.get("flags", ())}


def change_fdb(nl: NL, name: str, remove: Iterable[tuple[str, str]], add: Iterable[tuple[str, str]]) -> int:
    """Delete the `remove` entries (absent ones are fine), then add or replace the `add` ones as
    permanent unicast entries MAC -> remote IP, one netlink request each (for a few entries)."""
    idx = nl.require(name)
    done = 0
    for mac, dst in remove:
        try:
            nl.ipr.fdb("del", ifindex=idx, lladdr=mac, dst=dst)
            done += 1
        except NetlinkError as exc:
            if exc.code != errno.ENOENT:
                raise _fdb_error(f"remove fdb {mac} dst {dst} from {name!r} in netns {nl.netns!r}", exc) from exc
    for mac, dst in add:
        with nl_errors(f"add fdb {mac} dst {dst} to {name!r} in netns {nl.netns!r}"):
            nl.ipr.fdb("replace", ifindex=idx, lladdr=mac, dst=dst, state=NUD_PERMANENT, flags=NTF_SELF)
        done += 1
    return done


def apply_fdb_batch(netns: str, name: str, remove: Iterable[tuple[str, str]], add: Iterable[tuple[str, str]]) -> int:
    """`change_fdb` for many entries: one `bridge -batch` process (10k entries in ~0.2 s; pyroute2
    needs ~1 ms per request). Every MAC and IP is checked first, so no value can add a command."""
    check_ifname(name)
    lines = [f"fdb del {_fdb_mac(m)} dev {name} dst {_fdb_ip(d)} self" for m, d in remove]
    lines += [f"fdb replace {_fdb_mac(m)} dev {name} dst {_fdb_ip(d)} self permanent" for m, d in add]
    if lines:
        _bridge(netns, ["-force", "-batch", "-"], f"change {len(lines)} fdb entries of {name!r}",
                "\n".join(lines) + "\n")
    return len(lines)


def _fdb_mac(mac: str) -> str:
    if not _MAC_RE.fullmatch(mac):
        raise LinkError(f"fdb entry: {mac!r} is not a MAC address (aa:bb:cc:dd:ee:ff)")
    return mac


def _fdb_ip(ip: str) -> str:
    try:
        return str(ipaddress.IPv4Address(ip))
    except ValueError as exc:
        raise LinkError(f"fdb entry: remote {ip!r} is not an IPv4 address") from exc


def _fdb_error(what: str, exc: NetlinkError) -> LinkError:
    return LinkError(f"{what}: {os.strerror(exc.code)} ({errno.errorcode.get(exc.code, exc.code)})")


def _bridge(netns: str, args: list[str], what: str, stdin: str | None = None) -> str:
    """Run iproute2's `bridge` in `netns`; LinkError naming `what` and the namespace on failure."""
    proc = spawn_in_netns(netns, ["bridge", *args], stdin=subprocess.PIPE if stdin is not None else None,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(stdin, timeout=BRIDGE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise LinkError(f"{what} in netns {netns!r}: bridge timed out after {BRIDGE_TIMEOUT_S:g}s") from None
    if proc.returncode != 0:
        raise LinkError(f"{what} in netns {netns!r}: bridge exit {proc.returncode}: {err.strip()[:500]}")
    return out


def sync_fdb(nl: NL, name: str, want: set[tuple[str, str]], macs: Callable[[str], bool]) -> bool:
    """Make the FDB entries of `name` whose MAC satisfies `macs` exactly `want` (MAC, remote IP)."""
    idx = nl.require(name)
    have = {e for e in observe_fdb(nl, name) if macs(e[0])}
    changed = False
    for mac, dst in sorted(have - want):
        with nl_errors(f"remove fdb {mac} dst {dst} from {name!r} in netns {nl.netns!r}"):
            nl.ipr.fdb("del", ifindex=idx, lladdr=mac, dst=dst)
        changed = nl.note(f"del fdb {mac} {dst}")
    for mac, dst in sorted(want - have):
        with nl_errors(f"add fdb {mac} dst {dst} to {name!r} in netns {nl.netns!r}"):
            nl.ipr.fdb("append", ifindex=idx, lladdr=mac, dst=dst)
        changed = nl.note(f"add fdb {mac} {dst}")
    return changed


def sync_flood_fdb(nl: NL, name: str, remote_ips: Iterable[str]) -> bool:
    """Head-end replication: flood entries (00:00:00:00:00:00 dst IP) to exactly `remote_ips`."""
    return sync_fdb(nl, name, {(ZERO_MAC, ip) for ip in remote_ips}, lambda mac: mac == ZERO_MAC)


# -- whole objects (by namespace name) ---------------------------------------------------------------

def ensure_node_bridge(netns: str, bridge: str, gateway_cidr: str, mtu: int = 1450,
                       cluster_cidrs: Sequence[str] = ()) -> bool:
    """The node's pod bridge, holding the pod gateway address (its MAC is pod_mac(gateway)), with
    the cluster networks on-link through it, so the node reaches pods on other nodes too (source:
    the gateway address, as openshift-sdn's tun0)."""
    def do(nl: NL) -> bool:
        changed = ensure_bridge(nl, bridge, mtu=mtu, mac=pod_mac(gateway_cidr))
        changed = ensure_no_igmp_snooping(nl, bridge) or changed
        changed = ensure_addresses(nl, bridge, [gateway_cidr]) or changed
        return ensure_routes(nl, bridge, [Route(c) for c in cluster_cidrs]) or changed

    return with_netlink(netns, do)


def ensure_no_igmp_snooping(nl: NL, bridge: str) -> bool:
    """Multicast snooping off: the bridge floods group traffic to every port and the nft rules pick
    the ports (every pod of the sender's netid, as openshift-sdn), whatever IGMP any pod sends."""
    cur = nl.link(bridge)
    if cur is None:
        return False
    info = cur.get_attr("IFLA_LINKINFO")
    data = info.get_attr("IFLA_INFO_DATA") if info is not None else None
    if data is None or data.get_attr("IFLA_BR_MCAST_SNOOPING") == 0:
        return False
    with nl_errors(f"turn multicast snooping off on bridge {bridge!r} in netns {nl.netns!r}"):
        nl.ipr.link("set", index=cur["index"], kind="bridge", br_mcast_snooping=0)
    return nl.note(f"set {bridge} mcast_snooping 0")


def ensure_vxlan(netns: str, name: str, vni: int, local_ip: str, port: int = VXLAN_PORT,
                 remote_ips: Sequence[str] = (), *, bridge: str | None = None, mtu: int | None = None,
                 underlay_dev: str | None = None) -> bool:
    """VXLAN `name` (on `bridge` if given) flooding to exactly `remote_ips`; stale flood entries go."""
    def do(nl: NL) -> bool:
        changed = ensure_vxlan_link(nl, name, vni, local_ip, port, underlay_dev)
        changed = set_link(nl, name, mtu=mtu, master=bridge, up=True) or changed
        return sync_flood_fdb(nl, name, remote_ips) or changed

    return with_netlink(netns, do)


class _PeerMissing(Exception):
    pass


def ensure_pod_interface(spec: PodInterface) -> bool:
    """The pod's veth pair, bridge port, MAC, MTU, address and routes; repairs a half-made pair."""
    for name, where in ((spec.host_veth, "host_veth"), (spec.ifname, "ifname"), (spec.bridge, "bridge")):
        check_ifname(name, where)
    changed = with_netlink(spec.node_netns, lambda nl: _pod_host_side(nl, spec))
    try:
        return with_netlink(spec.pod_netns, lambda nl: _pod_side(nl, spec)) or changed
    except _PeerMissing:  # host veth left from an earlier pod sandbox: start over once
        with_netlink(spec.node_netns, lambda nl: delete_link(nl, spec.host_veth))
        with_netlink(spec.node_netns, lambda nl: _pod_host_side(nl, spec))
        with_netlink(spec.pod_netns, lambda nl: _pod_side(nl, spec))
        return True


def _pod_host_side(nl: NL, spec: PodInterface) -> bool:
    changed = ensure_veth(nl, spec.host_veth, spec.ifname, spec.pod_netns)
    changed = set_link(nl, spec.host_veth, mtu=spec.mtu, master=spec.bridge, up=True) or changed
    return ensure_hairpin(nl, spec.host_veth) or changed


def ensure_hairpin(nl: NL, port: str) -> bool:
    """Hairpin mode on a bridge port (as the CNI bridge plugin's `hairpinMode`): a pod that reaches
    itself through a service ClusterIP gets its DNATed packet back out of the port it came in on
    (br_netfilter bridges a DNAT whose new destination is on the same bridge)."""
    idx = nl.require(port)
    info = nl.ipr.brport("show", index=idx)[0].get_attr("IFLA_PROTINFO")
    if info is not None and info.get_attr("IFLA_BRPORT_MODE") == 1:
        return False
    with nl_errors(f"set hairpin mode on bridge port {port!r} in netns {nl.netns!r}"):
        nl.ipr.brport("set", index=idx, mode=1)
    return nl.note(f"set {port} hairpin on")


def _pod_side(nl: NL, spec: PodInterface) -> bool:
    if nl.index(spec.ifname) is None:
        raise _PeerMissing()
    changed = set_link(nl, "lo", up=True)
    changed = set_link(nl, spec.ifname, mtu=spec.mtu, mac=spec.pod_mac, up=True) or changed
    changed = ensure_addresses(nl, spec.ifname, [spec.ip_cidr]) or changed
    routes = spec.routes or tuple(default_pod_routes(spec.gateway))
    return ensure_routes(nl, spec.ifname, routes) or changed


def delete_pod_interface(node_netns: str, host_veth: str) -> bool:
    """Delete the pod's veth pair (the host side takes the pod side along) and its IFB, if any."""
    return delete_links(node_netns, [host_veth, ifb_name(host_veth)])


def ensure_macvlan(netns: str, parent: str, name: str, target_netns: str, mode: str = "private") -> bool:
    """A macvlan child of `parent` (in `netns`), created straight into `target_netns` as `name`."""
    check_ifname(name)
    if with_netlink(target_netns, lambda nl: _ensure_kind(nl, name, "macvlan")):
        return False

    def create(nl: NL) -> bool:
        with nl_errors(f"create macvlan {name!r} on {parent!r} in netns {netns!r} into {target_netns!r}"):
            nl.ipr.link("add", ifname=name, kind="macvlan", link=nl.require(parent), macvlan_mode=mode,
                        net_ns_fd=netns_path(target_netns))
        return nl.note(f"create macvlan {name}")

    return with_netlink(netns, create)


def observe_links(netns: str, prefix: str = "") -> list[LinkState]:
    """All links in `netns` whose name starts with `prefix`."""
    def do(nl: NL) -> list[LinkState]:
        names = [m.get_attr("IFLA_IFNAME") for m in nl.ipr.get_links()]
        states = (observe_link(nl, n) for n in sorted(names) if n.startswith(prefix))
        return [s for s in states if s is not None]

    return with_netlink(netns, do)


def delete_links(netns: str, names: Iterable[str]) -> bool:
    wanted = list(names)
    return with_netlink(netns, lambda nl: any([delete_link(nl, n) for n in wanted]))
