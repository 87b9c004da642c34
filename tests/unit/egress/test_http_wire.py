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


def test_field_lines_go_out_as_received_unless_one_is_dropped() -> None:
    raw = b"GET http://a/ HTTP/1.1\r\nHost:   a  \r\nX-Y: 1,2\r\nAccept: */*\r\n\r\n"
    head = wire.parse_head(raw, 100, True)
    assert head.fields == [("Host", "a"), ("X-Y", "1,2"), ("Accept", "*/*")]
    assert wire.forward_head("GET / HTTP/1.1", head, frozenset(), [("Via", "v")]) == \
        b"GET / HTTP/1.1\r\nHost:   a  \r\nX-Y: 1,2\r\nAccept: */*\r\nVia: v\r\n\r\n"
    hop = wire.parse_head(b"HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Y\r\nX-Y: 1\r\nKeep-Alive: 5\r\n"
                          b"Transfer-Encoding: chunked\r\nZ: 2\r\n\r\n", 100, False)
    assert wire.forward_head("HTTP/1.0 200 OK", hop, frozenset({"transfer-encoding"}), [("Via", "v")]) == \
        b"HTTP/1.0 200 OK\r\nZ: 2\r\nVia: v\r\n\r\n"
    assert wire.parse_head(b"GET / HTTP/1.1\r\n\r\n", 100, True).fields == []


def test_a_bare_cr_or_lf_inside_a_field_is_refused() -> None:
    """A lone LF or CR would split the field into two for the next hop (header injection)."""
    for bad in (b"X: a\nInjected: 1\r\n", b"X: a\rInjected: 1\r\n", b"X a\r\n", b": a\r\n", b"X@: a\r\n"):
        try:
            wire.parse_head(b"GET http://a/ HTTP/1.1\r\n" + bad + b"\r\n", 100, True)
        except wire.WireError as exc:
            assert exc.status == 400 and exc.message == "malformed header field"
        else:
            raise AssertionError(bad)
    try:
        wire.parse_head(b"GET http://a/ HTTP/1.1\r\nX: a\r\n b\r\n\r\n", 100, True)
    except wire.WireError as exc:
        assert exc.message == "obsolete line folding in a header field"
