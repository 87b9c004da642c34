"""The lab's outside DNS zone (`osdn lab dns set/del`) and outside addresses (`osdn lab outside add`)."""

from __future__ import annotations

from pathlib import Path

import dns.flags
import dns.message
import dns.rcode
import pytest

from osdn.lab import extdns
from osdn.lab.outside import check_outside_ip


def ask(zone: extdns.Zone, name: str, rdtype: str = "A") -> dns.message.Message:
    return extdns.answer(zone, dns.message.make_query(name, rdtype))


def test_set_del_and_answers_with_the_records_ttl(tmp_path: Path) -> None:
    path = str(tmp_path / "zone.json")
    assert extdns.set_record(path, "api", ["203.0.113.90", " 203.0.113.91"], ttl=1) == "api.ext.test"
    zone = extdns.load_zone(path)
    reply = ask(zone, "API.ext.test.")
    assert reply.flags & dns.flags.AA and reply.rcode() == dns.rcode.NOERROR
    assert reply.answer[0].ttl == 1 and sorted(r.address for r in reply.answer[0]) == ["203.0.113.90", "203.0.113.91"]
    assert ask(zone, "api.ext.test", "AAAA").answer == [] and ask(zone, "api.ext.test", "AAAA").rcode() == 0
    assert extdns.delete_record(path, "api.ext.test") and not extdns.delete_record(path, "api")
    reply = ask(extdns.load_zone(path), "api.ext.test")
    assert reply.rcode() == dns.rcode.NXDOMAIN and reply.authority, "NXDOMAIN with the zone's SOA"
    assert ask(zone, "www.example.com").rcode() == dns.rcode.REFUSED


@pytest.mark.parametrize(("name", "ips", "ttl", "error"), [
    ("bad_name", ["203.0.113.9"], 5, "want letters"), ("api", [], 5, "at least one"),
    ("api", ["1.2.3"], 5, "'1.2.3' is not an IPv4 address"), ("api", ["203.0.113.9"], -1, "--ttl -1")])
def test_set_refuses_bad_input(tmp_path: Path, name: str, ips: list[str], ttl: int, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        extdns.set_record(str(tmp_path / "z.json"), name, ips, ttl)


def test_outside_addresses_must_be_free_hosts_of_the_outside_network() -> None:
    assert check_outside_ip(" 203.0.113.90") == "203.0.113.90"
    for ip, error in (("203.0.113.1", "the router"), ("203.0.113.53", "the DNS server"),
                      ("198.18.0.5", "must be a host address"), ("203.0.113.255", "must be a host address")):
        with pytest.raises(ValueError, match=error):
            check_outside_ip(ip)
