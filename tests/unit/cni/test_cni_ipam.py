"""Node IPAM: never the network, gateway or broadcast address; idempotent per container; persistent."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from osdn.node.ipam import Ipam, IpamExhaustedError, Lease


def lease(cid: str) -> Lease:
    return Lease(cid, "", "ns", f"pod-{cid}")


def test_first_address_skips_network_and_gateway(tmp_path: Path) -> None:
    ipam = Ipam(tmp_path / "ipam.json", "10.128.2.0/23")
    assert ipam.allocate(lease("a")).ip == "10.128.2.2"
    assert ipam.allocate(lease("b")).ip == "10.128.2.3"


def test_allocate_is_idempotent_per_container(tmp_path: Path) -> None:
    ipam = Ipam(tmp_path / "ipam.json", "10.128.0.0/23")
    assert ipam.allocate(lease("a")) == ipam.allocate(lease("a"))
    assert len(ipam.all()) == 1


def test_small_subnet_is_exhausted_without_reserved_addresses(tmp_path: Path) -> None:
    ipam = Ipam(tmp_path / "ipam.json", "10.0.0.0/29")  # .0 network, .1 gateway, .7 broadcast
    got = {ipam.allocate(lease(str(i))).ip for i in range(5)}
    assert got == {f"10.0.0.{i}" for i in range(2, 7)}
    with pytest.raises(IpamExhaustedError, match="10.0.0.0/29"):
        ipam.allocate(lease("x"))


def test_release_is_idempotent_and_reuse_is_round_robin(tmp_path: Path) -> None:
    ipam = Ipam(tmp_path / "ipam.json", "10.0.0.0/29")
    a = ipam.allocate(lease("a")).ip
    ipam.allocate(lease("b"))
    assert ipam.release("a") is not None and ipam.release("a") is None
    assert ipam.allocate(lease("c")).ip != a  # not handed out again at once


def test_leases_survive_a_restart_and_a_new_subnet_voids_them(tmp_path: Path) -> None:
    path = tmp_path / "ipam.json"
    ipam = Ipam(path, "10.128.0.0/23")
    a = ipam.allocate(Lease("a", "", "ns", "p", "/run/netns/x", "eth0", "osdnpxyz", True))
    again = Ipam(path, "10.128.0.0/23")
    assert again.get("a") == a and again.allocate(lease("b")).ip != a.ip
    assert Ipam(path, "10.128.4.0/23").all() == []
    assert json.loads(path.read_text())["subnet"] == "10.128.0.0/23"  # unchanged until the next write


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 9)), max_size=60))
def test_property_no_duplicates_no_reserved(tmp_path_factory: pytest.TempPathFactory,
                                            ops: list[tuple[bool, int]]) -> None:
    ipam = Ipam(tmp_path_factory.mktemp("ipam") / "ipam.json", "10.1.0.0/28")
    reserved = {"10.1.0.0", "10.1.0.1", "10.1.0.15"}
    for add, n in ops:
        if add:
            ipam.allocate(lease(str(n)))
        else:
            ipam.release(str(n))
        ips = [x.ip for x in ipam.all()]
        assert len(ips) == len(set(ips)) and not reserved & set(ips)
        assert all(ipaddress.IPv4Address(ip) in ipaddress.IPv4Network("10.1.0.0/28") for ip in ips)
