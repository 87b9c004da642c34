"""The reachability heat map drawn as SVG, and as a standalone HTML page (`osdn adm reachability
-o svg|html`; the console shows the same SVG).

Pure: a `Grid` in, text out. Rows are sources, columns destinations, numbered as in the text matrix
(`render_matrix_table`). A cell's colour is the share of its pairs the model allows, from red (none)
through amber to green (all); grey is the diagonal of a pod grid (no pair). `adm verify` results on a
cell add a mark: a dot when the kernel agreed on every pair, `!` when it disagreed on one, `E` when a
probe failed. Every cell carries `data-*` attributes (the console's drill-down reads them) and, up
to `TITLE_CELLS` cells, a `<title>` tooltip; all text is escaped.
"""

from __future__ import annotations

from html import escape

from osdn.console.grid import POD, Grid, Mark

RED, AMBER, GREEN, GREY = (192, 57, 43), (230, 162, 60), (39, 174, 96), "#e3e3e3"
MAX_SIDE = 720       # px the cells take at most per side
MAX_CELL, MIN_CELL = 26, 4
LABEL_CHAR = 7       # px per label character (12px sans-serif)
TITLE_CELLS = 2500   # above this many cells no per-cell <title> (the console shows the hovered cell itself)


def heat_colour(allowed: int, total: int) -> str:
    """`#rrggbb` for the share `allowed/total` (grey when the cell holds no pair)."""
    if total <= 0:
        return GREY
    share = allowed / total
    lo, hi, t = (RED, AMBER, share * 2) if share <= 0.5 else (AMBER, GREEN, share * 2 - 1)
    return "#" + "".join(f"{round(a + (b - a) * t):02x}" for a, b in zip(lo, hi, strict=True))


def cell_size(count: int) -> int:
    return max(MIN_CELL, min(MAX_CELL, MAX_SIDE // max(count, 1)))


def _label(n: int, name: str) -> str:
    return f"{n} {name}"


def _mark(mark: Mark | None, x: float, y: float, size: int) -> str:
    if mark is None or size < 8:
        return ""
    text, cls = ("!", "disagree") if mark.disagree else ("E", "failed") if mark.failed else ("\u2022", "agree")
    return (f'<text class="mark {cls}" x="{x + size / 2:.1f}" y="{y + size * 0.72:.1f}" text-anchor="middle" '
            f'font-size="{max(8, size - 6)}" font-weight="bold">{text}</text>')


def _cell_title(grid: Grid, r: int, c: int, mark: Mark | None) -> str:
    allowed, total = grid.allowed[r][c], grid.total[r][c]
    head = f"{grid.rows[r]} -> {grid.cols[c]} {grid.protocol}/{grid.port}"
    if total == 0:
        body = "self"
    elif grid.level == POD:
        body = "allowed" if allowed else "denied"
    else:
        body = f"{allowed} of {total} pod pairs allowed"
    if mark is not None:
        body += f"; verify: {mark.agree} agree, {mark.disagree} disagree, {mark.failed} failed"
    return escape(f"{head}: {body}")


def render_grid_svg(grid: Grid, titles: bool | None = None) -> str:
    """The heat map as one `<svg>` element; per-cell `<title>`s up to TITLE_CELLS cells unless `titles`
    says otherwise (a standalone file has nothing else to show a cell's numbers)."""
    size = cell_size(max(len(grid.rows), len(grid.cols)))
    label_w = (max((len(_label(n, k)) for n, k in enumerate(grid.rows, 1)), default=4) * LABEL_CHAR + 8
               if size >= 10 else 8)
    top = 22 if size >= 14 else 8
    width, height = label_w + size * len(grid.cols) + 4, top + size * len(grid.rows) + 4
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="heatmap" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" data-level="{grid.level}" font-family="sans-serif" font-size="12">']
    if top > 8:
        parts += [f'<text x="{label_w + size * c + size / 2:.1f}" y="{top - 6}" text-anchor="middle" '
                  f'font-size="{min(11, size - 3)}">{c + 1}</text>' for c in range(len(grid.cols))]
    if titles is None:
        titles = len(grid.rows) * len(grid.cols) <= TITLE_CELLS
    for r, row in enumerate(grid.rows):
        y = top + size * r
        if size >= 10:
            parts.append(f'<text x="4" y="{y + size * 0.72:.1f}" font-size="{min(12, size - 2)}">'
                         f'{escape(_label(r + 1, row))}</text>')
        for c, col in enumerate(grid.cols):
            x, mark = label_w + size * c, grid.marks.get((r, c))
            allowed, total = grid.allowed[r][c], grid.total[r][c]
            title = f"<title>{_cell_title(grid, r, c, mark)}</title>" if titles else ""
            parts.append(f'<g class="cell" data-from="{escape(row)}" data-to="{escape(col)}" '
                         f'data-allowed="{allowed}" data-total="{total}">{title}'
                         f'<rect x="{x}" y="{y}" width="{size - 1}" height="{size - 1}" '
                         f'fill="{heat_colour(allowed, total)}"/>{_mark(mark, x, y, size)}</g>')
    parts.append("</svg>")
    return "".join(parts)


def render_grid_html(grid: Grid, title: str) -> str:
    """A standalone page (no scripts, no external resources): title, summary, legend, heat map."""
    ok, total = grid.summary()
    scope = f" ({grid.scope[0]} -> {grid.scope[1]})" if grid.scope else ""
    legend = "".join(f'<span class="key"><i style="background:{colour}"></i>{escape(text)}</span>' for colour, text in (
        (heat_colour(1, 1), "all allowed"), (heat_colour(1, 2), "some allowed"), (heat_colour(0, 1), "all denied"),
        (GREY, "self")))
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            '<style>body{font-family:sans-serif;margin:1.5em;color:#222}.key{margin-right:1.2em}'
            '.key i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:middle}</style>'
            f'</head><body><h1>{escape(title)}</h1>'
            f'<p>probe {escape(grid.protocol)}/{grid.port}, {grid.level} level{escape(scope)}: '
            f'{ok} of {total} connections allowed. Rows are sources, columns destinations; '
            'marks: \u2022 verify agrees, ! verify disagrees, E probe failed.</p>'
            f'<p>{legend}</p>{render_grid_svg(grid, titles=True)}</body></html>\n')
