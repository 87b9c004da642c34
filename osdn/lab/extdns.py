"""The lab's outside-world DNS server (zone `ext.test`), whose records change at run time.

Role: the zone lives in a JSON file in the lab dir (`zone_path`): `{"name": {"addresses": [...],
"ttl": S}}`. `osdn lab dns set/del` rewrite it atomically (`set_record`, `delete_record`); the server
(`python -m osdn.lab.extdns --zone FILE --listen IP`, started by `lab up` in the lab's `dns`
namespace) re-reads it when its modification time or size changes, checked on every query, so an
answer never lags a completed `lab dns set`. Answers are authoritative: A records with the record's
TTL; a name of the zone without records: NXDOMAIN with the SOA; other types: NODATA; names outside
`ext.test`: REFUSED. `answer` is pure (the zone is passed in).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import socket
import tempfile
from typing import Any

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

ZONE = "ext.test"
ZONE_FILE = "ext-zone.json"
DEFAULT_TTL = 5
Zone = dict[str, dict[str, Any]]


def zone_path(lab_dir: str) -> str:
    return os.path.join(lab_dir, ZONE_FILE)


def fqdn(name: str) -> str:
    """`web` -> `web.ext.test`; a name already in the zone is kept; anything else is refused."""
    name = name.lower().rstrip(".")
    if not name.endswith("." + ZONE):
        name = f"{name}.{ZONE}"
    labels = name.split(".")
    if any(not lab or len(lab) > 63 or not all(c.isalnum() or c == "-" for c in lab) for lab in labels):
        raise ValueError(f"DNS name {name!r}: want letters, digits and '-' in each label, under {ZONE}")
    return name


def load_zone(path: str) -> Zone:
    try:
        with open(path) as fh:
            data = json.load(fh)
    except FileNotFoundError:
        return {}
    return data if isinstance(data, dict) else {}


def save_zone(path: str, zone: Zone) -> None:
    """Write atomically (a reader sees the old or the new zone, never half of one)."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=".ext-zone.")
    with os.fdopen(fd, "w") as fh:
        json.dump(zone, fh, indent=1, sort_keys=True)
    os.replace(tmp, path)


def set_record(path: str, name: str, addresses: list[str], ttl: int = DEFAULT_TTL) -> str:
    """Set `name`'s A records (replacing any); returns the full name."""
    full = fqdn(name)
    ips = []
    for a in (a.strip() for a in addresses if a.strip()):
        try:
            ips.append(str(ipaddress.IPv4Address(a)))
        except ValueError:
            raise ValueError(f"lab dns set {full}: {a!r} is not an IPv4 address") from None
    if not ips:
        raise ValueError(f"lab dns set {full}: give at least one IPv4 address")
    if not 0 <= ttl <= 86400:
        raise ValueError(f"lab dns set {full}: --ttl {ttl}: want 0..86400 seconds")
    zone = load_zone(path)
    zone[full] = {"addresses": ips, "ttl": ttl}
    save_zone(path, zone)
    return full


def delete_record(path: str, name: str) -> bool:
    """Remove `name`; False if it had no records."""
    full = fqdn(name)
    zone = load_zone(path)
    if zone.pop(full, None) is None:
        return False
    save_zone(path, zone)
    return True


def answer(zone: Zone, query: dns.message.Message) -> dns.message.Message:
    """Pure: the reply to `query` from `zone`."""
    reply = dns.message.make_response(query)
    reply.flags |= dns.flags.AA
    q = query.question[0]
    name = q.name.to_text().lower().rstrip(".")
    if name != ZONE and not name.endswith("." + ZONE):
        reply.flags &= ~dns.flags.AA
        reply.set_rcode(dns.rcode.REFUSED)
        return reply
    rec = zone.get(name)
    if rec is None and name != ZONE:
        reply.set_rcode(dns.rcode.NXDOMAIN)
    if rec is not None and q.rdtype == dns.rdatatype.A:
        reply.answer.append(dns.rrset.from_text_list(q.name, int(rec.get("ttl", DEFAULT_TTL)), "IN", "A",
                                                     list(rec["addresses"])))
    elif not reply.answer:
        reply.authority.append(dns.rrset.from_text(f"{ZONE}.", DEFAULT_TTL, "IN", "SOA",
                                                   f"dns.{ZONE}. admin.{ZONE}. 1 60 60 600 {DEFAULT_TTL}"))
    return reply


class _ZoneFile:
    def __init__(self, path: str) -> None:
        self.path, self.stamp = path, (0, -1)
        self.zone: Zone = {}

    def current(self) -> Zone:
        try:
            st = os.stat(self.path)
            stamp = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = (0, 0)
        if stamp != self.stamp:
            self.zone, self.stamp = load_zone(self.path), stamp
        return self.zone


def serve(path: str, listen: str, port: int = 53) -> None:
    zone = _ZoneFile(path)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((listen, port))
        while True:
            wire, peer = sock.recvfrom(4096)
            try:
                query = dns.message.from_wire(wire)
            except Exception:  # noqa: BLE001 - a garbled query gets no answer
                continue
            if len(query.question) != 1:
                continue
            sock.sendto(answer(zone.current(), query).to_wire(), peer)


def main() -> None:
    parser = argparse.ArgumentParser(description="The osdn lab's outside DNS server (zone ext.test).")
    parser.add_argument("--zone", required=True, help="zone JSON file")
    parser.add_argument("--listen", required=True)
    parser.add_argument("--port", type=int, default=53)
    args = parser.parse_args()
    serve(args.zone, args.listen, args.port)


if __name__ == "__main__":
    main()
