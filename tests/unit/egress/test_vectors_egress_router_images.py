"""openshift/images' own test vectors for the three egress images, run through `osdn egress-router`.

Every case of egress/router/egress_router_test.go, egress/http-proxy/egress_http_proxy_test.go and
egress/dns-proxy/egress_dns_proxy_test.go (openshift/images @13118bff): same environment, the same
unit-test output byte for byte (the router's is nftables `add rule ip nat ...` lines since NE-2716;
the DNS proxy's defaults have no `chroot` since images#137), the same last line on a refusal. Each
good case is also checked for what the router then does: which port goes where, what is allowed.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from osdn.egress.dns_config import parse_dns_destinations
from osdn.egress.http_acl import decide, parse_http_destinations
from osdn.egress.main import run_dns_proxy, run_http_proxy, run_router
from osdn.model.egress_redirect import render_nft, router_config

PRE = 'add rule ip nat prerouting iifname "eth0" '
SNAT = 'add rule ip nat postrouting oifname "macvlan0" snat to 1.2.3.4\n'
COMMENTED = """
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
R80, R8080, FB = PRE + "tcp dport 80 dnat to 10.4.5.6\n", PRE + "tcp dport 8080 dnat to 10.7.8.9:80\n", \
    PRE + "dnat to 10.1.2.3\n"
ROUTER_GOOD = [  # TestEgressRouter: (source, gateway, destination, output)
    ("1.2.3.4", "1.1.1.1", "10.1.2.3", FB + SNAT),
    ("1.2.3.4/24", "1.1.1.1", "10.1.2.3", FB + SNAT),
    ("1.2.3.4", "1.1.1.1", "10.1.2.3", FB + SNAT),
    ("1.2.3.4", "1.1.1.1", "10.1.2.3\n", FB + SNAT),
    ("1.2.3.4", "1.1.1.1", "80 tcp 10.4.5.6", R80 + SNAT),
    ("1.2.3.4", "1.1.1.1", "8080 tcp 10.7.8.9 80", R8080 + SNAT),
    ("1.2.3.4", "1.1.1.1", "80 tcp 10.4.5.6\n8080 tcp 10.7.8.9 80", R80 + R8080 + SNAT),
    ("1.2.3.4", "1.1.1.1", "80 tcp 10.4.5.6\n8080 tcp 10.7.8.9 80\n10.1.2.3", R80 + R8080 + FB + SNAT),
    ("1.2.3.4", "1.1.1.1", COMMENTED, R80 + R8080 + FB + SNAT),
]
ROUTER_BAD = [  # TestEgressRouterBad: (source, gateway, destination, last line)
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
]


def _run(runner: Callable[..., int], env: dict[str, str], **kw: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = runner(env, out, err, **kw)
    return code, out.getvalue() + err.getvalue()


def _router_env(source: str, gateway: str, dest: str) -> dict[str, str]:
    return {"EGRESS_ROUTER_MODE": "unit-test", "EGRESS_SOURCE": source, "EGRESS_GATEWAY": gateway,
            "EGRESS_DESTINATION": dest}


@pytest.mark.parametrize(("source", "gateway", "dest", "output"), ROUTER_GOOD,
                         ids=[f"router{i + 1}" for i in range(len(ROUTER_GOOD))])
def test_router_unit_test_output(source: str, gateway: str, dest: str, output: str) -> None:
    assert _run(run_router, _router_env(source, gateway, dest)) == (0, output)


@pytest.mark.parametrize(("source", "gateway", "dest", "message"), ROUTER_BAD,
                         ids=[f"router-bad{i + 1}" for i in range(len(ROUTER_BAD))])
def test_router_refusals(source: str, gateway: str, dest: str, message: str) -> None:
    code, out = _run(run_router, _router_env(source, gateway, dest))
    assert code == 1 and out.split("\n")[-2] == message
    env = _router_env(source, gateway, dest) | {"EGRESS_ROUTER_MODE": "init"}
    cfg = router_config(env)  # what init/legacy would install: nothing, with the same message
    assert cfg.error == message and cfg.rules == ()


def test_router_semantics_of_the_commented_vector() -> None:
    cfg = router_config({"EGRESS_SOURCE": "1.2.3.4/24", "EGRESS_GATEWAY": "1.1.1.1", "EGRESS_DESTINATION": COMMENTED})
    assert cfg.error is None and cfg.source_ip == "1.2.3.4"
    got = [(r.protocol, r.port, str(r.dest_ip), r.dest_port) for r in cfg.rules]
    assert got == [("tcp", 80, "10.4.5.6", None), ("tcp", 8080, "10.7.8.9", 80), (None, None, "10.1.2.3", None)]
    table = render_nft([r.destination for r in cfg.rules], cfg.source_ip)
    rules = [line.strip() for line in table.splitlines()]
    # the installed table says what the printed lines say, SNAT only out of macvlan0
    assert rules[rules.index("chain prerouting {") + 2:][:3] == [
        'iifname "eth0" tcp dport 80 dnat to 10.4.5.6', 'iifname "eth0" tcp dport 8080 dnat to 10.7.8.9:80',
        'iifname "eth0" dnat to 10.1.2.3']
    assert 'oifname "macvlan0" snat to 1.2.3.4' in rules and "snat to 1.2.3.4" not in rules


HTTP_GOOD = [  # TestGenerateSquidConf: (input, output)
    ("*", "\nhttp_access allow all\n"),
    ("example.com", "\nacl dest1 dstdomain example.com\nhttp_access allow dest1\n\nhttp_access deny all\n"),
    ("!example.com", "\nacl dest1 dstdomain example.com\nhttp_access deny dest1\n\nhttp_access deny all\n"),
    ("*.example.com", "\nacl dest1 dstdomain .example.com\nhttp_access allow dest1\n\nhttp_access deny all\n"),
    ("192.168.1.1", "\nacl dest1 dst 192.168.1.1\nhttp_access allow dest1\n\nhttp_access deny all\n"),
    ("192.168.1.0/24", "\nacl dest1 dst 192.168.1.0/24\nhttp_access allow dest1\n\nhttp_access deny all\n"),
    ("\n!*.example.net\n*\n", "\nacl dest1 dstdomain .example.net\nhttp_access deny dest1\n\nhttp_access allow all\n"),
    ("\n# HTTP proxy config\n\n!*.bad.example.com\n*.example.com\n\n192.168.0.0/16\nfe80::/10\n\n# end\n",
     "\nacl dest1 dstdomain .bad.example.com\nhttp_access deny dest1\n\n"
     "acl dest2 dstdomain .example.com\nhttp_access allow dest2\n\n"
     "acl dest3 dst 192.168.0.0/16\nhttp_access allow dest3\n\n"
     "acl dest4 dst fe80::/10\nhttp_access allow dest4\n\nhttp_access deny all\n"),
]
HTTP_BAD = [  # TestGenerateSquidConfBad
    ("", "No EGRESS_HTTP_PROXY_DESTINATION specified"),
    ("*\nexample.com", "Wildcard must be last rule, if present"),
    ("foo bar", "Bad destination 'foo bar'"),
]


@pytest.mark.parametrize(("text", "output"), HTTP_GOOD, ids=[f"http{i + 1}" for i in range(len(HTTP_GOOD))])
def test_http_proxy_unit_test_output(text: str, output: str) -> None:
    env = {"EGRESS_HTTP_PROXY_MODE": "unit-test", "EGRESS_HTTP_PROXY_DESTINATION": text}
    assert _run(run_http_proxy, env) == (0, output)


@pytest.mark.parametrize(("text", "message"), HTTP_BAD, ids=[f"http-bad{i + 1}" for i in range(len(HTTP_BAD))])
def test_http_proxy_refusals(text: str, message: str) -> None:
    code, out = _run(run_http_proxy, {"EGRESS_HTTP_PROXY_MODE": "unit-test", "EGRESS_HTTP_PROXY_DESTINATION": text})
    assert code == 1 and out.split("\n")[-2] == message


@pytest.mark.parametrize(("text", "host", "addresses", "allowed"), [
    ("*", "anything.test", ("203.0.113.9",), True),
    ("example.com", "example.com", ("203.0.113.9",), True),
    ("example.com", "www.example.com", ("203.0.113.9",), False),
    ("!example.com", "example.com", ("203.0.113.9",), False),
    ("*.example.com", "example.com", ("203.0.113.9",), True),  # squid's .example.com: the domain and below
    ("*.example.com", "a.b.example.com", ("203.0.113.9",), True),
    ("*.example.com", "badexample.com", ("203.0.113.9",), False),
    ("192.168.1.1", "host.test", ("192.168.1.1",), True),
    ("192.168.1.1", "host.test", ("192.168.1.2",), False),
    ("192.168.1.0/24", "192.168.1.77", ("192.168.1.77",), True),
    ("\n!*.example.net\n*\n", "www.example.net", ("203.0.113.9",), False),
    ("\n!*.example.net\n*\n", "www.example.org", ("203.0.113.9",), True),
    (HTTP_GOOD[7][0], "x.bad.example.com", ("192.168.3.3",), False),  # first match wins: the deny
    (HTTP_GOOD[7][0], "www.example.com", ("203.0.113.9",), True),
    (HTTP_GOOD[7][0], "intranet.test", ("192.168.3.3",), True),
    (HTTP_GOOD[7][0], "v6.test", ("fe80::1",), True),
    (HTTP_GOOD[7][0], "elsewhere.test", ("203.0.113.9",), False),
])
def test_http_proxy_decisions(text: str, host: str, addresses: tuple[str, ...], allowed: bool) -> None:
    assert decide(parse_http_destinations(text), host, addresses).allowed is allowed


DEFAULTS = """
global
    log         127.0.0.1 local2

    pidfile     /var/lib/haproxy/run/haproxy.pid
    maxconn     4000
    user        haproxy
    group       haproxy

defaults
    log                     global
    mode                    tcp
    option                  dontlognull
    option                  tcplog
    option                  redispatch
    retries                 3
    timeout http-request    100s
    timeout queue           1m
    timeout connect         10s
    timeout client          1m
    timeout server          1m
    timeout http-keep-alive 100s
    timeout check           10s
"""


def _fe(n: int, port: int) -> str:
    return f"\nfrontend fe{n}\n    bind :{port}\n    default_backend be{n}"


def _be(n: int, server: str) -> str:
    return f"\nbackend be{n}\n    {server} check"


RES = " resolvers dns-resolver"
DNS_COMMENTED = """
# My DNS proxy egress router rules

# Port 80 forwards to 11.12.13.14
80 11.12.13.14

# Port 8080 forwards to port 100 on example.com
8080 example.com 100

# Skip this rule for now
# 9000 foo.com 200

# End
"""
DNS_GOOD = [  # TestHAProxyFrontendBackendConf: (destination, frontends, backends, dns map)
    ("80 11.12.13.14", [_fe(1, 80)], [_be(1, "server dest1 11.12.13.14:80")], {}),
    ("80 11.12.13.14\n8080 21.22.23.24 100", [_fe(1, 80), _fe(2, 8080)],
     [_be(1, "server dest1 11.12.13.14:80"), _be(2, "server dest1 21.22.23.24:100")], {}),
    ("80 example.com", [_fe(1, 80)], [_be(1, "server dest1 example.com:80") + RES], {"example.com": 1}),
    ("80 example.com\n8080 foo.com 100", [_fe(1, 80), _fe(2, 8080)],
     [_be(1, "server dest1 example.com:80") + RES, _be(2, "server dest1 foo.com:100") + RES],
     {"example.com": 1, "foo.com": 1}),
    ("80 11.12.13.14\n8080 example.com 100", [_fe(1, 80), _fe(2, 8080)],
     [_be(1, "server dest1 11.12.13.14:80"), _be(2, "server dest1 example.com:100") + RES], {"example.com": 1}),
    (DNS_COMMENTED, [_fe(1, 80), _fe(2, 8080)],
     [_be(1, "server dest1 11.12.13.14:80"), _be(2, "server dest1 example.com:100") + RES], {"example.com": 1}),
    ("\n# Port 8080 forwards to port 100 on example.com\n8080 example.com 100\n", [_fe(1, 8080)],
     [_be(1, "server-template dest 3 example.com:100") + RES], {"example.com": 3}),
    ("\n80 11.12.13.14\n9000 foo.com 200\n8080 example.com 100\n8081 bar.com 100\n",
     [_fe(1, 80), _fe(2, 9000), _fe(3, 8080), _fe(4, 8081)],
     [_be(1, "server dest1 11.12.13.14:80"), _be(2, "server-template dest 2 foo.com:200") + RES,
      _be(3, "server dest1 example.com:100") + RES, _be(4, "server dest1 bar.com:100") + RES],
     {"foo.com": 2, "example.com": 1, "bar.com": 1}),
]
DNS_BAD = [  # TestHAProxyFrontendBackendConfBad
    ("", "Must specify EGRESS_DNS_PROXY_DESTINATION"),
    ("80 11.12.13.14\ninvalid", "Bad destination 'invalid'"),
    ("80 11.12.13.14\n8080 invalid", "Bad destination '8080 invalid'"),
    ("99999 11.12.13.14", "Invalid port: 99999, must be in the range 1 to 65535"),
    ("80 11.12.13.14 88888", "Invalid port: 88888, must be in the range 1 to 65535"),
    ("80 11.12.13.14\n80 21.22.23.24 100", "Proxy port 80 already used, must be unique for each destination"),
]


@pytest.fixture
def resolv(tmp_path: Path) -> str:
    path = tmp_path / "resolv.conf"
    path.write_text("search svc.cluster.local\nnameserver 172.30.0.10\nnameserver 10.0.0.2\n")
    return str(path)


def _dns(env: dict[str, str], resolv: str) -> tuple[int, str]:
    return _run(run_dns_proxy, {"EGRESS_DNS_PROXY_MODE": "unit-test"} | env, resolv_conf=resolv)


@pytest.mark.parametrize(("dest", "frontends", "backends", "dns"), DNS_GOOD,
                         ids=[f"dns{i + 1}" for i in range(len(DNS_GOOD))])
def test_dns_proxy_frontends_and_backends(dest: str, frontends: list[str], backends: list[str], dns: dict[str, int],
                                          resolv: str) -> None:
    servers = "".join(f"{d}:{n};" for d, n in dns.items())
    code, out = _dns({"EGRESS_DNS_PROXY_DESTINATION": dest, "EGRESS_DNS_SERVERS": servers}, resolv)
    assert code == 0
    for text in frontends + backends:
        assert text in out
    assert len(re.findall("\nfrontend ", out)) == len(frontends)
    assert len(re.findall("\nbackend ", out)) == len(backends)


@pytest.mark.parametrize(("dest", "message"), DNS_BAD, ids=[f"dns-bad{i + 1}" for i in range(len(DNS_BAD))])
def test_dns_proxy_refusals(dest: str, message: str, resolv: str) -> None:
    code, out = _dns({"EGRESS_DNS_PROXY_DESTINATION": dest}, resolv)
    assert code == 1 and out.split("\n")[-2] == message


def test_dns_proxy_defaults_and_resolvers(resolv: str) -> None:
    code, out = _dns({"EGRESS_DNS_PROXY_DESTINATION": "80 11.12.13.14"}, resolv)
    assert code == 0 and DEFAULTS in out  # TestHAProxyDefaults: no chroot line any more
    assert re.search("resolvers dns-resolver\n *(nameserver ns.*)+\n +", out)  # TestHAProxyResolver
    assert "    nameserver ns1 172.30.0.10:53\n    nameserver ns2 10.0.0.2:53\n" in out


@pytest.mark.parametrize(("dest", "ports"), [("010 11.12.13.14", (10, 10)), ("080 11.12.13.14 0443", (80, 443)),
                                             ("8080 example.com 09", (8080, 9))])
def test_dns_proxy_ports_are_what_haproxy_binds(dest: str, ports: tuple[int, int], resolv: str) -> None:
    code, out = _dns({"EGRESS_DNS_PROXY_DESTINATION": dest}, resolv)
    assert code == 0  # bash's check passes them; haproxy reads `bind :010` as port 10 (decimal), not 8
    d = parse_dns_destinations(dest)[0]
    assert (d.listen_port, d.remote_port) == ports


def test_dns_proxy_prints_what_bash_accepts_and_refuses_what_haproxy_would(resolv: str) -> None:
    dest = {"EGRESS_DNS_PROXY_DESTINATION": "070000 11.12.13.14"}  # bash: octal 28672, in range
    code, out = _dns(dest, resolv)
    assert code == 0 and "\nfrontend fe1\n    bind :070000\n" in out
    code, out = _run(run_dns_proxy, dest, resolv_conf=resolv)  # not unit-test: refused before anything runs
    assert code == 1 and out.split("\n")[-2] == "Invalid port: 070000, not a port haproxy accepts"
