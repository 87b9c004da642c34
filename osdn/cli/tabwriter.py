"""Go's `text/tabwriter` as kubectl's describe uses it (`NewWriter(out, 0, 8, 2, ' ', 0)`), and
kubectl's PrefixWriter (two spaces per level) over it. Pure.

Lines hold cells separated by tabs; the last cell of a line belongs to no column. A column block is
a run of consecutive lines that have a cell in that column (Go's `format`): its width is the widest
of those cells plus the padding, and blocks nest column by column. `flush()` ends every block (as
kubectl's `w.Flush()` before the Events table).
"""

from __future__ import annotations

PADDING = 2
LEVEL_SPACE = "  "


def _format(lines: list[list[str]], widths: list[int], out: list[str]) -> None:
    """Go's Writer.format: emit `lines` aligned, opening a nested block per column as Go does."""
    column, start, i = len(widths), 0, 0
    while i < len(lines):
        if column >= len(lines[i]) - 1:
            i += 1
            continue
        _write_lines(lines[start:i], widths, out)
        begin, width = i, 0
        while i < len(lines) and column < len(lines[i]) - 1:
            width = max(width, len(lines[i][column]) + PADDING)
            i += 1
        _format(lines[begin:i], [*widths, width], out)
        start = i
    _write_lines(lines[start:], widths, out)


def _write_lines(lines: list[list[str]], widths: list[int], out: list[str]) -> None:
    for cells in lines:
        out.append("".join(c.ljust(widths[j]) if j < len(widths) else c for j, c in enumerate(cells)))


def tabulate(text: str) -> str:
    """Align `text` (tab-separated cells, "\\n" lines, "\\f" a flush) as Go's tabwriter does."""
    out: list[str] = []
    for part in text.split("\f"):
        block: list[str] = []
        _format([line.split("\t") for line in part.split("\n")], [], block)
        out.append("\n".join(block))
    return "".join(out)


class PrefixWriter:
    """kubectl's prefixWriter over a tabwriter: `write(level, text)` indents by two spaces a level."""

    def __init__(self) -> None:
        self._parts: list[str] = []

    def write(self, level: int, text: str) -> None:
        self._parts.append(LEVEL_SPACE * level + text)

    def line(self, text: str) -> None:
        """kubectl's WriteLine: the text and a newline, not indented."""
        self._parts.append(text + "\n")

    def flush(self) -> None:
        self._parts.append("\f")

    def text(self) -> str:
        return tabulate("".join(self._parts))
