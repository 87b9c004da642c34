"""Decoding a watch stream: newline-delimited JSON events, split on the byte b"\\n" only. Pure.

JSON strings may hold U+2028, U+2029, U+0085 and other characters that `str.splitlines` (and so
httpx's `iter_lines`) treats as line breaks; inside an event they are data. JSON escapes every real
newline, so b"\\n" is the only separator. A line that is not a well-formed event raises
BadWatchEventError (the caller re-lists); a `{"type": "ERROR", "object": Status}` event raises the
error that Status describes, as client-go does.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from osdn.errors import OsdnError, error_from_status

Obj = dict[str, Any]
EVENT_TYPES = ("ADDED", "MODIFIED", "DELETED", "BOOKMARK")


class BadWatchEventError(OsdnError):
    """A watch stream carried something that is not a watch event."""


def split_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Complete b"\\n"-terminated lines from a byte stream; a trailing partial line is dropped
    (a stream cut mid-event carries no event)."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        yield from (line for line in lines if line.strip())


def parse_event(line: bytes, what: str) -> Obj:
    """One watch event from one line; `what` names the stream in errors ("watch of namespaces")."""
    try:
        event = json.loads(line)
    except ValueError as e:
        raise BadWatchEventError(f"{what}: an event is not valid JSON ({e}): {line[:200]!r}") from None
    if not isinstance(event, dict) or not isinstance(event.get("object"), dict):
        raise BadWatchEventError(f"{what}: an event has no object: {line[:200]!r}")
    kind = event.get("type")
    if kind == "ERROR":
        status = event["object"]
        raise error_from_status({**status, "message": f"{what}: {status.get('message', 'error event')}"})
    if kind not in EVENT_TYPES or not isinstance(event["object"].get("metadata"), dict):
        raise BadWatchEventError(f"{what}: an event has type {kind!r} or no object metadata: {line[:200]!r}")
    return event
