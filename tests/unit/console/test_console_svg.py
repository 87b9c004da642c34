"""The heat map's drawing (osdn.console.svg): well-formed SVG whose cells carry the grid, colours by
share allowed, verify marks, escaped text, and a standalone HTML page without scripts or remote links."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from osdn.console.grid import POD, PROJECT, Grid, Mark
from osdn.console.svg import GREY, heat_colour, render_grid_html, render_grid_svg

NS = "{http://www.w3.org/2000/svg}"


def _child(el: ET.Element, tag: str) -> ET.Element:
    found = el.find(f"{NS}{tag}")
    assert found is not None, tag
    return found


def _grid(level: str = PROJECT, marks: dict[tuple[int, int], Mark] | None = None) -> Grid:
    return Grid("TCP", 80, level, ("a", "b<script>"), ("a", "b<script>"), ((2, 0), (3, 1)), ((2, 4), (4, 2)),
                None, marks or {})


def test_colours_run_from_red_to_green_and_grey_is_no_pair() -> None:
    assert heat_colour(0, 5) == "#c0392b"
    assert heat_colour(5, 5) == "#27ae60"
    assert heat_colour(1, 2) == "#e6a23c"
    assert heat_colour(0, 0) == GREY
    assert heat_colour(1, 4) != heat_colour(3, 4)


def test_svg_cells_carry_the_grid_and_titles_say_the_counts() -> None:
    root = ET.fromstring(render_grid_svg(_grid()))
    cells = root.findall(f"{NS}g")
    assert [(c.get("data-from"), c.get("data-to"), c.get("data-allowed"), c.get("data-total")) for c in cells] == [
        ("a", "a", "2", "2"), ("a", "b<script>", "0", "4"), ("b<script>", "a", "3", "4"), ("b<script>", "b<script>", "1", "2")]
    assert [_child(c, "rect").get("fill") for c in cells] == [
        heat_colour(2, 2), heat_colour(0, 4), heat_colour(3, 4), heat_colour(1, 2)]
    assert _child(cells[2], "title").text == "b<script> -> a TCP/80: 3 of 4 pod pairs allowed"
    assert root.get("data-level") == PROJECT


def test_pod_grid_titles_and_verify_marks() -> None:
    grid = Grid("TCP", 8080, POD, ("x/a", "x/b"), ("x/a", "x/b"), ((0, 1), (0, 0)), ((0, 1), (1, 0)), None,
                {(0, 1): Mark(agree=1), (1, 0): Mark(disagree=1)})
    root = ET.fromstring(render_grid_svg(grid))
    cells = root.findall(f"{NS}g")
    assert _child(cells[0], "title").text == "x/a -> x/a TCP/8080: self"
    assert str(_child(cells[1], "title").text).startswith("x/a -> x/b TCP/8080: allowed; verify: 1 agree")
    marks = {f'{c.get("data-from")}>{c.get("data-to")}': c.find(f"{NS}text") for c in cells}
    assert [m.text if m is not None else None for m in marks.values()] == [None, "\u2022", "!", None]


def test_html_is_standalone_and_escapes_names() -> None:
    page = render_grid_html(_grid(), "report <1>")
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page and "b&lt;script&gt;" in page
    assert "report &lt;1&gt;" in page and "6 of 12 connections allowed" in page
    assert "src=" not in page and "href=" not in page


def test_many_pods_shrink_cells_and_drop_labels() -> None:
    names = tuple(f"p/x{i}" for i in range(200))
    zero = tuple((0,) * 200 for _ in names)
    root = ET.fromstring(render_grid_svg(Grid("TCP", 80, POD, names, names, zero, zero)))
    assert len(root.findall(f"{NS}g")) == 200 * 200
    assert root.findall(f"{NS}text") == [] and int(root.get("width") or 0) <= 900
    assert root.findall(f"{NS}g/{NS}title") == []  # the console shows the hovered cell instead
    page = render_grid_html(Grid("TCP", 80, POD, names[:60], names[:60], zero[:60], zero[:60]), "big")
    assert page.count("<title>") == 1 + 60 * 60  # a file keeps its tooltips
