"""Hostile egress-router environment: EGRESS_HTTP_PROXY_DESTINATION and EGRESS_DNS_PROXY_DESTINATION
lines of tens of thousands of characters are refused (or accepted) in linear time; ports and counts
of thousands of digits are refused, not an uncaught ValueError. The address
pattern used to backtrack quadratically: 20,000 characters took 8 s, 200,000 would take 15 min."""

from __future__ import annotations

import itertools
import re
import time

import pytest

from osdn.egress.dns_config import check_numeric_ports, parse_dns_destinations, parse_dns_servers
from osdn.egress.http_acl import _IPADDR, parse_http_destinations
from osdn.model.egress_grammar import EgressConfigError, bash_int
from osdn.model.egress_redirect import parse_destinations, render_nft

SCRIPT_IPADDR = re.compile(r"[0-9A-Fa-f.:]*[.:][0-9A-Fa-f.:]+(/[0-9]+)?")  # egress-http-proxy.sh's form


def test_the_address_pattern_is_the_scripts_language() -> None:
    for n in range(7):
        for chars in itertools.product("a.:/1x", repeat=n):
            s = "".join(chars)
            assert bool(_IPADDR.fullmatch(s)) == bool(SCRIPT_IPADDR.fullmatch(s)), s


HOSTILE = ["1" + ":" * 200_000 + "x", "a." * 100_000 + "!", "a" * 200_000 + "/", "!" + "0." * 100_000 + "/x"]


@pytest.mark.parametrize("line", HOSTILE, ids=["colons", "labels", "hex-slash", "negated"])
def test_hostile_http_destinations_are_refused_in_linear_time(line: str) -> None:
    # CPU time of this thread, not the wall clock: a loaded machine does not make it fail.
    # The quadratic pattern needed minutes for each of these; a linear one needs milliseconds.
    start = time.thread_time()
    with pytest.raises(EgressConfigError, match="Bad destination"):
        parse_http_destinations(line)
    assert time.thread_time() - start < 5.0


def test_hostile_dns_destinations_are_refused() -> None:
    for line in ("80 " + "a" * 200_000, "80 " + "a-" * 100_000 + ".", "80 " + "1." * 100_000 + " x"):
        with pytest.raises(EgressConfigError):
            parse_dns_destinations(line)


def test_thousands_of_lines_parse() -> None:
    acl = parse_http_destinations("\n".join(f"10.{i // 256 % 256}.{i % 256}.0/24" for i in range(5000)))
    assert len(acl.rules) == 5000 and acl.rules[-1].kind == "dst"


def test_ports_and_counts_of_thousands_of_digits_are_refused_not_crashed() -> None:
    digits = "1" * 5000  # Python's int() refuses 4,300 digits with a ValueError nobody caught
    for text in (f"{digits} tcp 203.0.113.1", f"80 tcp 203.0.113.1 {digits}"):
        parsed = parse_destinations(text)
        assert parsed.error is not None and "Invalid port" in parsed.error
    octal_looking = parse_destinations(f"0{'9' * 5000} tcp 203.0.113.1")  # bash's check lets it through
    with pytest.raises(EgressConfigError, match="not a port nft accepts"):
        render_nft(octal_looking.destinations, "192.0.2.99")
    with pytest.raises(EgressConfigError, match="Invalid port"):
        parse_dns_destinations(f"{digits} 203.0.113.1")
    with pytest.raises(EgressConfigError, match="not a port haproxy accepts"):
        check_numeric_ports(parse_dns_destinations(f"80 203.0.113.1 0{'9' * 5000}"))
    assert parse_dns_servers(f"example.com:{digits}")["example.com"] >= 2 ** 64
    assert bash_int("0" * 5000 + "17") == 15 and bash_int("99999999999999999999") == 2 ** 64
