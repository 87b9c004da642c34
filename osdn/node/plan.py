"""Plan: the difference between the desired and the observed nftables state, as one nft script.

Pure. Per osdn table (knftables / kube-proxy nftables mode: chains rewritten, set elements diffed):
- missing, or its *head* differs (counters, set/map declarations, a base chain's hook, type or
  priority): replace the whole table (delete + recreate in the same transaction);
- same head (a set or map that is new or no longer wanted does not change the head: it is declared,
  empty, before the rules that use it, or deleted after the chains that used it are gone): chain by chain, a chain whose rules (keys) or policy differ is flushed and its rules
  added again, a new chain is added, a chain no longer wanted is flushed and deleted; and set by set,
  element-level `delete element` / `add element` (a map entry whose value changed is deleted and
  re-added). So pod churn changes only elements, and a new policy rewrites one namespace's chain
  instead of reloading every element of the table;
- observed but not desired: delete the table.
A set with the `dynamic` or `timeout` flag is filled by the packet path (`update @set`), not by osdn:
its elements are never diffed (a full sync must not forget the clients' session affinity). (nft
1.0.6 lists such a set's flags as `timeout` alone.)
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
from osdn.node.render.ruleset import (
    Chain,
    Ruleset,
    Set,
    Table,
    chains_text,
    replace_script,
    set_delta,
    sets_text,
)

PACKET_PATH_FLAGS = frozenset({"dynamic", "timeout"})


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
class SetChange:
    """A set or map of one table to declare (empty; its elements are an `ElementChange`) or delete."""

    family: str
    table: str
    set: Set

    @property
    def kind(self) -> str:
        return "map" if self.set.map_to else "set"


@dataclass(frozen=True)
class Plan:
    replace: tuple[Table, ...] = ()
    delete: tuple[tuple[str, str], ...] = ()
    remove: tuple[ElementChange, ...] = ()
    add: tuple[ElementChange, ...] = ()
    add_chains: tuple[ChainChange, ...] = ()  # new chains
    rewrite_chains: tuple[ChainChange, ...] = ()  # existing chains: flush, then these rules
    delete_chains: tuple[ChainChange, ...] = ()
    add_sets: tuple[SetChange, ...] = ()  # new sets/maps: declared empty, elements come with `add`
    delete_sets: tuple[SetChange, ...] = ()

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
        return (len(self.add_chains) + len(self.rewrite_chains) + len(self.delete_chains)
                + len(self.add_sets) + len(self.delete_sets))

    def script(self) -> str:
        """The nft script doing the whole plan in one transaction (see the module doc for the order)."""
        parts = [f"delete table {f} {n}" for f, n in self.delete]
        if self.replace:
            parts.append(replace_script(self.replace))
        parts += [f"flush chain {c.family} {c.table} {c.chain.name}" for c in self.rewrite_chains + self.delete_chains]
        parts += [element_command("delete", c.family, c.table, c.set, c.delete_keys()) for c in self.remove]
        parts += [f"delete chain {c.family} {c.table} {c.chain.name}" for c in self.delete_chains]
        parts += [f"delete {c.kind} {c.family} {c.table} {c.set.name}" for c in self.delete_sets]
        parts += [sets_text(c.family, c.table, [replace(c.set, elements=frozenset())]) for c in self.add_sets]
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
    set_adds: list[SetChange] = []
    set_deletes: list[SetChange] = []
    chain_ops: tuple[list[ChainChange], list[ChainChange], list[ChainChange]] = ([], [], [])
    for tid, table in want.items():
        old = have.get(tid)
        if old is None or _head(old) != _head(table) or _sets_reshaped(table, old):
            repl.append(table)
            continue
        for ops, found in zip(chain_ops, _chain_diff(table, old), strict=True):
            ops.extend(found)
        r, a = _element_diff(table, old)
        removes += r
        adds += a
        new_sets, gone_sets = _set_diff(table, old)
        set_adds += new_sets
        set_deletes += gone_sets
    delete = tuple(sorted(tid for tid in have if tid not in want))
    added, rewritten, deleted = chain_ops
    return Plan(tuple(repl), delete, tuple(removes), tuple(adds), tuple(added), tuple(rewritten), tuple(deleted),
                tuple(set_adds), tuple(set_deletes))


def _head(t: Table) -> tuple[object, ...]:
    """What only a table replace can change: counters, base chains' hooks (set declarations: see
    `_sets_reshaped`; a set that is only added or deleted is declared or deleted in place)."""
    hooks = sorted((c.name, c.hook, c.type, c.prio) for c in t.chains if c.hook)
    return t.family, t.name, tuple(sorted(t.counters)), tuple(hooks)


def _sets_reshaped(want: Table, have: Table) -> bool:
    """Whether a set both tables declare changed its type, flags or map type."""
    old = have.set_by_name()
    return any(s.name in old and s.shape() != old[s.name].shape() for s in want.sets)


def _set_diff(want: Table, have: Table) -> tuple[list[SetChange], list[SetChange]]:
    old, new = have.set_by_name(), want.set_by_name()
    return ([SetChange(want.family, want.name, s) for n, s in sorted(new.items()) if n not in old],
            [SetChange(want.family, want.name, s) for n, s in sorted(old.items()) if n not in new])


def _chain_diff(want: Table, have: Table) -> tuple[list[ChainChange], list[ChainChange], list[ChainChange]]:
    old = {c.name: c for c in have.chains}
    new = {c.name: c for c in want.chains}
    # sorted by name after filtering: a sync changes few of (at 10k services) ~30k chains
    added = [ChainChange(want.family, want.name, new[n]) for n in sorted(new.keys() - old.keys())]
    rewritten = [ChainChange(want.family, want.name, c) for n, c in new.items()
                 if n in old and c is not old[n] and c.shape() != old[n].shape()]
    deleted = [ChainChange(want.family, want.name, old[n]) for n in sorted(old.keys() - new.keys())]
    return added, sorted(rewritten, key=lambda c: c.chain.name), deleted


def _element_diff(want: Table, have: Table) -> tuple[list[ElementChange], list[ElementChange]]:
    old_sets = have.set_by_name()
    removes, adds = [], []
    for s in sorted(want.sets, key=lambda s: s.name):
        if PACKET_PATH_FLAGS & set(s.flags):
            continue  # filled by the packet path (e.g. service session affinity): never diffed
        old = old_sets[s.name].elements if s.name in old_sets else frozenset()
        if old is s.elements:
            continue  # the same object (an incremental render hands back what did not change): nothing to diff
        gone, new = set_delta(s.elements, old)  # a map entry with a new value: old one removed by key, new one added
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
    for sc in p.delete_sets:
        t = tables[(sc.family, sc.table)]
        tables[(sc.family, sc.table)] = replace(t, sets=tuple(x for x in t.sets if x.name != sc.set.name))
    for sc in p.add_sets:
        t = tables[(sc.family, sc.table)]
        tables[(sc.family, sc.table)] = replace(t, sets=(*t.sets, replace(sc.set, elements=frozenset())))
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
