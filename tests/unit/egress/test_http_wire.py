"""http_wire: the fast path of absolute_url answers exactly what urlsplit answers."""

from __future__ import annotations

import itertools
from urllib.parse import urlsplit

from osdn.egress import http_wire as wire


def reference(target: str) -> tuple[str, int, str] | None:
    try:
        parts = urlsplit(target)
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    return (host or "", port or 80, (parts.path or "/") + (f"?{parts.query}" if parts.query else "")) if host else None


def test_absolute_url_matches_urlsplit() -> None:
    hosts = ["a.b", "A.B", "1.2.3.4", "h-x", "[::1]", "u@h"]
    ports = ["", ":0", ":80", ":8080", ":65535", ":99999", ":"]
    paths = ["", "/", "/x", "/x?", "/x?y", "/x?y?z", "/?", "/?q", "/x#f", "/x?y#f", "/a/b?c=d&e=f", "?q", "/%20x", "//x"]
    for scheme, host, port, path in itertools.product(("http://", "HTTP://"), hosts, ports, paths):
        target = scheme + host + port + path
        try:
            got: tuple[str, int, str] | None = wire.absolute_url(target)
        except wire.WireError:
            got = None
        assert got == reference(target), target


def test_head_fields_are_indexed_once_case_insensitively() -> None:
    head = wire.parse_head(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Y\r\nconnection: close\r\n"
                           b"X-Y: 1\r\n\r\n", 100, True)
    assert head.get_all("connection") == ["keep-alive, X-Y", "close"]
    assert head.tokens("connection") == ["keep-alive", "x-y", "close"]
    assert wire.forward_fields(head) == [("Host", "a")]
    assert not wire.keep_alive(head, "HTTP/1.1")
