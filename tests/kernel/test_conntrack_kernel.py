"""Conntrack cleanup in a real network namespace: entries inserted with `conntrack -I` (conntrack-tools),
deleted by osdn.kernel.conntrack over ctnetlink in process, read back with `conntrack -L`."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from nsutil import PREFIX, leftovers, sh

from osdn.errors import KernelError
from osdn.kernel import conntrack

pytestmark = [pytest.mark.kernel, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]


@pytest.fixture
def ns() -> Iterator[str]:
    name = f"{PREFIX}ct"
    sh("ip", "netns", "add", name)
    try:
        yield name
    finally:
        sh("ip", "netns", "del", name, check=False)
        assert not [n for n in leftovers() if n.endswith("-ct")]


def insert(ns: str, src: str, dst: str, sport: int, proto: str = "tcp", nat_to: str | None = None) -> None:
    """One entry; `nat_to`: SNATed to that address (the reply goes to it)."""
    state = ["--state", "ESTABLISHED"] if proto == "tcp" else []
    reply = ["-r", dst, "-q", nat_to, "--reply-port-src", "80", "--reply-port-dst", str(sport)] if nat_to else []
    sh("ip", "netns", "exec", ns, "conntrack", "-I", "-s", src, "-d", dst, "-p", proto, "--sport", str(sport),
       "--dport", "80", *reply, *state, "-t", "300", "-u", "SEEN_REPLY")


def origins(ns: str) -> set[tuple[str, str]]:
    out = sh("ip", "netns", "exec", ns, "conntrack", "-L", "-f", "ipv4").stdout
    return {(f.orig[0], f.orig[1]) for f in conntrack.parse_flows(out)}


def test_the_flows_of_departed_addresses_go_and_nothing_else(ns: str) -> None:
    flows = [("10.128.0.5", "10.128.1.9"), ("10.128.1.9", "10.128.0.5"), ("10.128.0.6", "10.128.1.9"),
             ("10.128.2.7", "172.30.0.10"), ("10.128.0.55", "10.128.1.9")]  # .55 is not .5
    for i, (src, dst) in enumerate(flows):
        insert(ns, src, dst, 1000 + i, "udp" if i == 3 else "tcp")
    assert origins(ns) == set(flows)
    assert conntrack.list_destinations(ns) == {"10.128.1.9", "10.128.0.5", "172.30.0.10"}
    assert conntrack.delete_flows(ns, ["10.128.0.5", "10.128.2.7", "10.128.9.9"]) == 3
    assert origins(ns) == {("10.128.0.6", "10.128.1.9"), ("10.128.0.55", "10.128.1.9")}
    assert conntrack.delete_flows(ns, ["10.128.0.5"]) == 0  # nothing left of it: no error
    assert conntrack.delete_flows(ns, []) == 0


def test_the_flows_translated_to_a_released_egress_ip_go(ns: str) -> None:
    insert(ns, "10.128.0.5", "203.0.113.80", 2000, nat_to="192.0.2.50")  # SNATed to egress IP .50
    insert(ns, "10.128.0.6", "203.0.113.80", 2001, nat_to="192.0.2.51")
    insert(ns, "10.128.0.7", "203.0.113.80", 2002)
    assert conntrack.delete_nat_flows(ns, ["192.0.2.50"]) == 1
    assert origins(ns) == {("10.128.0.6", "203.0.113.80"), ("10.128.0.7", "203.0.113.80")}


def test_a_missing_namespace_is_a_kernel_error() -> None:
    with pytest.raises(KernelError):
        conntrack.delete_flows(f"{PREFIX}no-such-ns", ["10.128.0.5"])
