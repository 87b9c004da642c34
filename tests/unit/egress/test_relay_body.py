"""relay.Body: a body's framing fed in pieces as they arrive, split anywhere, bounded, hostile input refused."""

from __future__ import annotations

import pytest

from osdn.egress.http_wire import Framing, WireError
from osdn.egress.relay import Body

CHUNKED = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\n"
NEXT = b"GET http://next/ HTTP/1.1\r\n\r\n"


def feed_split(framing: Framing, dechunk: bool, data: bytes, cuts: list[int]) -> tuple[bytes, int, bool]:
    """Feed `data` cut at `cuts`; (what went out, bytes taken as body, done)."""
    body, out, taken = Body(framing, dechunk, 1024), bytearray(), 0
    for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True):
        piece = data[a:b]
        if body.done:
            break
        taken += body.feed(piece, out.extend)
    return bytes(out), taken, body.done


@pytest.mark.parametrize("dechunk", [False, True])
def test_chunked_split_at_every_point_and_every_pair_of_points(dechunk: bool) -> None:
    data = CHUNKED + NEXT
    want = (b"hello world", len(CHUNKED), True) if dechunk else (CHUNKED, len(CHUNKED), True)
    for i in range(len(data) + 1):
        assert feed_split(Framing(chunked=True, length=None), dechunk, data, [i]) == want, i
        for j in range(i, len(data) + 1, 7):
            assert feed_split(Framing(chunked=True, length=None), dechunk, data, [i, j]) == want, (i, j)


def test_length_close_and_empty_bodies() -> None:
    assert feed_split(Framing(length=10), False, b"0123456789" + NEXT, [3, 7]) == (b"0123456789", 10, True)
    assert feed_split(Framing(length=10), False, b"0123", []) == (b"0123", 4, False)
    empty = Body(Framing(length=0), False, 1024)
    assert empty.done and empty.feed(NEXT, bytearray().extend) == 0
    until_close, out = Body(Framing(length=None), False, 1024), bytearray()
    assert until_close.feed(b"abc", out.extend) == 3 and until_close.feed(b"def", out.extend) == 3
    assert out == b"abcdef" and not until_close.done  # ends only with the connection


def test_a_length_body_passes_the_very_bytes_object_when_it_is_all_body() -> None:
    seen: list[bytes] = []
    data = b"z" * 5000
    Body(Framing(length=10000), False, 1024).feed(data, seen.append)
    assert seen[0] is data  # no copy of a piece that is all body


@pytest.mark.parametrize(("data", "status", "text"), [
    (b"zz\r\n", 400, "malformed chunk size"),
    (b"\r\n", 400, "malformed chunk size"),
    (b"1" * 17 + b"\r\n", 400, "malformed chunk size"),
    (b"-1\r\n", 400, "malformed chunk size"),
    (b"3\r\nabcdef\r\n", 400, "chunk data longer than its size"),
    (b"5" + b";" * 2000, 400, "line too long"),  # a size line without end: bounded
    (b"0\r\n" + b"X: y\r\n" * 200, 431, "trailers too large"),
])
def test_hostile_chunked_input_is_refused(data: bytes, status: int, text: str) -> None:
    body = Body(Framing(chunked=True, length=None), False, 1024)
    with pytest.raises(WireError) as err:
        for i in range(0, len(data), 100):
            body.feed(data[i:i + 100], bytearray().extend)
    assert err.value.status == status and text in err.value.message
