"""The cluster zone (`cluster.local`): what the node's DNS server answers itself, from the agent's
informer cache. Follows the Kubernetes DNS specification (kubernetes/dns docs/specification.md,
schema 1.1.0) and CoreDNS's `kubernetes` plugin where the spec leaves a choice.

Pure (dnspython is used for record types only, no I/O). `ZoneData` holds parsed Services, Endpoints
and pod IPs, updated object by object from watch events (`update`); `answer(data, qname, qtype)`
returns a `ZoneAnswer` or None when the name is not ours (the server forwards it upstream).

Names (zone `cluster.local`, TTL 5 s, every answer authoritative):
- `<svc>.<ns>.svc`: A = the ClusterIP; headless: one A per ready endpoint; ExternalName: CNAME.
- `<host>.<svc>.<ns>.svc` (headless): A of the ready endpoint with that hostname (or dashed IP).
- `_<port>._<proto>.<svc>.<ns>.svc`: SRV `0 100 <port> <svc>.<ns>.svc.cluster.local.` per named port
  (headless: one per ready endpoint, target `<hostname or dashed IP>.<svc>.<ns>.svc...`), with the A
  records in the additional section.
- `<a-b-c-d>.<ns>.pod`: A a.b.c.d if a pod of `<ns>` has that IP (CoreDNS's `pods verified`).
- `dns-version`: TXT "1.1.0". PTR (`d.c.b.a.in-addr.arpa`): a ClusterIP -> its service, a headless
  endpoint with a hostname -> `<host>.<svc>.<ns>.svc...`, a pod IP -> `<a-b-c-d>.<ns>.pod...`; any
  other reverse name is not ours (forwarded, as CoreDNS's `fallthrough in-addr.arpa`).
- A name that exists with no record of the asked type (AAAA: the cluster is IPv4 only; the empty
  non-terminals `svc`, `<ns>.svc`, `pod`, `<ns>.pod`, the apex) is NOERROR with no answer (NODATA);
  any other name in the zone is NXDOMAIN. Both carry the zone's SOA in the authority section
  (negative caching, RFC 2308).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from dns.rdtypes.ANY.CNAME import CNAME
from dns.rdtypes.ANY.PTR import PTR
from dns.rdtypes.ANY.SOA import SOA
from dns.rdtypes.ANY.TXT import TXT
from dns.rdtypes.IN.A import A
from dns.rdtypes.IN.SRV import SRV

from osdn.model.servicenet import CLUSTER_DOMAIN

TTL = 5
SCHEMA_VERSION = "1.1.0"
IN = dns.rdataclass.IN
REVERSE = dns.name.from_text("in-addr.arpa.")
Obj = Mapping[str, Any]


@dataclass(frozen=True)
class SvcPort:
    name: str
    protocol: str  # tcp, udp, sctp
    port: int


@dataclass(frozen=True)
class Svc:
    cluster_ip: str | None  # None: headless
    external_name: str | None
    ports: tuple[SvcPort, ...]


@dataclass(frozen=True)
class Ready:
    """A ready endpoint address: IP and its DNS label (hostname, else the dashed IP)."""

    ip: str
    label: str
    hostname: bool  # the label is the endpoint's own hostname (then it has a PTR)


@dataclass(frozen=True)
class Eps:
    addresses: tuple[Ready, ...]
    ports: tuple[SvcPort, ...]


@dataclass
class ZoneData:
    """Parsed Services, Endpoints and pod IPs by name; mutated only through `update`."""

    domain: str = CLUSTER_DOMAIN
    services: dict[tuple[str, str], Svc] = field(default_factory=dict)
    endpoints: dict[tuple[str, str], Eps] = field(default_factory=dict)
    pod_ips: dict[str, dict[str, str]] = field(default_factory=dict)  # IP -> pod key -> namespace
    namespaces: dict[str, int] = field(default_factory=dict)  # namespace -> services in it
    generation: int = 0

    def update(self, kind: str, new: Obj | None, old: Obj | None) -> None:
        """Apply a watch event. `generation` moves only when an answer can change (a pod's phase or
        conditions, the churn of a big cluster, leave the UDP fast path's answers valid)."""
        if kind == "Pod" and _pod_dns_view(new) == _pod_dns_view(old):
            return
        self.generation += 1
        if kind == "Service":
            self._service(old, -1)
            self._service(new, +1)
        elif kind == "Endpoints":
            if old is not None:
                self.endpoints.pop(_key(old), None)
            if new is not None:
                self.endpoints[_key(new)] = parse_endpoints(new)
        elif kind == "Pod":
            for obj, add in ((old, False), (new, True)):
                ip = (obj or {}).get("status", {}).get("podIP") if obj else None
                if obj is None or not ip or (obj.get("spec") or {}).get("hostNetwork"):
                    continue
                ns, name = _key(obj)
                group = self.pod_ips.setdefault(str(ip), {})
                if add:
                    group[f"{ns}/{name}"] = ns
                else:
                    group.pop(f"{ns}/{name}", None)
                if not group:
                    del self.pod_ips[str(ip)]

    def _service(self, obj: Obj | None, delta: int) -> None:
        if obj is None:
            return
        key = _key(obj)
        if delta > 0:
            self.services[key] = parse_service(obj)
        else:
            self.services.pop(key, None)
        n = self.namespaces.get(key[0], 0) + delta
        if n > 0:
            self.namespaces[key[0]] = n
        else:
            self.namespaces.pop(key[0], None)

    def service_ips(self) -> dict[str, tuple[str, str]]:
        return {s.cluster_ip: k for k, s in self.services.items() if s.cluster_ip}


def _pod_dns_view(obj: Obj | None) -> tuple[str, str, str] | None:
    """What the zone reads of a pod: namespace, name and IP (None: in no record)."""
    if obj is None or (obj.get("spec") or {}).get("hostNetwork"):
        return None
    ip = (obj.get("status") or {}).get("podIP")
    return (*_key(obj), str(ip)) if ip else None


def _key(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or "default"), str(meta.get("name") or "")


def parse_service(obj: Obj) -> Svc:
    spec = obj.get("spec") or {}
    ip = str(spec.get("clusterIP") or "")
    ports = tuple(SvcPort(str(p.get("name") or ""), str(p.get("protocol") or "TCP").lower(), int(p.get("port") or 0))
                  for p in spec.get("ports") or [])
    external = str(spec.get("externalName") or "") if spec.get("type") == "ExternalName" else ""
    return Svc(ip if _is_ipv4(ip) else None, external or None, ports)


def parse_endpoints(obj: Obj) -> Eps:
    """Ready addresses (`subsets[].addresses`, never `notReadyAddresses`) and the ports of the subsets."""
    ready: dict[str, Ready] = {}
    ports: dict[tuple[str, str, int], SvcPort] = {}
    for subset in obj.get("subsets") or []:
        for a in subset.get("addresses") or []:
            ip = str(a.get("ip") or "")
            if _is_ipv4(ip):
                host = str(a.get("hostname") or "")
                ready[ip] = Ready(ip, host or ip.replace(".", "-"), bool(host))
        for p in subset.get("ports") or []:
            sp = SvcPort(str(p.get("name") or ""), str(p.get("protocol") or "TCP").lower(), int(p.get("port") or 0))
            ports[(sp.name, sp.protocol, sp.port)] = sp
    return Eps(tuple(ready[ip] for ip in sorted(ready, key=ipaddress.IPv4Address)), tuple(ports.values()))


def _is_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class ZoneAnswer:
    rcode: dns.rcode.Rcode
    answer: tuple[dns.rrset.RRset, ...] = ()
    authority: tuple[dns.rrset.RRset, ...] = ()
    additional: tuple[dns.rrset.RRset, ...] = ()

    def addresses(self) -> tuple[str, ...]:
        return tuple(r.address for rr in self.answer if rr.rdtype == dns.rdatatype.A for r in rr)


def answer(data: ZoneData, qname: dns.name.Name, qtype: int) -> ZoneAnswer | None:
    """The zone's answer to (qname, qtype), or None when the name is not the cluster's."""
    zone = _zone_name(data.domain)
    if qname.is_subdomain(zone):
        labels = [lb.decode("ascii", "replace").lower() for lb in qname.relativize(zone).labels]
        if labels == ["@"]:
            labels = []
        return _in_zone(data, zone, qname, qtype, labels)
    if qname.is_subdomain(REVERSE) and qtype in (dns.rdatatype.PTR, dns.rdatatype.ANY):
        target = _reverse(data, qname)
        if target is not None:
            return ZoneAnswer(dns.rcode.NOERROR, (_rrset(qname, PTR(IN, dns.rdatatype.PTR, target)),))
    return None


def _in_zone(data: ZoneData, zone: dns.name.Name, qname: dns.name.Name, qtype: int, labels: list[str]) -> ZoneAnswer:
    records, exists = _records(data, zone, qname, labels)
    soa = (_soa(data.domain),)
    if not exists:
        return ZoneAnswer(dns.rcode.NXDOMAIN, authority=soa)
    if not records and qtype in (dns.rdatatype.SOA, dns.rdatatype.NS) and not labels:
        return ZoneAnswer(dns.rcode.NOERROR, soa if qtype == dns.rdatatype.SOA else ())
    cname = [r for r in records if r.rdtype == dns.rdatatype.CNAME]
    picked = cname or [r for r in records if qtype in (r.rdtype, dns.rdatatype.ANY)]
    if not picked:
        return ZoneAnswer(dns.rcode.NOERROR, authority=soa)
    extra = tuple(_srv_glue(data, zone, picked)) if picked[0].rdtype == dns.rdatatype.SRV else ()
    return ZoneAnswer(dns.rcode.NOERROR, tuple(picked), additional=extra)


def _records(data: ZoneData, zone: dns.name.Name, qname: dns.name.Name, labels: list[str]
             ) -> tuple[list[dns.rrset.RRset], bool]:
    """(records at qname, whether qname exists in the zone)."""
    n = len(labels)
    if n == 0 or labels in (["svc"], ["pod"]):
        return [], True
    if labels == ["dns-version"]:
        return [_rrset(qname, TXT(IN, dns.rdatatype.TXT, [SCHEMA_VERSION.encode()]))], True
    if labels[-1] == "pod" and n in (2, 3):
        return _pod(data, qname, labels)
    if labels[-1] != "svc" or n < 2:
        return [], False
    if n == 2:
        return [], labels[0] in data.namespaces
    svc_key = (labels[-2], labels[-3])
    svc = data.services.get(svc_key)
    if svc is None:
        return [], False
    if n == 3:
        return _service_records(data, qname, svc_key, svc), True
    if n == 4:
        return _endpoint_records(data, qname, svc_key, labels[0])
    if n == 5 and labels[0].startswith("_") and labels[1].startswith("_"):
        return _srv(data, zone, qname, svc_key, svc, labels[0][1:], labels[1][1:])
    return [], False


def _pod(data: ZoneData, qname: dns.name.Name, labels: list[str]) -> tuple[list[dns.rrset.RRset], bool]:
    if len(labels) == 2:
        return [], True  # <ns>.pod: an empty non-terminal
    ip = labels[0].replace("-", ".")
    if _is_ipv4(ip) and labels[1] in data.pod_ips.get(ip, {}).values():
        return [_rrset(qname, A(IN, dns.rdatatype.A, ip))], True
    return [], False


def _service_records(data: ZoneData, qname: dns.name.Name, key: tuple[str, str], svc: Svc) -> list[dns.rrset.RRset]:
    if svc.external_name:
        target = dns.name.from_text(svc.external_name)
        return [_rrset(qname, CNAME(IN, dns.rdatatype.CNAME, target))]
    if svc.cluster_ip:
        return [_rrset(qname, A(IN, dns.rdatatype.A, svc.cluster_ip))]
    eps = data.endpoints.get(key)
    return [_rrset(qname, *(A(IN, dns.rdatatype.A, r.ip) for r in eps.addresses))] if eps and eps.addresses else []


def _endpoint_records(data: ZoneData, qname: dns.name.Name, key: tuple[str, str], label: str
                      ) -> tuple[list[dns.rrset.RRset], bool]:
    svc = data.services[key]
    eps = data.endpoints.get(key)
    if svc.cluster_ip or eps is None:
        return [], False
    ips = [r.ip for r in eps.addresses if r.label == label]
    return ([_rrset(qname, *(A(IN, dns.rdatatype.A, ip) for ip in ips))], True) if ips else ([], False)


def _srv(data: ZoneData, zone: dns.name.Name, qname: dns.name.Name, key: tuple[str, str], svc: Svc,
         port_name: str, proto: str) -> tuple[list[dns.rrset.RRset], bool]:
    base = dns.name.Name((key[1].encode(), key[0].encode(), b"svc")).concatenate(zone)
    if svc.cluster_ip:
        ports = [p for p in svc.ports if p.name == port_name and p.protocol == proto]
        rdatas = [SRV(IN, dns.rdatatype.SRV, 0, 100, p.port, base) for p in ports]
    else:
        eps = data.endpoints.get(key)
        ports = [p for p in (eps.ports if eps else ()) if p.name == port_name and p.protocol == proto]
        weight = max(1, 100 // max(1, len(eps.addresses))) if eps else 100
        rdatas = [SRV(IN, dns.rdatatype.SRV, 0, weight, p.port, dns.name.Name((r.label.encode(),)).concatenate(base))
                  for p in ports for r in (eps.addresses if eps else ())]
    return ([_rrset(qname, *rdatas)] if rdatas else []), bool(rdatas)


def _srv_glue(data: ZoneData, zone: dns.name.Name, rrsets: list[dns.rrset.RRset]) -> list[dns.rrset.RRset]:
    """The A records of SRV targets (additional section)."""
    out: dict[dns.name.Name, dns.rrset.RRset] = {}
    for rr in rrsets:
        for srv in rr:
            if srv.target in out:
                continue
            labels = [lb.decode().lower() for lb in srv.target.relativize(zone).labels]
            records, _ = _records(data, zone, srv.target, labels)
            for a in records:
                if a.rdtype == dns.rdatatype.A:
                    out[srv.target] = a
    return list(out.values())


def _reverse(data: ZoneData, qname: dns.name.Name) -> dns.name.Name | None:
    parts = [lb.decode("ascii", "replace") for lb in qname.relativize(REVERSE).labels]
    ip = ".".join(reversed(parts))
    if len(parts) != 4 or not _is_ipv4(ip):
        return None
    zone = _zone_name(data.domain)
    svc = data.service_ips().get(ip)
    if svc is not None:
        return dns.name.Name((svc[1].encode(), svc[0].encode(), b"svc")).concatenate(zone)
    for (ns, name), eps in data.endpoints.items():
        for r in eps.addresses:
            if r.ip == ip and r.hostname and (ns, name) in data.services:
                return dns.name.Name((r.label.encode(), name.encode(), ns.encode(), b"svc")).concatenate(zone)
    pods = data.pod_ips.get(ip)
    if pods:
        ns = sorted(pods.values())[0]
        return dns.name.Name((ip.replace(".", "-").encode(), ns.encode(), b"pod")).concatenate(zone)
    return None


def _rrset(name: dns.name.Name, *rdatas: Any) -> dns.rrset.RRset:
    rr = dns.rrset.RRset(name, IN, rdatas[0].rdtype)
    rr.update_ttl(TTL)
    for rd in rdatas:
        rr.add(rd)
    return rr


@lru_cache(maxsize=8)
def _zone_name(domain: str) -> dns.name.Name:
    return dns.name.from_text(domain)


@lru_cache(maxsize=8)
def _soa(domain: str) -> dns.rrset.RRset:
    """The zone's SOA (cached: rrsets are only read once built)."""
    zone = _zone_name(domain)
    mname = dns.name.Name((b"ns", b"dns")).concatenate(zone)
    rname = dns.name.Name((b"hostmaster",)).concatenate(zone)
    return _rrset(zone, SOA(IN, dns.rdatatype.SOA, mname, rname, 1, 7200, 1800, 86400, TTL))
