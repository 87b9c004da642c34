"""Output formats as kubectl's: tables (default, -o wide) and -o json|yaml|name|jsonpath=|
jsonpath-file=|jsonpath-as-json=|custom-columns=|custom-columns-file=|go-template=|go-template-file=.

Pure except for reading the `*-file=` template files; the clock comes in as `now`. The columns are
osdn.api.columns (the API's Table output uses the same definitions). A list is given to the
template printers as kubectl gives it: `{"apiVersion": "v1", "kind": "List", "items": [...]}`.
An unknown format is a BadRequestError naming the formats there are.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from osdn.api.cells import event_age, event_source, event_time
from osdn.api.columns import columns
from osdn.api.registry import KindInfo
from osdn.cli import gotemplate
from osdn.cli.gofmt import sprint
from osdn.cli.jsonpath import JSONPath, JSONPathError, relaxed
from osdn.errors import BadRequestError

Obj = dict[str, Any]
Column = tuple[str, Callable[[Obj], str]]
PLAIN = ("json", "yaml", "wide", "name")
TEMPLATED = ("custom-columns", "custom-columns-file", "go-template", "go-template-file", "jsonpath",
             "jsonpath-as-json", "jsonpath-file", "template", "templatefile")
ALLOWED = ", ".join(sorted(PLAIN + TEMPLATED))
OUTPUT_HELP = "json|yaml|wide|name|jsonpath=...|jsonpath-file=...|custom-columns=...|custom-columns-file=...|" \
              "go-template=...|go-template-file=..."


@dataclass(frozen=True)
class PrintOptions:
    """What `get` (and -o on writing commands) asks of the printer."""

    output: str = ""
    no_headers: bool = False
    show_labels: bool = False
    show_kind: bool = False
    all_namespaces: bool = False
    label_columns: tuple[str, ...] = ()
    sort_by: str = ""

    @property
    def templated(self) -> bool:
        """jsonpath/go-template output is printed as is, without a newline added (as kubectl)."""
        return self.output.split("=", 1)[0] in TEMPLATED and not self.output.startswith("custom-columns")


def check_output(output: str) -> None:
    """Refuse an unknown -o before anything is sent, as kubectl does."""
    name, sep, arg = output.partition("=")
    if output in ("",) + PLAIN:
        return
    if name not in TEMPLATED:
        raise BadRequestError(f'unable to match a printer suitable for the output format "{output}", '
                              f"allowed formats are: {ALLOWED}")
    if not sep or not arg:
        what = "custom columns" if name.startswith("custom") else "template"
        raise BadRequestError(f"{name} format specified but no {what} given")


def qualified_name(info: KindInfo, name: str) -> str:
    """`pod/x`, `egressnetworkpolicy.network.openshift.io/default` (as oc prints them: the kind in lower
    case, also where the singular resource name differs, `networkattachmentdefinition.k8s.cni.cncf.io/x`)."""
    kind = info.kind.lower()
    return f"{kind}.{info.group}/{name}" if info.group else f"{kind}/{name}"


def _labels(o: Obj) -> Obj:
    return (o.get("metadata") or {}).get("labels") or {}


def _label_cell(key: str) -> Callable[[Obj], str]:
    return lambda o: str(_labels(o).get(key, ""))


def table(info: KindInfo, items: list[Obj], now: float, opts: PrintOptions) -> str:
    wide = opts.output == "wide"
    cols: list[Column] = [(c.name, c.cell) for c in columns(info, now) if wide or c.priority == 0]
    if opts.show_kind and cols and cols[0][0] == "NAME":
        cols[0] = ("NAME", lambda o: qualified_name(info, o["metadata"]["name"]))
    if opts.all_namespaces and info.namespaced:
        cols.insert(0, ("NAMESPACE", lambda o: o["metadata"].get("namespace", "")))
    cols += [(key.split("/")[-1].upper(), _label_cell(key)) for key in opts.label_columns]
    if opts.show_labels:
        cols.append(("LABELS", lambda o: ",".join(f"{k}={v}" for k, v in sorted(_labels(o).items())) or "<none>"))
    return _grid([[h for h, _ in cols]] if not opts.no_headers else [], [[fn(o) for _, fn in cols] for o in items])


def _grid(header: list[list[str]], rows: list[list[str]]) -> str:
    every = header + rows
    if not every:
        return ""
    widths = [max(len(r[i]) for r in every) for i in range(len(every[0]))]
    return "\n".join("   ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in every)


def describe_events(events: list[Obj], now: float) -> list[str]:
    """The `Events:` section `describe` ends with, as kubectl's: oldest first, Type Reason Age From Message."""
    if not events:
        return ["Events:  <none>"]
    rows = [[str(e.get("type") or ""), str(e.get("reason") or ""), event_age(e, now), event_source(e),
             str(e.get("message") or "").strip()] for e in sorted(events, key=event_time)]
    header = [["Type", "Reason", "Age", "From", "Message"], ["----", "------", "----", "----", "-------"]]
    return ["Events:"] + ["  " + line for line in _grid(header, rows).splitlines()]


def as_list(items: list[Obj]) -> Obj:
    return {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}


def _template_text(name: str, arg: str) -> str:
    if not name.endswith("file"):
        return arg
    try:
        return Path(arg).read_text()
    except OSError as e:
        raise BadRequestError(f'error reading template file "{arg}": {e.strerror}') from None


def _custom_columns(spec: str, from_file: bool) -> list[tuple[str, JSONPath]]:
    if from_file:
        lines = [line.split() for line in spec.splitlines() if line.strip()]
        if len(lines) != 2 or len(lines[0]) != len(lines[1]):
            raise BadRequestError("custom-columns-file must have two lines: the headers and, below each, its "
                                  "JSONPath")
        pairs = list(zip(lines[0], lines[1], strict=True))
    else:
        pairs = []
        for part in spec.split(","):
            header, sep, path = part.partition(":")
            if not sep:
                raise BadRequestError(f"unexpected custom-columns spec: {part}, expected <header>:<json-path-expr>")
            pairs.append((header, path))
    return [(header, JSONPath(relaxed(path))) for header, path in pairs]


def custom_columns(items: list[Obj], spec: str, from_file: bool, no_headers: bool) -> str:
    cols = _custom_columns(spec, from_file)
    rows = []
    for obj in items:
        cells = []
        for _, path in cols:
            values = path.find(obj)
            cells.append(",".join(v if isinstance(v, str) else sprint(v) for v in values) if values else "<none>")
        rows.append(cells)
    return _grid([] if no_headers else [[h for h, _ in cols]], rows)


def sort_items(items: list[Obj], sort_by: str) -> list[Obj]:
    """`--sort-by=JSONPATH`: numbers by value, the rest as text; objects without the field first."""
    path = JSONPath(relaxed(sort_by))

    def key(obj: Obj) -> tuple[int, float, str]:
        values = path.find(obj)
        if not values:
            return (0, 0.0, "")
        v = values[0]
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return (1, float(v), "")
        return (2, 0.0, v if isinstance(v, str) else json.dumps(v, sort_keys=True))
    return sorted(items, key=key)


def render(info: KindInfo, items: list[Obj], opts: PrintOptions | str, now: float,
           single: bool = False) -> str:
    """`items` in the requested format; `single` means one object was asked for by name."""
    if isinstance(opts, str):
        opts = PrintOptions(output=opts)
    check_output(opts.output)
    try:
        if opts.sort_by:
            items = sort_items(items, opts.sort_by)
        return _render(info, items, opts, now, single)
    except (JSONPathError, gotemplate.TemplateError) as e:
        raise BadRequestError(f'error executing template "{opts.output.partition("=")[2]}": {e}') from None


def _render(info: KindInfo, items: list[Obj], opts: PrintOptions, now: float, single: bool) -> str:
    data: Any = items[0] if single and len(items) == 1 else as_list(items)
    name, _, arg = opts.output.partition("=")
    if opts.output == "json":
        return json.dumps(data, indent=4)
    if opts.output == "yaml":
        return yaml.safe_dump(data, sort_keys=False).rstrip()
    if opts.output == "name":
        return "\n".join(qualified_name(info, o["metadata"]["name"]) for o in items)
    if name in ("jsonpath", "jsonpath-file"):
        return JSONPath(_template_text(name, arg)).execute(data)
    if name == "jsonpath-as-json":
        return json.dumps(JSONPath(arg).find(data), indent=4)
    if name in ("go-template", "go-template-file", "template", "templatefile"):
        return gotemplate.execute(_template_text(name, arg), data)
    if name in ("custom-columns", "custom-columns-file"):
        return custom_columns(items, _template_text(name, arg), name.endswith("file"), opts.no_headers)
    return table(info, items, now, opts) if items else ""
