"""The reachability heat map's data: the model's pod matrix as a grid of cells, pod by pod or
aggregated project by project, with an `osdn adm verify` report overlaid.

Pure. A cell counts the ordered pairs of distinct pods it covers (`total`) and how many of them the
model allows (`allowed`): at pod level a cell is one pair (or the diagonal, total 0); at project level
it is every pair between the two projects. Pods are sorted by key (namespace first) in the model, so
a project's pods are one contiguous run of the matrix and a project cell is a sum of row slices.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from osdn.errors import FieldError, ValidationError
from osdn.model.matrix import Matrix

POD, PROJECT, AUTO = "pod", "project", "auto"
LEVELS = (AUTO, POD, PROJECT)
POD_LEVEL_LIMIT = 150  # above this many pods, "auto" aggregates by project; a pod grid never exceeds it


@dataclass(frozen=True)
class Mark:
    """What `adm verify` found for the pairs of one cell."""

    agree: int = 0
    disagree: int = 0
    failed: int = 0


@dataclass(frozen=True)
class Grid:
    protocol: str
    port: int
    level: str                      # POD or PROJECT
    rows: tuple[str, ...]           # pod keys or project names (sources)
    cols: tuple[str, ...]           # destinations
    allowed: tuple[tuple[int, ...], ...]
    total: tuple[tuple[int, ...], ...]
    scope: tuple[str, str] | None = None   # (source project, destination project) of a drill-down
    marks: Mapping[tuple[int, int], Mark] = field(default_factory=dict)

    def summary(self) -> tuple[int, int]:
        """(allowed, total) over every cell."""
        return sum(map(sum, self.allowed)), sum(map(sum, self.total))


def invalid(path: str, message: str) -> ValidationError:
    """A 422 naming the request field: `level: "x": must be one of ...`."""
    return ValidationError(f"{path}: {message}", causes=[FieldError(path, message)])


def _project(key: str) -> str:
    return key.split("/", 1)[0]


def _runs(keys: Sequence[str]) -> list[tuple[str, int, int]]:
    """(project, start, end) runs of consecutive keys of one project."""
    runs: list[tuple[str, int, int]] = []
    for n, key in enumerate(keys):
        project = _project(key)
        if runs and runs[-1][0] == project:
            runs[-1] = (project, runs[-1][1], n + 1)
        else:
            runs.append((project, n, n + 1))
    return runs


def compute_grid(matrix: Matrix, level: str = AUTO, scope: tuple[str, str] | None = None,
                 limit: int = POD_LEVEL_LIMIT) -> Grid:
    """The grid of `matrix` at `level`; `scope` restricts a pod grid to (source, destination) projects."""
    if level not in LEVELS:
        raise invalid("level", f'"{level}": must be one of {", ".join(LEVELS)}')
    keys = matrix.pods
    rows = list(range(len(keys)))
    cols = list(rows)
    if scope is not None:
        rows = [n for n in rows if _project(keys[n]) == scope[0]]
        cols = [n for n in cols if _project(keys[n]) == scope[1]]
        level = POD
    if level == AUTO:
        level = POD if len(keys) <= limit else PROJECT
    if level == PROJECT:
        return _project_grid(matrix, scope)
    if max(len(rows), len(cols)) > limit:
        what = f"projects {scope[0]} -> {scope[1]}" if scope else "the cluster"
        raise invalid("level", f"pod: {what} has {max(len(rows), len(cols))} pods, more than the {limit} a "
                               "pod grid shows; use level project and drill down")
    allowed = tuple(tuple(int(matrix.allowed[a][b]) for b in cols) for a in rows)
    total = tuple(tuple(int(a != b) for b in cols) for a in rows)
    return Grid(matrix.protocol, matrix.port, POD, tuple(keys[n] for n in rows), tuple(keys[n] for n in cols),
                allowed, total, scope)


def _project_grid(matrix: Matrix, scope: tuple[str, str] | None) -> Grid:
    runs = _runs(matrix.pods)
    allowed_rows, total_rows = [], []
    for _, r0, r1 in runs:
        size = r1 - r0
        allowed_rows.append(tuple(sum(sum(matrix.allowed[a][c0:c1]) for a in range(r0, r1)) for _, c0, c1 in runs))
        total_rows.append(tuple(size * (c1 - c0) - (size if c0 == r0 else 0) for _, c0, c1 in runs))
    names = tuple(p for p, _, _ in runs)
    return Grid(matrix.protocol, matrix.port, PROJECT, names, names, tuple(allowed_rows), tuple(total_rows), scope)


def overlay_verify(grid: Grid, report: Mapping[str, Any]) -> Grid:
    """`grid` with the results of an `osdn adm verify -o json` report for its port counted per cell
    (pairs outside the grid, other ports or protocols are ignored)."""
    if str(report.get("protocol") or "TCP").upper() != grid.protocol:
        return grid
    key = (lambda k: k) if grid.level == POD else _project
    row_of = {k: n for n, k in enumerate(grid.rows)}
    col_of = {k: n for n, k in enumerate(grid.cols)}
    counts: dict[tuple[int, int], list[int]] = {}
    for result in _results(report.get("results")):
        if result.get("port") != grid.port:
            continue
        r, c = row_of.get(key(str(result.get("from")))), col_of.get(key(str(result.get("to"))))
        if r is None or c is None:
            continue
        kernel = result.get("kernel") or {}
        slot = 2 if kernel.get("outcome") == "error" else 0 if result.get("agrees") else 1
        counts.setdefault((r, c), [0, 0, 0])[slot] += 1
    return Grid(grid.protocol, grid.port, grid.level, grid.rows, grid.cols, grid.allowed, grid.total,
                grid.scope, {cell: Mark(*n) for cell, n in counts.items()})


def _results(value: object) -> Iterable[Mapping[str, Any]]:
    if not isinstance(value, list):
        raise invalid("verify.results", "must be a list (the output of osdn adm verify -o json)")
    return [r for r in value if isinstance(r, dict)]


def grid_to_dict(grid: Grid) -> dict[str, Any]:
    """JSON-ready form (what /console/api/reachability answers, next to the SVG)."""
    ok, total = grid.summary()
    return {
        "probe": {"protocol": grid.protocol, "port": grid.port}, "level": grid.level,
        "scope": {"from": grid.scope[0], "to": grid.scope[1]} if grid.scope else None,
        "rows": list(grid.rows), "cols": list(grid.cols),
        "allowed": [list(r) for r in grid.allowed], "total": [list(r) for r in grid.total],
        "summary": {"allowed": ok, "total": total},
        "verify": [{"row": r, "col": c, "agree": m.agree, "disagree": m.disagree, "failed": m.failed}
                   for (r, c), m in sorted(grid.marks.items())],
    }
