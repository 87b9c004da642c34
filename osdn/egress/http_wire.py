"""HTTP/1.x message heads for the egress HTTP proxy: parsing, hop-by-hop filtering, framing. Pure.

A head is the start line plus header fields, at most `Limits.max_head` bytes and `max_headers`
fields (the caller reads it with that bound). Refused with `WireError` (status 400, or 431 for too
many fields): a malformed start line, obsolete line folding, a field name that is not a token,
a Transfer-Encoding on a request that does not end in chunked, Transfer-Encoding together with
Content-Length, differing or non-numeric Content-Length values (request smuggling vectors).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

HOP_BY_HOP = frozenset({"connection", "proxy-connection", "keep-alive", "proxy-authenticate",
                        "proxy-authorization", "te", "trailer", "upgrade"})
_VERSION = re.compile(rb"HTTP/1\.[01]")


class WireError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class Head:
    start: tuple[str, str, str]  # (method, target, version) or (version, status, reason)
    fields: list[tuple[str, str]]
    index: dict[str, list[str]] = field(default_factory=dict)  # lower-case name -> values, built once
    block: bytes | None = None  # the field lines as received (validated), when parsed

    def __post_init__(self) -> None:
        if not self.index:
            for k, v in self.fields:
                self.index.setdefault(k.lower(), []).append(v)

    def get_all(self, name: str) -> list[str]:
        return self.index.get(name, [])

    def get(self, name: str) -> str | None:
        values = self.get_all(name)
        return ", ".join(values) if values else None

    def tokens(self, name: str) -> list[str]:
        values = self.index.get(name)
        return [t.strip().lower() for v in values for t in v.split(",") if t.strip()] if values else []


_NAME = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_FIELDS = re.compile(rf"(?:{_NAME}:[^\r\n]*\r\n)*")  # every line a field, no bare CR or LF
_FIELD = re.compile(rf"({_NAME}):[ \t]*([^\r\n]*?)[ \t]*\r\n")


def parse_head(raw: bytes, max_headers: int, request: bool) -> Head:
    """`raw` ends with the blank line: one pass of a regex validates every field line, one more
    extracts them (the field lines are kept as received in `block`)."""
    first = raw.find(b"\r\n")
    line, block = raw[:first], raw[first + 2:-2]
    if not line and not block:
        raise WireError(400, "empty request")
    parts = line.split(b" ", 2)
    if len(parts) != 3 or not _VERSION.fullmatch(parts[2] if request else parts[0]):
        raise WireError(400, f"malformed {'request' if request else 'status'} line")
    if block.count(b"\r\n") > max_headers:
        raise WireError(431, f"more than {max_headers} header fields")
    text = block.decode("latin-1")
    if not _FIELDS.fullmatch(text):
        raise WireError(400, "obsolete line folding in a header field" if re.search(r"(^|\n)[ \t]", text)
                        else "malformed header field")
    start = line.decode("latin-1").split(" ", 2)
    return Head((start[0], start[1], start[2]), _FIELD.findall(text), block=block)


@dataclass(frozen=True)
class Framing:
    """How a body is delimited: chunked, a length, until the connection closes, or none."""

    chunked: bool = False
    length: int | None = 0  # None with chunked=False: until close


def content_length(head: Head) -> int | None:
    found = head.index.get("content-length")
    if not found:
        return None
    values = {v.strip() for v in found for v in v.split(",")}
    if len(values) != 1 or not next(iter(values)).isdigit():
        raise WireError(400, "invalid Content-Length")
    return int(next(iter(values)))


def request_framing(head: Head) -> Framing:
    codings = head.tokens("transfer-encoding")
    length = content_length(head)
    if codings:
        if codings[-1] != "chunked":
            raise WireError(400, "request Transfer-Encoding must end in chunked")
        if length is not None:
            raise WireError(400, "both Transfer-Encoding and Content-Length")
        return Framing(chunked=True, length=None)
    return Framing(length=length or 0)


def response_framing(head: Head, method: str) -> Framing:
    status = int(head.start[1]) if head.start[1].isdigit() else 0
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return Framing(length=0)
    if codings := head.tokens("transfer-encoding"):
        return Framing(chunked=codings[-1] == "chunked", length=None)
    length = content_length(head)
    return Framing(length=length)


def keep_alive(head: Head, version: str) -> bool:
    conn = head.tokens("connection") + head.tokens("proxy-connection")
    return "close" not in conn and (version == "HTTP/1.1" or "keep-alive" in conn)


def forward_fields(head: Head) -> list[tuple[str, str]]:
    """Fields without the hop-by-hop ones (also those named in Connection)."""
    drop = HOP_BY_HOP | set(head.tokens("connection"))
    return [(k, v) for k, v in head.fields if k.lower() not in drop]


def forward_head(start: str, head: Head, drop: frozenset[str], extra: list[tuple[str, str]]) -> bytes:
    """`start`, the fields of `head` but the hop-by-hop ones and those in `drop` (lower case), then
    `extra`: the field lines as received when none is dropped (the common case), else rendered."""
    if head.block is not None and HOP_BY_HOP.isdisjoint(head.index) and drop.isdisjoint(head.index):
        return b"".join((start.encode("latin-1"), b"\r\n", head.block,
                         "".join(f"{k}: {v}\r\n" for k, v in extra).encode("latin-1"), b"\r\n"))
    return render_head(start, [f for f in forward_fields(head) if f[0].lower() not in drop] + extra)


def split_target(target: str, default_port: int) -> tuple[str, int]:
    """`host:port` (CONNECT) or the authority of an absolute URL, IPv6 in brackets."""
    try:
        parts = urlsplit(f"//{target}")
        host, port = parts.hostname, parts.port
    except ValueError:
        raise WireError(400, f"invalid target {target[:200]!r}") from None
    if not host:
        raise WireError(400, f"invalid target {target[:200]!r}")
    return host, port or default_port


_PLAIN_URL = re.compile(r"[hH][tT][tT][pP]://([A-Za-z0-9.-]+)(?::([0-9]{1,5}))?(/[^#?]*(?:\?[^#?][^#]*)?)?")


def absolute_url(target: str) -> tuple[str, int, str]:
    """(host, port, origin-form path) of an `http://` request target."""
    m = _PLAIN_URL.fullmatch(target)  # the common shape, without urlsplit's cost
    if m and (not m.group(2) or int(m.group(2)) <= 65535):
        return m.group(1).lower(), int(m.group(2) or 0) or 80, m.group(3) or "/"
    if not target.lower().startswith("http://"):
        raise WireError(400, "only absolute http:// URLs (and CONNECT) can be proxied")
    try:
        parts = urlsplit(target)
        host, port = parts.hostname, parts.port
    except ValueError:
        raise WireError(400, f"invalid URL {target[:200]!r}") from None
    if not host:
        raise WireError(400, f"invalid URL {target[:200]!r}")
    return host, port or 80, (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def render_head(start: str, fields: list[tuple[str, str]]) -> bytes:
    return (start + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields) + "\r\n").encode("latin-1")


def error_response(status: int, reason: str, message: str) -> bytes:
    body = (message + "\n").encode()
    return render_head(f"HTTP/1.1 {status} {reason}", [("Content-Type", "text/plain; charset=utf-8"),
                       ("Content-Length", str(len(body))), ("Connection", "close")]) + body
