"""The node data plane's nftables writer: render -> observe -> plan -> apply -> verify.

Side effects: reads and writes only osdn's own tables (`inet osdn`, `bridge osdn`) in one network
namespace, through in-process libnftables (`osdn.kernel.nft`).

- Every change is one nft transaction: a failed apply changes nothing and the last good state stays.
- Level-triggered and idempotent: `sync` with an unchanged intent finds an empty plan and writes nothing.
- An element-level apply that fails (the kernel changed under us) is retried once as a full replace,
  as knftables/kube-proxy do; a failed verify raises `KernelError`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from osdn.errors import KernelError, ObjectRef
from osdn.kernel.nft import Nft
from osdn.node.intent import NodeIntent
from osdn.node.plan import Plan, plan
from osdn.node.render import render_node
from osdn.node.render.parse import parse_table
from osdn.node.render.ruleset import TABLE_NAME, Ruleset

log = logging.getLogger(__name__)

MANAGED_TABLES = (("inet", TABLE_NAME), ("bridge", TABLE_NAME))


@dataclass(frozen=True)
class SyncStats:
    """What one `sync` did."""

    replaced_tables: tuple[str, ...]
    elements_added: int
    elements_removed: int
    elements_total: int
    duration_s: float
    full_resync: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.replaced_tables or self.elements_added or self.elements_removed)


class Dataplane:
    """osdn's nftables state in network namespace `netns` (None: the process's own namespace)."""

    def __init__(self, netns: str | None, nft: Nft | None = None) -> None:
        self.netns = netns
        self.nft = nft or Nft(netns)

    def observe(self) -> Ruleset:
        """Read osdn's tables from the kernel (missing tables are absent from the result)."""
        tables = []
        for family, name in MANAGED_TABLES:
            objs = self.nft.list_table_json(family, name)
            if objs is not None:
                tables.append(parse_table(objs))
        return Ruleset(tuple(tables))

    def sync(self, intent: NodeIntent) -> SyncStats:
        """Make the kernel enforce `intent`; verify; return what was done."""
        start = time.perf_counter()
        desired = render_node(intent)  # a bad intent raises here, before the kernel is touched
        todo = plan(desired, self.observe())
        full = False
        if not todo.is_empty():  # an empty plan already proves the kernel matches: no re-read
            full = self._apply(todo, desired)
            self._verify(desired, intent)
        stats = SyncStats(tuple(f"{t.family} {t.name}" for t in todo.replace) or
                          (tuple(f"{f} {n}" for f, n in MANAGED_TABLES) if full else ()),
                          todo.elements_added(), todo.elements_removed(), desired.element_count(),
                          time.perf_counter() - start, full)
        log.info("nft sync node=%s netns=%s replaced=%s +%d -%d elements=%d in %.3fs",
                 intent.node_name, self.netns, ",".join(stats.replaced_tables) or "-",
                 stats.elements_added, stats.elements_removed, stats.elements_total, stats.duration_s)
        return stats

    def _verify(self, desired: Ruleset, intent: NodeIntent) -> None:
        left = plan(desired, self.observe())
        if not left.is_empty():
            raise KernelError(f"nft verify failed in netns {self.netns!r}: {_describe(left)} still to do",
                              ObjectRef(kind="Node", name=intent.node_name))

    def _apply(self, todo: Plan, desired: Ruleset) -> bool:
        """Apply `todo`; on failure of an element-only plan, replace everything. True if it did."""
        try:
            self.nft.run(todo.script())
            return False
        except KernelError as exc:
            if todo.replace and not (todo.add or todo.remove):
                raise
            log.warning("nft incremental apply failed in netns %s, doing a full resync: %s", self.netns, exc)
        self.nft.run(Plan(replace=desired.tables).script())
        return True

    def teardown(self) -> None:
        """Delete osdn's tables (nothing else)."""
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
            f"+{p.elements_added()} -{p.elements_removed()} elements")
