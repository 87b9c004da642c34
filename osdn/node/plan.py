"""Plan: the difference between the desired and the observed nftables state, as one nft script.

Pure. Per osdn table:
- missing, or its shape (counters, set/map declarations, chains and their rule keys) differs:
  replace the whole table (delete + recreate in the same transaction);
- same shape: element-level `delete element` / `add element` per set or map (pod churn never
  re-renders chains). A map entry whose value changed is deleted and re-added;
- observed but not desired: delete the table.
Invariant (checked by tests and by `Dataplane.sync`): after applying `plan(d, o)`, `plan(d, observe())`
is empty. `simulate` applies a plan to a `Ruleset` value, the kernel-free model of that invariant.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from osdn.kernel.nft import element_command
from osdn.node.render.ruleset import Ruleset, Set, Table, replace_script


@dataclass(frozen=True)
class ElementChange:
    """Elements (canonical nft text) to add to or remove from one set or map."""

    family: str
    table: str
    set: str
    elements: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    replace: tuple[Table, ...] = ()
    delete: tuple[tuple[str, str], ...] = ()
    remove: tuple[ElementChange, ...] = ()
    add: tuple[ElementChange, ...] = ()

    def is_empty(self) -> bool:
        return not (self.replace or self.delete or self.remove or self.add)

    def elements_added(self) -> int:
        return sum(len(c.elements) for c in self.add)

    def elements_removed(self) -> int:
        return sum(len(c.elements) for c in self.remove)

    def script(self) -> str:
        """The nft script doing the whole plan in one transaction (deletes before adds)."""
        parts = [f"delete table {f} {n}" for f, n in self.delete]
        if self.replace:
            parts.append(replace_script(self.replace))
        parts += [element_command("delete", c.family, c.table, c.set, [_key(e) for e in c.elements])
                  for c in self.remove]
        parts += [element_command("add", c.family, c.table, c.set, c.elements) for c in self.add]
        return "\n".join(p.rstrip("\n") for p in parts) + "\n"


def _key(elem: str) -> str:
    """A map element is deleted by its key alone."""
    return elem.split(" : ", 1)[0]


def plan(desired: Ruleset, observed: Ruleset) -> Plan:
    """Pure: what to do to turn `observed` into `desired`."""
    have = observed.by_id()
    want = desired.by_id()
    repl, removes, adds = [], [], []
    for tid, table in want.items():
        old = have.get(tid)
        if old is None or old.shape() != table.shape():
            repl.append(table)
            continue
        r, a = _element_diff(table, old)
        removes += r
        adds += a
    delete = tuple(sorted(tid for tid in have if tid not in want))
    return Plan(tuple(repl), delete, tuple(removes), tuple(adds))


def _element_diff(want: Table, have: Table) -> tuple[list[ElementChange], list[ElementChange]]:
    old_sets = have.set_by_name()
    removes, adds = [], []
    for s in sorted(want.sets, key=lambda s: s.name):
        old = old_sets[s.name].elements
        gone = old - s.elements
        new = s.elements - old  # a map entry with a new value: old one removed by key, new one added
        if gone:
            removes.append(ElementChange(want.family, want.name, s.name, tuple(sorted(gone))))
        if new:
            adds.append(ElementChange(want.family, want.name, s.name, tuple(sorted(new))))
    return removes, adds


def simulate(observed: Ruleset, p: Plan) -> Ruleset:
    """Pure: the state the kernel would hold after applying `p` to `observed`."""
    tables = {tid: t for tid, t in observed.by_id().items() if tid not in p.delete}
    for t in p.replace:
        tables[(t.family, t.name)] = t
    for change, sign in [(c, -1) for c in p.remove] + [(c, 1) for c in p.add]:
        t = tables[(change.family, change.table)]
        tables[(t.family, t.name)] = replace(t, sets=tuple(
            _change_set(s, change, sign) if s.name == change.set else s for s in t.sets))
    return Ruleset(tuple(tables[k] for k in sorted(tables)))


def _change_set(s: Set, change: ElementChange, sign: int) -> Set:
    if sign > 0:
        return replace(s, elements=s.elements | set(change.elements))
    keys = {_key(e) for e in change.elements}
    return replace(s, elements=frozenset(e for e in s.elements if _key(e) not in keys))
