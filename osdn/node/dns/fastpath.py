"""Answers by the query's exact bytes: the UDP fast path of the node DNS server (pure: `now` is passed).

A query whose bytes after the id (flags, counts, question with its letter case, EDNS record) equal
those of one answered before gets the same answer bytes with its own id, without parsing. That is
safe for hostile input: the bytes are identical to a query that was parsed and checked, and the id
is not part of any check. An entry stays valid while the zone is unchanged (`generation`, bumped by
every watch event the zone applies) and, for a forwarded answer, at most `FORWARDED_LIFETIME`
seconds (so the TTLs a client sees are at most that much too high) and never past its own smallest
TTL. At most `max_entries` and `max_bytes` of queries and answers (a query may carry 64 KiB of EDNS
options, and a client may ask for 64 KiB UDP answers); when full the table starts afresh (no eviction
bookkeeping per query).
"""

from __future__ import annotations

from dataclasses import dataclass

FORWARDED_LIFETIME = 1.0
MAX_ENTRIES = 10_000
MAX_BYTES = 16 << 20


@dataclass(frozen=True)
class _Entry:
    answer: bytes  # the answer without its first two bytes (the id)
    generation: int | None  # None: a forwarded answer, valid whatever the zone does
    expires: float  # float("inf") for zone answers


class FastPath:
    def __init__(self, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES) -> None:
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._entries: dict[bytes, _Entry] = {}
        self.bytes = 0  # of the queries and answers held

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, query: bytes, generation: int, now: float) -> bytes | None:
        """The answer to `query` (with its id), or None."""
        entry = self._entries.get(query[2:])
        if entry is None or now >= entry.expires or entry.generation not in (None, generation):
            return None
        return query[:2] + entry.answer

    def put(self, query: bytes, answer: bytes, generation: int | None, expires: float) -> None:
        old = self._entries.pop(query[2:], None)
        if old is not None:
            self.bytes -= len(query) + 2 + len(old.answer)
        size = len(query) + len(answer)
        if len(self._entries) >= self.max_entries or self.bytes + size > self.max_bytes:
            self._entries, self.bytes = {}, 0
        self._entries[query[2:]] = _Entry(answer[2:], generation, expires)
        self.bytes += size
