"""Plan: the difference between the desired and the observed nftables state, as one nft script.

Pure. Per osdn table (knftables / kube-proxy nftables mode: chains rewritten, set elements diffed):
- missing, or its *head* differs (counters, set/map declarations, a base chain's hook, type or
  priority): replace the whole table (delete + recreate in the same transaction);
- same head: chain by chain, a chain whose rules (keys) or policy differ is flushed and its rules
  added again, a new chain is added, a chain no longer wanted is flushed and deleted; and set by set,
  element-level `delete element` / `add element` (a map entry whose value changed is deleted and
  re-added). So pod churn changes only elements, and a new policy rewrites one namespace's chain
  instead of reloading every element of the table;
- observed but not desired: delete the table.
The script orders its steps so each is valid in the one transaction: flushes, element deletes,
chain deletes (nothing refers to them any more), chain adds, rules, element adds (jumps to new
chains resolve).
Invariant (checked by tests and by `Dataplane` full syncs): after applying `plan(d, o)`,
`plan(d, observe())` is empty. `simulate` applies a plan to a `Ruleset` value, the kernel-free
model of that invariant.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from osdn.kernel.nft import element_command, range_key
from osdn.node.render.ruleset import Chain, Ruleset, Set, Table, chains_text, replace_script


@dataclass(frozen=True)
class ElementChange:
    """Elements (canonical nft text) to add to or remove from one set or map."""

    family: str
    table: str
    set: str
    elements: tuple[str, ...]
    concat_interval: bool = False  # a concatenated interval set: deletes name keys as ranges (`range_key`)

    def delete_keys(self) -> list[str]:
        keys = [_key(e) for e in self.elements]
        return [range_key(k) for k in keys] if self.concat_interval else keys


@dataclass(frozen=True)
class ChainChange:
    """A chain of one table to (re)write with its rules (`chain`), or to delete (`chain.rules` unused)."""

    family: str
    table: str
    chain: Chain


@dataclass(frozen=True)
class Plan:
    replace: tuple[Table, ...] = ()
    delete: tuple[tuple[str, str], ...] = ()
    remove: tuple[ElementChange, ...] = ()
    add: tuple[ElementChange, ...] = ()
    add_chains: tuple[ChainChange, ...] = ()  # new chains
    rewrite_chains: tuple[ChainChange, ...] = ()  # existing chains: flush, then these rules
    delete_chains: tuple[ChainChange, ...] = ()

    def is_empty(self) -> bool:
        return not (self.replace or self.delete or self.remove or self.add or self.chains_changed())

    def is_replace_only(self) -> bool:
        """Nothing but whole tables (re)created or deleted: nothing a full replace would do differently."""
        return not (self.remove or self.add or self.chains_changed())

    def elements_added(self) -> int:
        return sum(len(c.elements) for c in self.add)

    def elements_removed(self) -> int:
        return sum(len(c.elements) for c in self.remove)

    def chains_changed(self) -> int:
        return len(self.add_chains) + len(self.rewrite_chains) + len(self.delete_chains)

    def script(self) -> str:
        """The nft script doing the whole plan in one transaction (see the module doc for the order)."""
        parts = [f"delete table {f} {n}" for f, n in self.delete]
        if self.replace:
            parts.append(replace_script(self.replace))
        parts += [f"flush chain {c.family} {c.table} {c.chain.name}" for c in self.rewrite_chains + self.delete_chains]
        parts += [element_command("delete", c.family, c.table, c.set, c.delete_keys()) for c in self.remove]
        parts += [f"delete chain {c.family} {c.table} {c.chain.name}" for c in self.delete_chains]
        written = self.add_chains + self.rewrite_chains
        for family, table in sorted({(c.family, c.table) for c in written}):
            news = [c.chain for c in self.add_chains if (c.family, c.table) == (family, table)]
            if news:  # declared empty first, so rules may jump to any of them
                parts.append(chains_text(family, table, [replace(c, rules=()) for c in news]))
            parts.append(chains_text(family, table, [c.chain for c in written if (c.family, c.table) == (family, table)]))
        parts += [element_command("add", c.family, c.table, c.set, c.elements) for c in self.add]
        return "\n".join(p.rstrip("\n") for p in parts) + "\n"


def _key(elem: str) -> str:
    """A map element is deleted by its key alone."""
    return elem.split(" : ", 1)[0]


def plan(desired: Ruleset, observed: Ruleset) -> Plan:
    """Pure: what to do to turn `observed` into `desired`."""
    have = observed.by_id()
    want = desired.by_id()
    repl: list[Table] = []
    removes: list[ElementChange] = []
    adds: list[ElementChange] = []
    chain_ops: tuple[list[ChainChange], list[ChainChange], list[ChainChange]] = ([], [], [])
    for tid, table in want.items():
        old = have.get(tid)
        if old is None or _head(old) != _head(table):
            repl.append(table)
            continue
        for ops, found in zip(chain_ops, _chain_diff(table, old), strict=True):
            ops.extend(found)
        r, a = _element_diff(table, old)
        removes += r
        adds += a
    delete = tuple(sorted(tid for tid in have if tid not in want))
    added, rewritten, deleted = chain_ops
    return Plan(tuple(repl), delete, tuple(removes), tuple(adds), tuple(added), tuple(rewritten), tuple(deleted))


def _head(t: Table) -> tuple[object, ...]:
    """What only a table replace can change: counters, set declarations, base chains' hooks."""
    hooks = sorted((c.name, c.hook, c.type, c.prio) for c in t.chains if c.hook)
    return t.family, t.name, tuple(sorted(t.counters)), tuple(sorted(s.shape() for s in t.sets)), tuple(hooks)


def _chain_diff(want: Table, have: Table) -> tuple[list[ChainChange], list[ChainChange], list[ChainChange]]:
    old = {c.name: c for c in have.chains}
    new = {c.name: c for c in want.chains}
    added = [ChainChange(want.family, want.name, c) for name, c in sorted(new.items()) if name not in old]
    rewritten = [ChainChange(want.family, want.name, c) for name, c in sorted(new.items())
                 if name in old and c.shape() != old[name].shape()]
    deleted = [ChainChange(want.family, want.name, c) for name, c in sorted(old.items()) if name not in new]
    return added, rewritten, deleted


def _element_diff(want: Table, have: Table) -> tuple[list[ElementChange], list[ElementChange]]:
    old_sets = have.set_by_name()
    removes, adds = [], []
    for s in sorted(want.sets, key=lambda s: s.name):
        old = old_sets[s.name].elements
        gone = old - s.elements
        new = s.elements - old  # a map entry with a new value: old one removed by key, new one added
        if gone:
            concat_interval = "interval" in s.flags and len(s.type) > 1
            removes.append(ElementChange(want.family, want.name, s.name, tuple(sorted(gone)), concat_interval))
        if new:
            adds.append(ElementChange(want.family, want.name, s.name, tuple(sorted(new))))
    return removes, adds


def simulate(observed: Ruleset, p: Plan) -> Ruleset:
    """Pure: the state the kernel would hold after applying `p` to `observed`."""
    tables = {tid: t for tid, t in observed.by_id().items() if tid not in p.delete}
    for t in p.replace:
        tables[(t.family, t.name)] = t
    for c in p.delete_chains:
        t = tables[(c.family, c.table)]
        tables[(c.family, c.table)] = replace(t, chains=tuple(x for x in t.chains if x.name != c.chain.name))
    for c in p.add_chains + p.rewrite_chains:
        t = tables[(c.family, c.table)]
        kept = tuple(x for x in t.chains if x.name != c.chain.name)
        tables[(c.family, c.table)] = replace(t, chains=(*kept, c.chain))
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
