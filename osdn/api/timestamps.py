"""RFC 3339 timestamps as Kubernetes writes them, to and from seconds since the epoch (UTC).

Pure: no clock and no `datetime` (the purity contract forbids it in `api` and `model`); callers pass
`now` as epoch seconds. Calendar arithmetic is Howard Hinnant's days-from-civil algorithm, exact for
the proleptic Gregorian calendar.
"""

from __future__ import annotations

import re

_RFC3339 = re.compile(r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?")
_DAY = 86400


def _days_from_civil(y: int, m: int, d: int) -> int:
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


def _civil_from_days(z: int) -> tuple[int, int, int]:
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return yoe + era * 400 + (m <= 2), m, d


def parse(text: object) -> float | None:
    """`2026-01-02T03:04:05Z` (fractions and offsets allowed) as epoch seconds; None if not a time."""
    match = _RFC3339.fullmatch(str(text or ""))
    if not match:
        return None
    y, mo, d, h, mi, s = (int(g) for g in match.groups()[:6])
    if _civil_from_days(_days_from_civil(y, mo, d)) != (y, mo, d) or h > 23 or mi > 59 or s > 60:
        return None
    seconds = _days_from_civil(y, mo, d) * _DAY + h * 3600 + mi * 60 + s + float(match[7] or 0)
    zone = match[8] or "Z"
    if zone not in "Zz":
        offset = int(zone[1:3]) * 3600 + int(zone[4:6]) * 60
        seconds -= offset if zone[0] == "+" else -offset
    return seconds


def format_time(seconds: float) -> str:
    """Epoch seconds as Kubernetes' RFC 3339 form, whole seconds: `2026-01-02T03:04:05Z`."""
    whole = int(seconds // 1)
    days, rest = divmod(whole, _DAY)
    y, m, d = _civil_from_days(days)
    return f"{y:04d}-{m:02d}-{d:02d}T{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}Z"


def format_micro_time(seconds: float) -> str:
    """Epoch seconds as Kubernetes' MicroTime (Lease times): `2026-01-02T03:04:05.123456Z`."""
    micros = int(round(seconds * 1_000_000)) % 1_000_000
    return f"{format_time(seconds)[:-1]}.{micros:06d}Z"
