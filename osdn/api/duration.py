"""Durations as Go's `time.ParseDuration` writes them (`30s`, `1m30s`, `500ms`, `2h`). Pure.

`parse_duration` returns seconds, or None for text that is not a duration. Bare numbers are
accepted only where a caller says so (node.yaml historically allowed seconds as a number).
"""

from __future__ import annotations

import re

_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$")
_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: object, bare_seconds: bool = False) -> float | None:
    """Seconds from `30s`, `1m30s`, `500ms`, `0s`; None if `text` is not a duration.

    >>> parse_duration("1m30s"), parse_duration("30"), parse_duration("30", bare_seconds=True)
    (90.0, None, 30.0)
    """
    if isinstance(text, bool):
        return None
    if isinstance(text, (int, float)):
        return float(text) if bare_seconds and text >= 0 else None
    if not isinstance(text, str):
        return None
    text = text.strip()
    if bare_seconds and re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    if text == "0" or not _DURATION.match(text):
        return 0.0 if text == "0" else None
    return sum(float(n) * _UNITS[u] for n, u in _PART.findall(text))


def format_duration(seconds: float) -> str:
    """The short Go-style spelling: 90 -> `1m30s`, 0.5 -> `500ms`, 30 -> `30s`."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    whole = round(seconds)
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    return "".join(f"{v}{u}" for v, u in ((h, "h"), (m, "m"), (s, "s")) if v) or "0s"
