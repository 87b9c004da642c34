"""egress-http-proxy.sh's ACLs: the upstream vectors (TestGenerateSquidConf*), more, and squid's decisions."""

from __future__ import annotations

import pytest

from osdn.egress.http_acl import decide, parse_http_destinations, render_squid_acls, render_squid_conf
from osdn.model.egress_grammar import EgressConfigError

SEED_CONFIG = """
# HTTP proxy config

!*.bad.example.com
*.example.com

192.168.0.0/16
fe80::/10

# end
"""
GOOD = [
    ("*", "\nhttp_access allow all\n"),
    ("example.com", "\nacl dest1 dstdomain example.com\nhttp_access allow dest1\n\nhttp_access deny all\n"),
    ("!example.com", "\nacl dest1 dstdomain example.com\nhttp_access deny dest1\n\nhttp_access deny all\n"),
    ("*.example.com", "\nacl dest1 dstdomain .example.com\nhttp_access allow dest1\n\nhttp_access deny all\n"),
    ("192.168.1.1", "\nacl dest1 dst 192.168.1.1\nhttp_access allow dest1\n\nhttp_access deny all\n"),
    ("192.168.1.0/24", "\nacl dest1 dst 192.168.1.0/24\nhttp_access allow dest1\n\nhttp_access deny all\n"),
    ("\n!*.example.net\n*\n", "\nacl dest1 dstdomain .example.net\nhttp_access deny dest1\n\nhttp_access allow all\n"),
    (SEED_CONFIG, "\nacl dest1 dstdomain .bad.example.com\nhttp_access deny dest1\n\n"
                  "acl dest2 dstdomain .example.com\nhttp_access allow dest2\n\n"
                  "acl dest3 dst 192.168.0.0/16\nhttp_access allow dest3\n\n"
                  "acl dest4 dst fe80::/10\nhttp_access allow dest4\n\nhttp_access deny all\n"),
    # more: the `^\w*$` quirk skips a line of w's; numbering counts `*`; comments after `*`
    ("www\nexample.com", "\nacl dest1 dstdomain example.com\nhttp_access allow dest1\n\nhttp_access deny all\n"),
    ("!*.example.com\n!192.168.1.0/24\n*\n# done", "\nacl dest1 dstdomain .example.com\nhttp_access deny dest1\n\n"
     "acl dest2 dst 192.168.1.0/24\nhttp_access deny dest2\n\nhttp_access allow all\n"),
    ("*\n*", "\nhttp_access allow all\n"),  # a second `*` takes the wildcard branch again: no error
]
BAD = [
    ("", "No EGRESS_HTTP_PROXY_DESTINATION specified"),
    ("*\nexample.com", "Wildcard must be last rule, if present"),
    ("foo bar", "Bad destination 'foo bar'"),
    ("!!example.com", "Bad destination '!example.com'"),
    ("*.x", "Bad destination '*.x'"),
    ("a", "Bad destination 'a'"),
]


@pytest.mark.parametrize(("text", "out"), GOOD, ids=[f"good{i + 1}" for i in range(len(GOOD))])
def test_acls(text: str, out: str) -> None:
    assert render_squid_acls(parse_http_destinations(text)) == out


@pytest.mark.parametrize(("text", "message"), BAD, ids=[f"bad{i + 1}" for i in range(len(BAD))])
def test_errors(text: str, message: str) -> None:
    with pytest.raises(EgressConfigError) as err:
        parse_http_destinations(text)
    assert err.value.message == message


def test_squid_conf_header() -> None:
    assert render_squid_conf(parse_http_destinations("*")) == (
        "http_port 8080\ncache deny all\naccess_log none all\ndebug_options ALL,0\nshutdown_lifetime 0\n"
        "\nhttp_access allow all\n")


SEED_PROXY = "!*.example.com\n!192.168.1.0/24\n*\n"
DECISIONS = [  # (config, host, addresses, allowed, matching line or None)
    (SEED_PROXY, "www.example.com", ("203.0.113.80",), False, "!*.example.com"),
    (SEED_PROXY, "EXAMPLE.com.", ("203.0.113.80",), False, "!*.example.com"),
    (SEED_PROXY, "notexample.com", ("203.0.113.80",), True, None),
    (SEED_PROXY, "192.168.1.7", ("192.168.1.7",), False, "!192.168.1.0/24"),
    (SEED_PROXY, "db.internal", ("192.168.1.9",), False, "!192.168.1.0/24"),  # dst judges resolved names
    (SEED_PROXY, "192.168.2.7", ("192.168.2.7",), True, None),
    ("example.com", "example.com", ("1.1.1.1",), True, "example.com"),
    ("example.com", "www.example.com", ("1.1.1.1",), False, None),
    ("*.example.com", "example.com", ("1.1.1.1",), True, "*.example.com"),
    (SEED_CONFIG, "x.bad.example.com", ("192.168.0.1",), False, "!*.bad.example.com"),  # first match wins
    (SEED_CONFIG, "fe80::1", ("fe80::1",), True, "fe80::/10"),
    (SEED_CONFIG, "unresolvable.test", (), False, None),
    ("203.0.113.80", "web.ext.test", ("203.0.113.80", "203.0.113.81"), True, "203.0.113.80"),
]


@pytest.mark.parametrize(("config", "host", "addrs", "allowed", "line"), DECISIONS,
                         ids=[f"decide{i + 1}" for i in range(len(DECISIONS))])
def test_squid_decisions(config: str, host: str, addrs: tuple[str, ...], allowed: bool, line: str | None) -> None:
    d = decide(parse_http_destinations(config), host, addrs)
    assert d.allowed is allowed
    assert (d.rule.line if d.rule else None) == line


def test_dst_by_host_name_uses_its_load_time_addresses() -> None:
    acl = parse_http_destinations("!bad.cafe\n*")  # IPADDR's regex takes this for an address: squid resolves it
    assert acl.rules[0].kind == "dst"
    assert not decide(acl, "x.test", ("10.0.0.5",), {"bad.cafe": ("10.0.0.5",)}).allowed
    assert decide(acl, "x.test", ("10.0.0.6",), {"bad.cafe": ("10.0.0.5",)}).allowed
