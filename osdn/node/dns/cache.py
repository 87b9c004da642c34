"""A bounded, TTL-respecting cache of upstream answers (pure: `now` is passed in, no clock read).

Keyed by (lowercased name, type, class). An entry lives for the smallest TTL of its records (a
negative answer: the SOA's minimum, RFC 2308), capped at `max_ttl`, and is served with its TTLs
reduced by the time it spent here. At most `max_entries` entries and `max_records` records in all
(an upstream answer may carry ~4,000 records, ~600 KiB parsed: 10,000 of them would be gigabytes, and
a tenant who owns a domain chooses its answers): the least recently used go first. Answers that are
errors (SERVFAIL, REFUSED, ...) or truncated are never cached.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype

MAX_ENTRIES = 10_000
MAX_RECORDS = 100_000  # ~16 MiB of parsed records
MAX_TTL = 3600
NEGATIVE_TTL = 30  # cap for NXDOMAIN/NODATA without an SOA minimum


@dataclass(frozen=True)
class Entry:
    response: dns.message.Message
    stored: float
    expires: float
    records: int


def answer_ttl(response: dns.message.Message, max_ttl: int = MAX_TTL) -> int | None:
    """Pure: how long `response` may be cached (None: not at all)."""
    if response.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN) or response.flags & dns.flags.TC:
        return None
    if response.answer:
        return min(min(rr.ttl for rr in response.answer), max_ttl)
    soa = [rr for rr in response.authority if rr.rdtype == dns.rdatatype.SOA]
    if soa:
        return min(soa[0].ttl, soa[0][0].minimum, max_ttl)
    return min(NEGATIVE_TTL, max_ttl)


class AnswerCache:
    def __init__(self, max_entries: int = MAX_ENTRIES, max_ttl: int = MAX_TTL, max_records: int = MAX_RECORDS) -> None:
        self.max_entries, self.max_ttl, self.max_records = max_entries, max_ttl, max_records
        self._entries: OrderedDict[tuple[str, int, int], Entry] = OrderedDict()
        self.records = 0  # records held by all entries

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, key: tuple[str, int, int], response: dns.message.Message, now: float) -> None:
        ttl = answer_ttl(response, self.max_ttl)
        records = 1 + sum(len(rr) for rr in (*response.answer, *response.authority, *response.additional))
        if not ttl or ttl <= 0 or records > self.max_records:
            return
        self._drop(key)
        self._entries[key] = Entry(response, now, now + ttl, records)
        self.records += records
        while len(self._entries) > self.max_entries or self.records > self.max_records:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: tuple[str, int, int]) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self.records -= entry.records

    def get(self, key: tuple[str, int, int], now: float) -> tuple[dns.message.Message, int] | None:
        """The cached response and how many whole seconds it aged (subtract them from its TTLs)."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if now >= entry.expires:
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry.response, int(now - entry.stored)
