"""Watch stream decoding: only b"\\n" ends an event; anything else that is not an event is an error."""

from __future__ import annotations

import json

import pytest

from osdn.client.backoff import Backoff, delay_for
from osdn.client.watchstream import BadWatchEventError, parse_event, split_lines
from osdn.errors import GoneError

TRICKY = "a\u2028b\u2029c\u0085d\x1ce\x0bf\rg"   # every character str.splitlines breaks on, but \n


def test_lines_split_on_newline_bytes_only() -> None:
    raw = json.dumps({"type": "ADDED", "object": {"metadata": {"name": "x", "annotations": {"k": TRICKY}}}},
                     ensure_ascii=False).encode() + b"\n"
    chunks = [raw[i:i + 3] for i in range(0, len(raw), 3)] + [b'{"type":"DELE']   # cut mid-event
    lines = list(split_lines(chunks))
    assert len(lines) == 1
    event = parse_event(lines[0], "watch of namespaces")
    assert event["object"]["metadata"]["annotations"]["k"] == TRICKY


@pytest.mark.parametrize("line, says", [
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "has no object"),
    (b'{"type": "ADDED", "object": "x"}', "has no object"),
    (b'{"type": "WEIRD", "object": {"metadata": {}}}', "has type 'WEIRD'"),
    (b'{"type": "ADDED", "object": {"metadata": 3}}', "no object metadata"),
], ids=["json", "list", "object-string", "type", "metadata"])
def test_a_line_that_is_not_an_event_names_the_stream(line: bytes, says: str) -> None:
    with pytest.raises(BadWatchEventError, match=says) as e:
        parse_event(line, "watch of namespaces")
    assert e.value.message.startswith("watch of namespaces: ")


def test_an_error_event_raises_the_error_of_its_status() -> None:
    line = b'{"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired","message":"too old"}}'
    with pytest.raises(GoneError, match="watch of pods: too old"):
        parse_event(line, "watch of pods")


def test_backoff_doubles_to_its_cap_with_bounded_jitter_and_resets() -> None:
    b = Backoff(initial=0.2, cap=1.0, jitter=0.5, rand=lambda: 0.5)
    assert [round(b.next(), 3) for _ in range(5)] == [0.25, 0.5, 1.0, 1.25, 1.25]
    b.reset()
    assert b.next() == pytest.approx(0.25)
    assert delay_for(1000, 0.2, 30.0, 0.2, 0.999) <= 30.0 * 1.2
    assert delay_for(1, 0.2, 30.0, 0.2, 0.0) == 0.2
