"""The node data plane's nftables writer: render -> plan -> apply (-> verify on full syncs).

Side effects: reads and writes only osdn's own tables (`inet osdn`, `bridge osdn`) in one network
namespace, through in-process libnftables (`osdn.kernel.nft`).

Two kinds of sync (knftables / kube-proxy nftables mode):
- **full**: observe the kernel (JSON listing of both tables), plan against what is there, apply,
  and verify (re-observe, the re-plan must be empty). The first sync (this is how a restarted agent
  adopts or repairs what it finds), any sync after a failure, and syncs the caller marks `full`
  (the agent's periodic resync, `--sync-period`) are full. A `full` sync is *checked* instead (a
  few microseconds) when the namespace's nftables generation (`nfgen`: bumped by every committed
  transaction, whoever commits it) is the one recorded when the kernel last matched our memory: then
  nothing can have changed osdn's tables, and the plan against memory is the plan against the kernel.
  The generation is recorded after a full sync and after every apply that was, provably, the only
  transaction since (the generation moved by exactly one); anything else forgets it, so the next
  `full` sync reads the kernel.
- **incremental**: render incrementally (`render.incremental`: only what the intent change touched;
  unchanged sets and chains are the same objects, which the plan skips), plan against the ruleset
  this object last applied, in memory, and apply just that delta; no kernel read. Listing 20k elements costs ~0.3 s; a plan against memory costs milliseconds. The
  trade-off: a change made to osdn's tables behind osdn's back is only seen (and undone) by the
  next full sync.
Guarantees either way:
- Every change is one nft transaction: a failed apply changes nothing and the last good state stays.
- Level-triggered and idempotent: `sync` with an unchanged intent plans nothing and writes nothing.
- A failed element-level apply (the kernel was not what we thought) is retried at once as a full
  replace of both tables, as knftables/kube-proxy do; any failure forgets the in-memory state, so the
  next sync is full. A failed verify raises `KernelError`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from osdn.errors import KernelError, ObjectRef
from osdn.kernel.nft import Nft, element_command
from osdn.node.intent import NodeIntent
from osdn.node.plan import Plan, plan
from osdn.node.render import render_node
from osdn.node.render.incremental import IncrementalRender, RenderCounts
from osdn.node.render.parse import parse_table
from osdn.node.render.ruleset import TABLE_NAME, Ruleset

log = logging.getLogger(__name__)

MANAGED_TABLES = (("inet", TABLE_NAME), ("bridge", TABLE_NAME))


@dataclass(frozen=True)
class SyncStats:
    """What one `sync` did. `chains_changed`: chains added, rewritten or deleted inside a table that
    was not replaced; `full_resync`: planned against the kernel (not memory) and verified;
    `fell_back`: an element-level apply failed and both tables were replaced instead."""

    replaced_tables: tuple[str, ...]
    elements_added: int
    elements_removed: int
    elements_total: int
    duration_s: float
    full_resync: bool = False
    fell_back: bool = False
    chains_changed: int = 0
    checked: bool = False  # a full sync answered by an unchanged nftables generation (no kernel read)
    rendered_parts: int = 0  # per-object parts (policies, service ports, pods) and chains rendered
    rendered_chains: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.replaced_tables or self.elements_added or self.elements_removed or self.chains_changed)


class Dataplane:
    """osdn's nftables state in network namespace `netns` (None: the process's own namespace).

    `sync` and `add_elements` (the egress firewall's DNS hold, from DNS server threads) serialize on
    `lock`. `overlay` (if set) adds run-time elements to every rendered ruleset, under that lock.
    """

    def __init__(self, netns: str | None, nft: Nft | None = None, incremental: bool = True) -> None:
        """`incremental=False`: render the whole ruleset every sync (`render_node`; benchmarks compare)."""
        self.netns = netns
        self.nft = nft or Nft(netns)
        self._applied: Ruleset | None = None  # what the kernel holds, as far as we know; None: unknown
        self._generation: int | None = None  # the nft generation at which the kernel held `_applied`
        self.renderer = IncrementalRender()
        self.incremental = incremental
        self.lock = threading.RLock()
        self.overlay: Callable[[Ruleset], Ruleset] | None = None

    def add_elements(self, family: str, elements: dict[str, tuple[str, ...]]) -> int:
        """Add `elements` (per set of osdn's `family` table) that the kernel does not hold yet, in one
        transaction, and remember them; sets that do not exist are skipped. The number added."""
        with self.lock:
            table = (self._applied or Ruleset()).by_id().get((family, TABLE_NAME))
            if table is None:
                return 0
            have = table.set_by_name()
            todo = {name: tuple(e for e in elems if e not in have[name].elements)
                    for name, elems in elements.items() if name in have}
            todo = {k: v for k, v in todo.items() if v}
            if not todo:
                return 0
            self._transaction("\n".join(element_command("add", family, TABLE_NAME, k, v) for k, v in todo.items()) + "\n")
            sets = tuple(replace(s, elements=s.elements | frozenset(todo.get(s.name, ()))) for s in table.sets)
            assert self._applied is not None
            self._applied = Ruleset(tuple(replace(t, sets=sets) if t is table else t for t in self._applied.tables))
            return sum(len(v) for v in todo.values())

    def observe(self) -> Ruleset:
        """Read osdn's tables from the kernel (missing tables are absent from the result)."""
        tables = []
        for family, name in MANAGED_TABLES:
            objs = self.nft.list_table_json(family, name)
            if objs is not None:
                tables.append(parse_table(objs))
        return Ruleset(tuple(tables))

    def sync(self, intent: NodeIntent, full: bool = False) -> SyncStats:
        """Make the kernel enforce `intent`; return what was done. `full`: plan against the kernel."""
        with self.lock:
            return self._sync(intent, full)

    def _sync(self, intent: NodeIntent, full: bool) -> SyncStats:
        start = time.perf_counter()
        # a bad intent raises here, before the kernel is touched
        desired = self.renderer.render(intent) if self.incremental else render_node(intent)
        counts = self.renderer.last if self.incremental else RenderCounts(full=True)
        if self.overlay is not None:
            desired = self.overlay(desired)
        checked = full and self._unchanged_since_applied()
        full = (full and not checked) or self._applied is None
        self._applied, applied = None, self._applied  # unknown until this sync succeeds
        generation, self._generation = self._generation, None
        if full:
            generation = self.nft.generation()
        base = self.observe() if full else applied
        assert base is not None
        todo = plan(desired, base)
        fell_back = False
        if not todo.is_empty():  # an empty plan needs no write, and (full) already proves the kernel matches
            fell_back = self._apply(todo, desired)
            generation = None if fell_back or generation is None else generation + 1
            if full or fell_back:
                self._verify(desired, intent)
        self._applied = desired
        self._generation = generation if generation is not None and self.nft.generation() == generation else None
        replaced = (tuple(f"{f} {n}" for f, n in MANAGED_TABLES) if fell_back
                    else tuple(f"{t.family} {t.name}" for t in todo.replace))
        stats = SyncStats(replaced, todo.elements_added(), todo.elements_removed(), desired.element_count(),
                          time.perf_counter() - start, full or fell_back, fell_back,
                          0 if fell_back else todo.chains_changed(), checked, counts.parts, counts.chains)
        log.info("nft sync node=%s netns=%s replaced=%s +%d -%d elements=%d chains=%d full=%s rendered=%d/%d in %.3fs",
                 intent.node_name, self.netns, ",".join(stats.replaced_tables) or "-", stats.elements_added,
                 stats.elements_removed, stats.elements_total, stats.chains_changed,
                 "yes" if stats.full_resync else "checked" if checked else "no", counts.parts, counts.chains,
                 stats.duration_s)
        return stats

    def _unchanged_since_applied(self) -> bool:
        """Whether no nft transaction was committed in the namespace since the kernel last matched memory."""
        return self._applied is not None and self._generation is not None and self.nft.generation() == self._generation

    def _transaction(self, script: str) -> None:
        """Run one transaction of ours; keep the recorded generation only if it was the only one since."""
        before, self._generation = self._generation, None
        self.nft.run(script)
        if before is not None and self.nft.generation() == before + 1:
            self._generation = before + 1

    def verify(self, intent: NodeIntent) -> None:
        """Raise `KernelError` unless the kernel holds exactly what `intent` renders to (reads the kernel)."""
        with self.lock:
            desired = render_node(intent)
            self._verify(desired if self.overlay is None else self.overlay(desired), intent)

    def _verify(self, desired: Ruleset, intent: NodeIntent) -> None:
        left = plan(desired, self.observe())
        if not left.is_empty():
            raise KernelError(f"nft verify failed in netns {self.netns!r}: {_describe(left)} still to do",
                              ObjectRef(kind="Node", name=intent.node_name))

    def _apply(self, todo: Plan, desired: Ruleset) -> bool:
        """Apply `todo`; if an element-level part fails, replace both tables. True if it did."""
        try:
            self.nft.run(todo.script())
            return False
        except KernelError as exc:
            if todo.is_replace_only():
                raise
            log.warning("nft element apply failed in netns %s, replacing osdn's tables: %s", self.netns, exc)
        self.nft.run(Plan(replace=desired.tables).script())
        return True

    def teardown(self) -> None:
        """Delete osdn's tables (nothing else)."""
        self._applied = self._generation = None
        for family, name in MANAGED_TABLES:
            self.nft.delete_table(family, name)

    def close(self) -> None:
        self.nft.close()

    def __enter__(self) -> Dataplane:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _describe(p: Plan) -> str:
    return (f"replace {[f'{t.family} {t.name}' for t in p.replace]}, delete {list(p.delete)}, "
            f"{p.chains_changed()} chains, +{p.elements_added()} -{p.elements_removed()} elements")
