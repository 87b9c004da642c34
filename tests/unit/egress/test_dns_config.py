"""egress-dns-proxy.sh's haproxy config: the upstream vectors (TestHAProxy*) and more."""

from __future__ import annotations

import re

import pytest

from osdn.egress.dns_config import (
    DEFAULTS,
    nameservers,
    parse_dns_destinations,
    parse_dns_servers,
    render_haproxy_config,
)
from osdn.model.egress_grammar import EgressConfigError

COMMENTED = """
# My DNS proxy egress router rules

# Port 80 forwards to 11.12.13.14
80 11.12.13.14

# Port 8080 forwards to port 100 on example.com
8080 example.com 100

# Skip this rule for now
# 9000 foo.com 200

# End
"""
CASES = [  # (destination, {domain: servers}, [(port, server line)])
    ("80 11.12.13.14", {}, [("80", "server dest1 11.12.13.14:80 check")]),
    ("80 11.12.13.14\n8080 21.22.23.24 100", {},
     [("80", "server dest1 11.12.13.14:80 check"), ("8080", "server dest1 21.22.23.24:100 check")]),
    ("80 example.com", {"example.com": 1}, [("80", "server dest1 example.com:80 check resolvers dns-resolver")]),
    ("80 example.com\n8080 foo.com 100", {"example.com": 1, "foo.com": 1},
     [("80", "server dest1 example.com:80 check resolvers dns-resolver"),
      ("8080", "server dest1 foo.com:100 check resolvers dns-resolver")]),
    ("80 11.12.13.14\n8080 example.com 100", {"example.com": 1},
     [("80", "server dest1 11.12.13.14:80 check"), ("8080", "server dest1 example.com:100 check resolvers dns-resolver")]),
    (COMMENTED, {"example.com": 1},
     [("80", "server dest1 11.12.13.14:80 check"), ("8080", "server dest1 example.com:100 check resolvers dns-resolver")]),
    ("\n8080 example.com 100\n", {"example.com": 3},
     [("8080", "server-template dest 3 example.com:100 check resolvers dns-resolver")]),
    ("\n80 11.12.13.14\n9000 foo.com 200\n8080 example.com 100\n8081 bar.com 100\n",
     {"foo.com": 2, "example.com": 1, "bar.com": 1},
     [("80", "server dest1 11.12.13.14:80 check"), ("9000", "server-template dest 2 foo.com:200 check resolvers dns-resolver"),
      ("8080", "server dest1 example.com:100 check resolvers dns-resolver"),
      ("8081", "server dest1 bar.com:100 check resolvers dns-resolver")]),
]
BAD = [
    ("", "Must specify EGRESS_DNS_PROXY_DESTINATION"),
    ("80 11.12.13.14\ninvalid", "Bad destination 'invalid'"),
    ("80 11.12.13.14\n8080 invalid", "Bad destination '8080 invalid'"),
    ("99999 11.12.13.14", "Invalid port: 99999, must be in the range 1 to 65535"),
    ("80 11.12.13.14 88888", "Invalid port: 88888, must be in the range 1 to 65535"),
    ("80 11.12.13.14\n80 21.22.23.24 100", "Proxy port 80 already used, must be unique for each destination"),
    ("80 tcp 11.12.13.14", "Bad destination '80 tcp 11.12.13.14'"),
    ("80 -example.com", "Bad destination '80 -example.com'"),
    ("0 11.12.13.14", "Invalid port: 0, must be in the range 1 to 65535"),
]


@pytest.mark.parametrize(("dest", "counts", "servers"), CASES, ids=[f"case{i + 1}" for i in range(len(CASES))])
def test_frontends_and_backends(dest: str, counts: dict[str, int], servers: list[tuple[str, str]]) -> None:
    out = render_haproxy_config(parse_dns_destinations(dest), ["172.30.0.10"], counts)
    for n, (port, server) in enumerate(servers, 1):
        assert f"\nfrontend fe{n}\n    bind :{port}\n    default_backend be{n}" in out
        assert f"\nbackend be{n}\n    {server}" in out
    assert len(re.findall("\nfrontend ", out)) == len(re.findall("\nbackend ", out)) == len(servers)
    assert DEFAULTS.rstrip("\n") + "\n" in out


@pytest.mark.parametrize(("dest", "message"), BAD, ids=[f"bad{i + 1}" for i in range(len(BAD))])
def test_errors(dest: str, message: str) -> None:
    with pytest.raises(EgressConfigError) as err:
        parse_dns_destinations(dest)
    assert err.value.message == message


def test_whole_config_for_one_ip() -> None:
    out = render_haproxy_config(parse_dns_destinations("80 11.12.13.14"), nameservers("nameserver 172.30.0.10\n"), {})
    assert out.endswith("resolvers dns-resolver\n    nameserver ns1 172.30.0.10:53\n    resolve_retries      3\n"
                        "    timeout retry        1s\n    hold valid           10s\n\n\nfrontend fe1\n    bind :80\n"
                        "    default_backend be1\n\nbackend be1\n    server dest1 11.12.13.14:80 check \n\n")
    assert re.search("resolvers dns-resolver\n *(nameserver ns.*)+\n +", out)


def test_dns_servers_and_resolv_conf() -> None:
    assert parse_dns_servers("foo.com:2;bar.com:1;") == {"foo.com": 2, "bar.com": 1}
    with pytest.raises(EgressConfigError, match="^Invalid server entry in EGRESS_DNS_SERVERS: foo.com$"):
        parse_dns_servers("foo.com")
    assert nameservers("# x\nsearch a\nnameserver 1.1.1.1\nnameserver 2.2.2.2 # c\nnameserver\n") == ["1.1.1.1", "2.2.2.2"]


def test_domain_targets_resolve_and_ports() -> None:
    dests = parse_dns_destinations("100 example.com\n8443 foobar.com 443\n80 1.2.3")
    assert [(d.listen_port, d.target, d.remote_port, d.is_name) for d in dests] == [
        (100, "example.com", 100, True), (8443, "foobar.com", 443, True), (80, "1.2.3", 80, True)]
