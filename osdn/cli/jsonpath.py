"""kubectl's JSONPath dialect (k8s.io/client-go/util/jsonpath), for `-o jsonpath=`, custom columns
and `--sort-by`. Pure.

A template is text with actions in braces: `{.metadata.name}`, `{.items[*].spec.nodeName}`,
`{range .items[*]}{.metadata.name}{"\\n"}{end}`, filters `[?(@.type=="Ready")]` (== != < > <= >=
=~ and existence), slices `[1:4:2]`, negative indexes, unions `[0,2]` / `['a','b']`, wildcards
`.*` and `[*]`, recursive descent `..name`, quoted text `{"\\t"}`, `\\.` escapes in keys. The
results of one action are joined by a space; maps and lists print as compact JSON, the rest as Go
prints them. Missing keys print nothing (kubectl's default `--allow-missing-template-keys`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from osdn.cli.gofmt import sprint, to_json


class JSONPathError(ValueError):
    """A template that does not parse, or that cannot be applied to the data."""


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Field:
    name: str


@dataclass(frozen=True)
class Wildcard:
    pass


@dataclass(frozen=True)
class Recursive:
    pass


@dataclass(frozen=True)
class Param:
    known: bool = False
    value: int = 0
    derived: bool = False


@dataclass(frozen=True)
class Array:
    params: tuple[Param, Param, Param]


@dataclass(frozen=True)
class Const:
    value: Any  # int, float or bool


@dataclass(frozen=True)
class Ident:
    name: str


@dataclass(frozen=True)
class Filter:
    left: tuple[Node, ...]
    right: tuple[Node, ...]
    op: str


@dataclass(frozen=True)
class Union_:
    parts: tuple[tuple[Node, ...], ...]


Node = Text | Field | Wildcard | Recursive | Array | Const | Ident | Filter | Union_


@dataclass(frozen=True)
class Action:
    nodes: tuple[Node, ...]


@dataclass
class Range:
    nodes: tuple[Node, ...]
    body: list[Item] = field(default_factory=list)


Item = Text | Action | Range

_TERMINATORS = set(" \t\r\n.,[]$@{}")
_DICT_KEY = re.compile(r"^'([^']*)'$")
_SLICE = re.compile(r"^(-?\d*)(:-?\d*)?(:-?\d*)?$")
_FILTER = re.compile(r"^([^!<>=]+)([!<>=~]+)(.+?)$")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "a": "\a", "b": "\b",
            "f": "\f", "v": "\v"}


# --------------------------------------------------------------------------------------------- parse
class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def peek(self, n: int = 0) -> str:
        i = self.pos + n
        return self.text[i] if i < len(self.text) else ""

    def template(self) -> list[Text | Action]:
        out: list[Text | Action] = []
        while self.pos < len(self.text):
            i = self.text.find("{", self.pos)
            if i < 0:
                out.append(Text(self.text[self.pos:]))
                break
            if i > self.pos:
                out.append(Text(self.text[self.pos:i]))
            self.pos = i + 1
            out.append(Action(tuple(self.action())))
        return out

    def action(self) -> list[Node]:
        """Nodes up to and including the closing brace."""
        nodes: list[Node] = []
        while True:
            rest = self.text[self.pos:]
            r = self.peek()
            if rest.startswith("}"):
                self.pos += 1
                return nodes
            if rest.startswith("[?("):
                nodes.append(self.filter())
            elif rest.startswith(".."):
                if nodes and isinstance(nodes[-1], Recursive):
                    raise JSONPathError("invalid multiple recursive descent")
                self.pos += 2
                nodes.append(Recursive())
                if _alnum(self.peek()):
                    nodes.append(self.field())
            elif r in ("", "\r", "\n"):
                raise JSONPathError("unclosed action")
            elif r in " @$":
                self.pos += 1
            elif r == "[":
                nodes.extend(self.array())
            elif r in "\"'":
                nodes.append(self.quote(r))
            elif r == ".":
                self.pos += 1
                nodes.append(self.field())
            elif r in "+-" or r.isdigit():
                nodes.append(self.number())
            elif _alnum(r):
                nodes.append(self.identifier())
            else:
                raise JSONPathError(f"unrecognized character in action: {r!r}")

    def _scan_name(self) -> str:
        start = self.pos
        while self.pos < len(self.text):
            c = self.text[self.pos]
            if c == "\\":
                self.pos += 2
                continue
            if c in _TERMINATORS:
                break
            self.pos += 1
        return self.text[start:self.pos]

    def field(self) -> Node:
        name = self._scan_name()
        return Wildcard() if name == "*" else Field(name.replace("\\", ""))

    def identifier(self) -> Node:
        name = self._scan_name()
        return Const(name == "true") if name in ("true", "false") else Ident(name)

    def number(self) -> Node:
        start = self.pos
        if self.peek() in "+-":
            self.pos += 1
        while self.peek() and (self.peek().isdigit() or self.peek() == "."):
            self.pos += 1
        text = self.text[start:self.pos]
        try:
            return Const(int(text))
        except ValueError:
            try:
                return Const(float(text))
            except ValueError:
                raise JSONPathError(f"cannot parse number {text}") from None

    def array(self) -> list[Node]:
        end = self.pos
        while True:
            end += 1
            if end >= len(self.text) or self.text[end] == "\n":
                raise JSONPathError("unterminated array")
            if self.text[end] == "]":
                break
        inner = self.text[self.pos + 1:end]
        self.pos = end + 1
        inner = ":" if inner == "*" else inner
        if "," in inner:
            return [Union_(tuple(_sub_action(f"[{part.strip()}]") for part in inner.split(",")))]
        key = _DICT_KEY.match(inner)
        if key:
            return list(_sub_action("." + key.group(1)))
        return [Array(_slice_params(inner))]

    def filter(self) -> Node:
        self.pos += 3
        start, quote, closed = self.pos, "", True
        while True:
            c = self.peek()
            self.pos += 1
            if c in ("", "\n"):
                raise JSONPathError("unterminated filter")
            if c in "\"'" and (not quote or (c == quote and self.text[self.pos - 2] != "\\")):
                if not quote:
                    quote, closed = c, False
                else:
                    closed = True
            elif c == ")" and closed:
                break
        if self.peek() != "]":
            raise JSONPathError("unclosed array expect ]")
        self.pos += 1
        text = self.text[start:self.pos - 2]
        m = _FILTER.match(text)
        if not m:
            return Filter(_sub_action(text), (), "exists")
        return Filter(_sub_action(m.group(1)), _sub_action(m.group(3)), m.group(2))

    def quote(self, q: str) -> Node:
        i = self.pos
        while True:
            i += 1
            if i >= len(self.text) or self.text[i] == "\n":
                raise JSONPathError("unterminated quoted string")
            if self.text[i] == q and self.text[i - 1] != "\\":
                break
        raw = self.text[self.pos + 1:i]
        self.pos = i + 1
        return Text(unquote(raw))


def _alnum(c: str) -> bool:
    return bool(c) and (c == "_" or c.isalnum())


def _sub_action(text: str) -> tuple[Node, ...]:
    p = _Parser(text + "}")
    return tuple(p.action())


def _slice_params(text: str) -> tuple[Param, Param, Param]:
    m = _SLICE.match(text)
    if not m:
        raise JSONPathError(f"invalid array index {text}")
    parts = [m.group(1), m.group(2), m.group(3)]
    params: list[Param] = []
    for i, raw in enumerate(parts):
        if raw:
            raw = raw[1:] if i > 0 else raw
            if i > 0 and raw == "":
                params.append(Param())
                continue
            try:
                params.append(Param(True, int(raw)))
            except ValueError:
                raise JSONPathError(f"array index {raw} is not a number") from None
        elif i == 1:
            params.append(Param(True, params[0].value + 1, derived=True))
        else:
            params.append(Param())
    return params[0], params[1], params[2]


def unquote(raw: str) -> str:
    """The text of a quoted string with Go's escapes (\\n, \\t, \\", \\xHH, \\uHHHH, ...)."""
    out: list[str] = []
    i = 0
    while i < len(raw):
        c = raw[i]
        if c != "\\" or i + 1 >= len(raw):
            out.append(c)
            i += 1
            continue
        nxt = raw[i + 1]
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt in "xuU":
            size = {"x": 2, "u": 4, "U": 8}[nxt]
            try:
                out.append(chr(int(raw[i + 2:i + 2 + size], 16)))
            except ValueError:
                raise JSONPathError(f"invalid escape in {raw!r}") from None
            i += 2 + size
        else:
            raise JSONPathError(f"invalid escape \\{nxt} in {raw!r}")
    return "".join(out)


def parse(template: str) -> list[Item]:
    """The template as a tree: `{range X}...{end}` becomes a Range holding its body."""
    stack: list[list[Item]] = [[]]
    for seg in _Parser(template).template():
        first = seg.nodes[0] if isinstance(seg, Action) and seg.nodes else None
        if isinstance(seg, Action) and isinstance(first, Ident) and first.name == "range":
            rng = Range(seg.nodes[1:])
            stack[-1].append(rng)
            stack.append(rng.body)
        elif isinstance(first, Ident) and first.name == "end":
            if len(stack) == 1:
                raise JSONPathError("not in range, nothing to end")
            stack.pop()
        else:
            stack[-1].append(seg)
    return stack[0]


# ------------------------------------------------------------------------------------------- execute
@dataclass
class _Eval:
    allow_missing_keys: bool

    def nodes(self, nodes: tuple[Node, ...], values: list[Any]) -> list[Any]:
        for node in nodes:
            values = self.node(node, values)
        return values

    def node(self, node: Node, values: list[Any]) -> list[Any]:
        if isinstance(node, Text):
            return [node.text]
        if isinstance(node, Const):
            return [node.value for _ in values]
        if isinstance(node, Field):
            return self.field(node.name, values)
        if isinstance(node, Array):
            return [r for v in values if v is not None for r in _slice(v, node.params)]
        if isinstance(node, Wildcard):
            return [c for v in values for c in _children(v)]
        if isinstance(node, Recursive):
            return _descend(values)
        if isinstance(node, Filter):
            return [r for v in values for r in self.filter(node, v)]
        if isinstance(node, Union_):
            return [r for part in node.parts for r in self.nodes(part, values)]
        raise JSONPathError(f"unrecognized identifier {node.name}")

    def field(self, name: str, values: list[Any]) -> list[Any]:
        if name == "":  # `{.}`: the current object
            return values
        found = [v[name] for v in values if isinstance(v, dict) and name in v]
        if not found and values and not self.allow_missing_keys:
            raise JSONPathError(f"{name} is not found")
        return found

    def filter(self, node: Filter, value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise JSONPathError(f"{sprint(value)} is not array or slice and cannot be filtered")
        out = []
        for item in value:
            if node.op == "exists":
                try:
                    if self.nodes(node.left, [item]):
                        out.append(item)
                except JSONPathError:
                    pass
                continue
            lefts, rights = self.nodes(node.left, [item]), self.nodes(node.right, [item])
            if not lefts or not rights:
                continue
            if len(lefts) > 1 or len(rights) > 1:
                raise JSONPathError("can only compare one element at a time")
            if compare(node.op, lefts[0], rights[0]):
                out.append(item)
        return out


def _children(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, list):
        return list(value)
    return []


def _descend(values: list[Any]) -> list[Any]:
    """`..`: every value that has children, and (recursively) what is under it, in document order."""
    out: list[Any] = []
    for v in values:
        if isinstance(v, (dict, list)) and v or isinstance(v, str) and v:
            out.append(v)
            out += _descend(_children(v))
    return out


def _slice(value: Any, params: tuple[Param, Param, Param]) -> list[Any]:
    if not isinstance(value, list):
        raise JSONPathError(f"{_type_name(value)} is not array or slice")
    n = len(value)
    start = params[0].value if params[0].known else 0
    start += n if start < 0 else 0
    end = params[1].value if params[1].known else n
    if end < 0 or (end == 0 and params[1].derived):
        end += n
    if start == end:
        return []
    if start >= n or start < 0:
        raise JSONPathError(f"array index out of bounds: index {start}, length {n}")
    if end > n or end < 0:
        raise JSONPathError(f"array index out of bounds: index {end - 1}, length {n}")
    if start > end:
        raise JSONPathError(f"starting index {start} is greater than ending index {end}")
    step = 1
    if params[2].known:
        if params[2].value <= 0:
            raise JSONPathError("step must be > 0")
        step = params[2].value
    return value[start:end:step]


def _type_name(value: Any) -> str:
    return {dict: "map[string]interface {}", str: "string", bool: "bool", int: "int64",
            float: "float64"}.get(type(value), type(value).__name__)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def compare(op: str, left: Any, right: Any) -> bool:
    """A filter comparison, as Go templates compare: numbers with numbers, strings with strings."""
    if op == "=~":
        if not isinstance(left, str) or not isinstance(right, str):
            raise JSONPathError(f"regexp search only support string now but getting pattern: {right!r}, "
                                f"data: {left!r}")
        return re.search(right, left) is not None
    comparable = (_is_number(left) and _is_number(right)) or type(left) is type(right)
    if op in ("==", "!="):
        if not comparable:
            raise JSONPathError("incompatible types for comparison")
        return (left == right) == (op == "==")
    ops = {"<": lambda a, b: a < b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b,
           ">=": lambda a, b: a >= b}
    if op not in ops:
        raise JSONPathError(f"unrecognized filter operator {op}")
    if not comparable or not (_is_number(left) or isinstance(left, str)):
        raise JSONPathError("invalid type for comparison")
    return bool(ops[op](left, right))


def format_value(value: Any) -> str:
    """One result as kubectl prints it: maps and lists as compact JSON, strings raw, Go's %v else."""
    if isinstance(value, (dict, list)):
        return to_json(value)
    return value if isinstance(value, str) else sprint(value)


class JSONPath:
    """A parsed template; `execute` renders it, `find` returns each action's results."""

    def __init__(self, template: str, allow_missing_keys: bool = True) -> None:
        self.template = template
        self.items = parse(template)
        self.eval = _Eval(allow_missing_keys)

    def execute(self, data: Any) -> str:
        return "".join(self._render(self.items, data))

    def _render(self, items: list[Item], data: Any) -> list[str]:
        out: list[str] = []
        for item in items:
            if isinstance(item, Text):
                out.append(item.text)
            elif isinstance(item, Action):
                out.append(" ".join(format_value(v) for v in self.eval.nodes(item.nodes, [data])))
            else:
                for value in self.eval.nodes(item.nodes, [data]):
                    out += self._render(item.body, value)
        return out

    def find(self, data: Any) -> list[Any]:
        """Every value the template's actions select (texts excluded), in order."""
        return self._find(self.items, data)

    def _find(self, items: list[Item], data: Any) -> list[Any]:
        out: list[Any] = []
        for item in items:
            if isinstance(item, Action):
                out += self.eval.nodes(item.nodes, [data])
            elif isinstance(item, Range):
                for value in self.eval.nodes(item.nodes, [data]):
                    out += self._find(item.body, value)
        return out


_RELAXED = re.compile(r"^\{\.?([^{}]+)\}$|^\.?([^{}]+)$")


def relaxed(expression: str) -> str:
    """kubectl's RelaxedJSONPathExpression: `a.b`, `.a.b`, `{a.b}` and `{.a.b}` all mean `{.a.b}`."""
    if not expression:
        return expression
    m = _RELAXED.match(expression)
    if not m:
        raise JSONPathError("unexpected path string, expected a 'name1.name2' or '.name1.name2' or "
                            "'{name1.name2}' or '{.name1.name2}'")
    return "{." + (m.group(1) or m.group(2)) + "}"
