"""The rendered nftables state of one node, as data, and its nft script text.

Pure. A `Ruleset` is a tuple of `Table`s; each table has named counters, sets/maps (with elements in
canonical nft text form) and chains (rule text). The same types describe what is *observed* in the
kernel (see `render.parse`), so the plan is a comparison of two values of one type.

Canonical element text is the identity of an element: render and parse must produce identical text
for identical kernel elements (single ports as `80`, /32 as a bare address, ifnames quoted, MACs in
lower case, map elements as `key : value`).

Rules carry a comment with a hash of their own text. nft's JSON shows the comment but not our text,
so comparing rule keys is how the plan detects changed, missing or reordered rules.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

TABLE_NAME = "osdn"


class DerivedSet(frozenset[str]):
    """Set elements that know how they differ from the set they were derived from (`base`): the
    elements `gone` from it and `new` in it. The plan diffs a set against exactly its base by these
    instead of comparing 30k elements (`set_delta`); the incremental render's unions hand them out.
    Deriving the next set drops this one's link (`derive_set`), so no chain of old sets stays alive."""

    base: frozenset[str] | None = None
    gone: frozenset[str] = frozenset()
    new: frozenset[str] = frozenset()


def derive_set(items: Iterable[str], base: frozenset[str], gone: frozenset[str], new: frozenset[str]) -> DerivedSet:
    if isinstance(base, DerivedSet):
        base.base, base.gone, base.new = None, frozenset(), frozenset()
    out = DerivedSet(items)
    out.base, out.gone, out.new = base, gone, new
    return out


def set_delta(elements: frozenset[str], old: frozenset[str]) -> tuple[frozenset[str], frozenset[str]]:
    """Pure: (elements gone, elements new) from `old` to `elements`."""
    if isinstance(elements, DerivedSet) and elements.base is not None and elements.base is old:
        return elements.gone, elements.new
    return old - elements, elements - old


def rule_key(text: str) -> str:
    """Pure: the short content hash written as the rule's comment."""
    return "osdn:" + hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Set:
    """A named set (or a map, when `map_to` is set). `type` has one entry per concatenated field."""

    name: str
    type: tuple[str, ...]
    elements: frozenset[str] = frozenset()
    flags: tuple[str, ...] = ()
    map_to: str | None = None

    def shape(self) -> tuple[object, ...]:
        """Everything except the elements: a change here needs the set recreated."""
        return (self.name, self.type, tuple(sorted(self.flags)), self.map_to)


@dataclass(frozen=True)
class Chain:
    """A chain; base chains have `hook` (with `type`, numeric `prio` and `policy`).

    `rules` holds rule text when rendered, or rule keys when observed; compare with `rule_keys()`.
    """

    name: str
    rules: tuple[str, ...] = ()
    hook: str | None = None
    type: str = "filter"
    prio: int = 0
    policy: str = "accept"
    observed: bool = False

    def rule_keys(self) -> tuple[str, ...]:
        return self.rules if self.observed else tuple(rule_key(r) for r in self.rules)

    def shape(self) -> tuple[object, ...]:
        base = (self.hook, self.type, self.prio, self.policy) if self.hook else None
        return (self.name, base, self.rule_keys())


@dataclass(frozen=True)
class Table:
    """One nft table owned by osdn."""

    family: str
    name: str = TABLE_NAME
    counters: tuple[str, ...] = ()
    sets: tuple[Set, ...] = ()
    chains: tuple[Chain, ...] = ()

    def shape(self) -> tuple[object, ...]:
        """Everything but set elements, order-insensitive for sets, counters and chains."""
        return (self.family, self.name, tuple(sorted(self.counters)),
                tuple(sorted(s.shape() for s in self.sets)),
                tuple(sorted((c.shape() for c in self.chains), key=repr)))

    def set_by_name(self) -> dict[str, Set]:
        return {s.name: s for s in self.sets}


@dataclass(frozen=True)
class Ruleset:
    """All osdn tables of one node."""

    tables: tuple[Table, ...] = field(default_factory=tuple)

    def by_id(self) -> dict[tuple[str, str], Table]:
        return {(t.family, t.name): t for t in self.tables}

    def element_count(self) -> int:
        return sum(len(s.elements) for t in self.tables for s in t.sets)


def _set_text(s: Set) -> list[str]:
    kind = "map" if s.map_to else "set"
    typ = " . ".join(s.type) + (f" : {s.map_to}" if s.map_to else "")
    lines = [f"\t{kind} {s.name} {{", f"\t\ttype {typ}"]
    if s.flags:
        lines.append(f"\t\tflags {', '.join(s.flags)}")
    if s.elements:
        lines.append("\t\telements = { " + ",\n\t\t\t".join(sorted(s.elements)) + " }")
    lines.append("\t}")
    return lines


def _chain_text(c: Chain) -> list[str]:
    lines = [f"\tchain {c.name} {{"]
    if c.hook:
        lines.append(f"\t\ttype {c.type} hook {c.hook} priority {c.prio}; policy {c.policy};")
    lines.extend(f'\t\t{r} comment "{rule_key(r)}"' for r in c.rules)
    lines.append("\t}")
    return lines


def table_text(t: Table) -> str:
    """Pure: `table FAMILY NAME { ... }` with every counter, set (with elements) and chain."""
    lines = [f"table {t.family} {t.name} {{"]
    lines.extend(f"\tcounter {name} {{ }}" for name in t.counters)
    for s in t.sets:
        lines.extend(_set_text(s))
    for c in t.chains:
        lines.extend(_chain_text(c))
    lines.append("}")
    return "\n".join(lines)


def chains_text(family: str, table: str, chains: Iterable[Chain]) -> str:
    """Pure: a table block that declares `chains` (base chains with their hook line) and appends their
    rules; on a chain that exists and was flushed, that is its new rule list."""
    lines = [f"table {family} {table} {{"]
    for c in chains:
        lines.extend(_chain_text(c))
    lines.append("}")
    return "\n".join(lines)


def sets_text(family: str, table: str, sets: Iterable[Set]) -> str:
    """Pure: a table block that declares `sets` (with their elements, if any)."""
    lines = [f"table {family} {table} {{"]
    for s in sets:
        lines.extend(_set_text(s))
    lines.append("}")
    return "\n".join(lines)


def replace_script(tables: Iterable[Table]) -> str:
    """Pure: a script that atomically (re)creates `tables` from scratch (one transaction)."""
    parts = []
    for t in tables:
        parts.append(f"add table {t.family} {t.name}\ndelete table {t.family} {t.name}")
        parts.append(table_text(t))
    return "\n".join(parts) + "\n"


def ruleset_text(rs: Ruleset) -> str:
    """Pure: the whole ruleset as an nft script that replaces whatever osdn tables exist."""
    return replace_script(rs.tables)
