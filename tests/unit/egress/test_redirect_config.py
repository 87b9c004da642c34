"""egress-router.sh's grammar: the upstream test vectors (TestEgressRouter, TestEgressRouterBad) and more."""

from __future__ import annotations

import pytest

from osdn.model.egress_grammar import EgressConfigError, read_lines
from osdn.model.egress_redirect import parse_destinations, parse_router_env, render_nft, render_rules

SEED_COMMENTED = """
# My egress-router rules

# Port 80 forwards to 10.4.5.6
80 tcp 10.4.5.6

# Port 8080 forwards to port 80 on 10.7.8.9
8080 tcp 10.7.8.9 80

# Skip this rule for now
# 8443 tcp 10.7.8.9 443

# Add new rules here

# Fallback; don't add anything after this
10.1.2.3

# No, seriously, don't add anything here
"""
PRE = 'add rule ip nat prerouting iifname "eth0" '
FB = PRE + "dnat to 10.1.2.3\n"
R80 = PRE + "tcp dport 80 dnat to 10.4.5.6\n"
R8080 = PRE + "tcp dport 8080 dnat to 10.7.8.9:80\n"
SNAT = 'add rule ip nat postrouting oifname "macvlan0" snat to 1.2.3.4\n'

GOOD = [  # (source, destination, output)
    ("1.2.3.4", "10.1.2.3", FB + SNAT),
    ("1.2.3.4/24", "10.1.2.3", FB + SNAT),
    ("1.2.3.4", "10.1.2.3\n", FB + SNAT),
    ("1.2.3.4", "80 tcp 10.4.5.6", R80 + SNAT),
    ("1.2.3.4", "8080 tcp 10.7.8.9 80", R8080 + SNAT),
    ("1.2.3.4", "80 tcp 10.4.5.6\n8080 tcp 10.7.8.9 80", R80 + R8080 + SNAT),
    ("1.2.3.4", "80 tcp 10.4.5.6\n8080 tcp 10.7.8.9 80\n10.1.2.3", R80 + R8080 + FB + SNAT),
    ("1.2.3.4", SEED_COMMENTED, R80 + R8080 + FB + SNAT),
    # more: spacing, tabs around, udp, the fallback alone after comments, a continuation line
    ("1.2.3.4", "  80   tcp 10.4.5.6\t\n", R80 + SNAT),
    ("1.2.3.4", "53 udp 10.4.5.6", PRE + "udp dport 53 dnat to 10.4.5.6\n" + SNAT),
    ("1.2.3.4", "80 tcp \\\n10.4.5.6", R80 + SNAT),
    ("1.2.3.4", "# only\n10.1.2.3\n\n# after\n", FB + SNAT),
    ("1.2.3.4", "010 tcp 10.4.5.6", PRE + "tcp dport 010 dnat to 10.4.5.6\n" + SNAT),
]

BAD = [  # (source, gateway, destination, last line)
    ("not an IP address", "1.1.1.1", "10.1.2.3", "EGRESS_SOURCE unspecified or invalid"),
    ("not\nan\nIP\naddress", "1.1.1.1", "10.1.2.3", "EGRESS_SOURCE unspecified or invalid"),
    ("1.2.3.4", "not an IP address", "10.1.2.3", "EGRESS_GATEWAY unspecified or invalid"),
    ("1.2.3.4", "1.1.1.1", "", "EGRESS_DESTINATION unspecified"),
    ("1.2.3.4", "1.1.1.1", "not an IP address", "EGRESS_DESTINATION value 'not an IP address' is invalid"),
    ("1.2.3.4", "1.1.1.1", "10.1.2.3\n80 tcp 10.4.5.6", "EGRESS_DESTINATION fallback IP must be the last line"),
    ("1.2.3.4", "1.1.1.1", "10.1.2.3\n10.4.5.6", "EGRESS_DESTINATION fallback IP must be the last line"),
    ("1.2.3.4", "1.1.1.1", "80 tcp 10.4.5.6\n10.1.2.3\n8080 tcp 10.7.8.9 80",
     "EGRESS_DESTINATION fallback IP must be the last line"),
    ("1.2.3.4", "1.1.1.1", "80 tcp 10.4.5.6\ninvalid\n8080 tcp 10.7.8.9 80", "EGRESS_DESTINATION value 'invalid' is invalid"),
    ("1.2.3.4", "1.1.1.1", "80 sctp 10.4.5.6", "EGRESS_DESTINATION value '80 sctp 10.4.5.6' is invalid"),
    ("1.2.3.4", "1.1.1.1", "800000 tcp 10.4.5.6", "Invalid port: 800000, must be in the range 1 to 65535"),
    ("1.2.3.4", "1.1.1.1", "80 tcp 10.4.5.6\n8080 tcp 10.7.8.9 80\n80 tcp 10.7.8.9 900",
     "EGRESS_DESTINATION localport 80 is already used, must be unique for each destination"),
    # more
    ("1.2.3.4/", "1.1.1.1", "10.1.2.3", "EGRESS_SOURCE unspecified or invalid"),
    ("", "1.1.1.1", "10.1.2.3", "EGRESS_SOURCE unspecified or invalid"),
    ("1.2.3.4", "1.1.1.1/24", "10.1.2.3", "EGRESS_GATEWAY unspecified or invalid"),
    ("1.2.3.4", "1.1.1.1", "80 TCP 10.4.5.6", "EGRESS_DESTINATION value '80 TCP 10.4.5.6' is invalid"),
    ("1.2.3.4", "1.1.1.1", "80\ttcp 10.4.5.6", "EGRESS_DESTINATION value '80\ttcp 10.4.5.6' is invalid"),
    ("1.2.3.4", "1.1.1.1", "0 tcp 10.4.5.6", "Invalid port: 0, must be in the range 1 to 65535"),
    ("1.2.3.4", "1.1.1.1", "80 tcp 10.4.5.6 70000", "Invalid port: 70000, must be in the range 1 to 65535"),
    ("1.2.3.4", "1.1.1.1", "80 tcp 10.4.5.6 00", "Invalid port: 00, must be in the range 1 to 65535"),
    ("1.2.3.4", "1.1.1.1", "10.1.2.3/24", "EGRESS_DESTINATION value '10.1.2.3/24' is invalid"),
    ("1.2.3.4", "1.1.1.1", "80 tcp a\\b", "EGRESS_DESTINATION value '80 tcp ab' is invalid"),
]


def _unit_test(source: str, gateway: str, dest: str) -> str:
    """What `EGRESS_ROUTER_MODE=unit-test egress-router.sh` prints (combined output)."""
    try:
        env = parse_router_env({"EGRESS_SOURCE": source, "EGRESS_GATEWAY": gateway, "EGRESS_ROUTER_MODE": "unit-test"})
    except EgressConfigError as exc:
        return exc.message + "\n"
    parsed = parse_destinations(dest)
    return render_rules(parsed, env.source_ip) + (f"{parsed.error}\n" if parsed.error else "")


@pytest.mark.parametrize(("source", "dest", "output"), GOOD, ids=[f"good{i + 1}" for i in range(len(GOOD))])
def test_rules(source: str, dest: str, output: str) -> None:
    assert _unit_test(source, "1.1.1.1", dest) == output


@pytest.mark.parametrize(("source", "gateway", "dest", "message"), BAD, ids=[f"bad{i + 1}" for i in range(len(BAD))])
def test_errors_last_line(source: str, gateway: str, dest: str, message: str) -> None:
    out = _unit_test(source, gateway, dest)
    assert out.split("\n")[-2] == message


def test_rules_printed_before_the_error_stay() -> None:
    out = _unit_test("1.2.3.4", "1.1.1.1", "80 tcp 10.4.5.6\n80 tcp 10.7.8.9")
    assert out == R80 + PRE + "tcp dport 80 dnat to 10.7.8.9\n" \
        + "EGRESS_DESTINATION localport 80 is already used, must be unique for each destination\n"


def test_mode_checked_after_source_and_gateway() -> None:
    with pytest.raises(EgressConfigError, match="^Unrecognized EGRESS_ROUTER_MODE 'proxy'$"):
        parse_router_env({"EGRESS_SOURCE": "1.2.3.4", "EGRESS_GATEWAY": "1.1.1.1", "EGRESS_ROUTER_MODE": "proxy"})
    with pytest.raises(EgressConfigError, match="EGRESS_SOURCE"):
        parse_router_env({"EGRESS_GATEWAY": "1.1.1.1", "EGRESS_ROUTER_MODE": "proxy"})
    env = parse_router_env({"EGRESS_SOURCE": "192.168.12.99/24", "EGRESS_GATEWAY": "192.168.12.1"})
    assert (env.mode, env.source_ifaddr, env.source_ip) == ("legacy", "192.168.12.99/24", "192.168.12.99")
    assert parse_router_env({"EGRESS_SOURCE": "1.2.3.4", "EGRESS_GATEWAY": "1.1.1.1"}).source_ifaddr == "1.2.3.4/32"


def test_read_lines_is_bash_read() -> None:
    assert read_lines("  a b \t\n\\ x\\ \nc\\\nd\ne\\") == ["a b", " x ", "cd"]
    assert read_lines("") == [""]


def test_nft_rules() -> None:
    parsed = parse_destinations("80 tcp 10.4.5.6\n8080 tcp 10.7.8.9 80\n53 udp 10.4.5.6\n010 tcp 10.4.5.6\n10.1.2.3")
    text = render_nft(parsed.destinations, "1.2.3.4")
    assert text.startswith("table ip egress_router\ndelete table ip egress_router\n")
    body = [line.strip() for line in text.splitlines()]
    assert body.index('iifname "eth0" tcp dport 80 dnat to 10.4.5.6') < body.index('iifname "eth0" dnat to 10.1.2.3')
    for rule in ('iifname "eth0" tcp dport 8080 dnat to 10.7.8.9:80', 'iifname "eth0" udp dport 53 dnat to 10.4.5.6',
                 'iifname "eth0" tcp dport 8 dnat to 10.4.5.6', 'oifname "macvlan0" snat to 1.2.3.4'):
        assert rule in body


def test_nft_reads_ports_as_nft_does_and_refuses_what_it_would() -> None:
    parsed = parse_destinations("080 tcp 10.4.5.6 090")
    assert parsed.error is None  # bash's arithmetic error lets it pass validation
    assert 'iifname "eth0" tcp dport 80 dnat to 10.4.5.6:90' in render_nft(parsed.destinations, "1.2.3.4")
    parsed = parse_destinations("0800000 tcp 10.4.5.6")
    assert parsed.error is None
    with pytest.raises(EgressConfigError, match="Invalid port: 0800000"):
        render_nft(parsed.destinations, "1.2.3.4")
