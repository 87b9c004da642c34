"""The Go text/template subset used with `-o go-template=` (as written in OpenShift docs). Pure.

Supported: text and `{{ }}` actions with `{{-`/`-}}` trimming and `{{/* comments */}}`; fields
`.a.b`, `$`, variables (`$x := ...`, `{{range $i, $e := .items}}`), literals ("..", `raw`,
numbers, true/false/nil), pipelines `a | printf "%s"`, parentheses; `if`/`else if`/`else`,
`range` (lists, maps by sorted key, with `else`), `with`; functions `and or not len index printf
print println eq ne lt le gt ge` and kubectl's `base64decode`. A missing key prints `<no value>`
(kubectl's default); values print as Go's fmt prints them (`map[a:b]`, `[x y]`).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from osdn.cli.gofmt import sprint, sprintf
from osdn.cli.jsonpath import unquote


class TemplateError(ValueError):
    """A template that does not parse, or that fails on the data."""


class _Missing:
    def __repr__(self) -> str:
        return "<no value>"


MISSING = _Missing()
CHAINED = "else-if"  # Block.text of an `else if` block
_TOKEN = re.compile(r"""\s*(?:
    (?P<str>"(?:[^"\\]|\\.)*") | (?P<raw>`[^`]*`) |
    (?P<num>[+-]?(?:0x[0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)) |
    (?P<decl>:=) | (?P<op>[()|,=]) |
    (?P<var>\$[A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*) |
    (?P<field>(?:\.[A-Za-z0-9_]+)+|\.) |
    (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)
)""", re.X)


# ----------------------------------------------------------------------------------------- the tree
@dataclass
class Operand:
    kind: str  # field | var | lit | ident | sub
    value: Any = None
    names: tuple[str, ...] = ()


@dataclass
class Pipe:
    cmds: list[list[Operand]]
    decl: list[str] = field(default_factory=list)


@dataclass
class Block:
    kind: str  # action | if | range | with | text
    pipe: Pipe | None = None
    text: str = ""
    body: list[Block] = field(default_factory=list)
    orelse: list[Block] = field(default_factory=list)


# ------------------------------------------------------------------------------------------- lexing
def _split(template: str) -> list[tuple[str, str]]:
    """[("text", ...), ("action", ...)] with trim markers applied and comments dropped."""
    out: list[tuple[str, str]] = []
    pos = 0
    while True:
        start = template.find("{{", pos)
        if start < 0:
            out.append(("text", template[pos:]))
            return out
        text = template[pos:start]
        end = _action_end(template, start + 2)
        inner = template[start + 2:end]
        if inner.startswith("- ") or inner == "-":
            text, inner = text.rstrip(), inner[1:]
        trim_after = inner.endswith(" -")
        if trim_after:
            inner = inner[:-2]
        out.append(("text", text))
        if not inner.strip().startswith("/*"):
            out.append(("action", inner.strip()))
        pos = end + 2
        if trim_after:
            while pos < len(template) and template[pos].isspace():
                pos += 1


def _action_end(template: str, pos: int) -> int:
    quote = ""
    while pos < len(template):
        c = template[pos]
        if quote:
            if c == "\\" and quote == '"':
                pos += 1
            elif c == quote:
                quote = ""
        elif c in "\"`":
            quote = c
        elif template.startswith("}}", pos):
            return pos
        pos += 1
    raise TemplateError("unclosed action")


def _tokens(action: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(action):
        m = _TOKEN.match(action, pos)
        if not m or m.end() == pos:
            if action[pos:].strip() == "":
                break
            raise TemplateError(f"unexpected {action[pos:].strip()[:20]!r} in {{{{{action}}}}}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


# ------------------------------------------------------------------------------------------ parsing
class _PipeParser:
    def __init__(self, action: str) -> None:
        self.action = action
        self.toks = _tokens(action)
        self.i = 0

    def peek(self) -> tuple[str, str]:
        return self.toks[self.i] if self.i < len(self.toks) else ("", "")

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        self.i += 1
        return tok

    def pipe(self, in_parens: bool = False) -> Pipe:
        decl: list[str] = []
        j = self.i
        while j < len(self.toks) and self.toks[j][0] == "var" and "." not in self.toks[j][1]:
            decl.append(self.toks[j][1])
            if j + 1 < len(self.toks) and self.toks[j + 1] == ("op", ","):
                j += 2
                continue
            if j + 1 < len(self.toks) and self.toks[j + 1][0] in ("decl", "op") and self.toks[j + 1][1] in (":=", "="):
                self.i = j + 2
                break
            decl = []
            break
        else:
            decl = []
        cmds = [self.command()]
        while self.peek() == ("op", "|"):
            self.take()
            cmds.append(self.command())
        if not in_parens and self.i < len(self.toks):
            raise TemplateError(f"unexpected {self.peek()[1]!r} in {{{{{self.action}}}}}")
        return Pipe(cmds, decl)

    def command(self) -> list[Operand]:
        args: list[Operand] = []
        while self.peek()[0] and self.peek() not in (("op", "|"), ("op", ")")):
            args.append(self.operand())
        if not args:
            raise TemplateError(f"missing value in {{{{{self.action}}}}}")
        return args

    def operand(self) -> Operand:
        kind, text = self.take()
        if kind == "str":
            return Operand("lit", unquote(text[1:-1]))
        if kind == "raw":
            return Operand("lit", text[1:-1])
        if kind == "num":
            return Operand("lit", _number(text))
        if kind == "field":
            return Operand("field", names=tuple(n for n in text.split(".") if n))
        if kind == "var":
            name, *rest = text.split(".")
            return Operand("var", name, tuple(rest))
        if kind == "ident":
            name, *rest = text.split(".")
            if name in ("true", "false", "nil"):
                return Operand("lit", {"true": True, "false": False, "nil": None}[name])
            return Operand("ident", name, tuple(rest))
        if (kind, text) == ("op", "("):
            sub = self.pipe(in_parens=True)
            if self.take() != ("op", ")"):
                raise TemplateError(f"unclosed parenthesis in {{{{{self.action}}}}}")
            names: tuple[str, ...] = ()
            if self.peek()[0] == "field" and self.peek()[1] != ".":
                names = tuple(n for n in self.take()[1].split(".") if n)
            return Operand("sub", sub, names)
        raise TemplateError(f"unexpected {text!r} in {{{{{self.action}}}}}")


def _number(text: str) -> int | float:
    try:
        return int(text, 0)
    except ValueError:
        return float(text)


def parse(template: str) -> list[Block]:
    root: list[Block] = []
    stack: list[tuple[Block | None, list[Block]]] = [(None, root)]
    for kind, text in _split(template):
        body = stack[-1][1]
        if kind == "text":
            if text:
                body.append(Block("text", text=text))
            continue
        word, _, rest = text.partition(" ")
        if word in ("if", "range", "with"):
            block = Block(word, _PipeParser(rest).pipe())
            body.append(block)
            stack.append((block, block.body))
        elif word == "else":
            owner = stack[-1][0]
            if owner is None:
                raise TemplateError("unexpected {{else}}")
            stack[-1] = (owner, owner.orelse)
            if rest.startswith("if "):  # else if: a chained if, closed by the outer {{end}}
                nested = Block("if", _PipeParser(rest[3:]).pipe(), text=CHAINED)
                owner.orelse.append(nested)
                stack.append((nested, nested.body))
        elif word == "end":
            if len(stack) == 1:
                raise TemplateError("unexpected {{end}}")
            while len(stack) > 2 and stack[-1][0] is not None and stack[-1][0].text == CHAINED:
                stack.pop()
            stack.pop()
        else:
            body.append(Block("action", _PipeParser(text).pipe()))
    if len(stack) > 1:
        raise TemplateError("unexpected EOF: missing {{end}}")
    return root


# ---------------------------------------------------------------------------------------- execution
def truth(value: Any) -> bool:
    """Go's notion of a true value: not false, 0, nil, "", or an empty list or map."""
    if value is MISSING or value is None:
        return False
    if isinstance(value, (bool, int, float)):
        return bool(value)
    if isinstance(value, (str, list, dict)):
        return len(value) > 0
    return True


def show(value: Any) -> str:
    return "<no value>" if value is MISSING or value is None else sprint(value)


def _walk(value: Any, names: tuple[str, ...]) -> Any:
    for name in names:
        if isinstance(value, dict):
            value = value.get(name, MISSING)
        elif value is MISSING or value is None:
            value = MISSING
        else:
            raise TemplateError(f"can't evaluate field {name} in type {type(value).__name__}")
    return value


def _plain(value: Any) -> Any:
    return None if value is MISSING else value


def _equal(a: Any, b: Any) -> bool:
    a, b = _plain(a), _plain(b)
    numbers = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (a, b))
    if not numbers and type(a) is not type(b) and a is not None and b is not None:
        raise TemplateError(f"incompatible types for comparison: {sprint(a)} and {sprint(b)}")
    return bool(a == b)


def _ordered(a: Any, b: Any) -> tuple[Any, Any]:
    a, b = _plain(a), _plain(b)
    if isinstance(a, bool) or isinstance(b, bool) or not (
            isinstance(a, (int, float)) and isinstance(b, (int, float)) or isinstance(a, str) and isinstance(b, str)):
        raise TemplateError(f"incompatible types for comparison: {sprint(a)} and {sprint(b)}")
    return a, b


def _len(value: Any) -> int:
    if isinstance(value, (list, dict, str)):
        return len(value)
    raise TemplateError(f"len of {show(value)}: not a list, map or string")


def _index(value: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(value, dict):
            value = value.get(key, MISSING)
        elif isinstance(value, list) and isinstance(key, int) and not isinstance(key, bool):
            if not -len(value) <= key < len(value) or key < 0:
                raise TemplateError(f"index out of range: {key}")
            value = value[key]
        else:
            raise TemplateError(f"can't index item of type {type(_plain(value)).__name__}")
    return value


def _print(*args: Any) -> str:
    out = ""
    for i, a in enumerate(args):
        if i and not isinstance(args[i - 1], str) and not isinstance(a, str):
            out += " "
        out += show(a)
    return out


def _base64decode(value: Any) -> str:
    try:
        return base64.b64decode(str(value), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as e:
        raise TemplateError(f"base64decode: {e}") from None


FUNCS: dict[str, Callable[..., Any]] = {
    "and": lambda *a: next((x for x in a if not truth(x)), a[-1]),
    "or": lambda *a: next((x for x in a if truth(x)), a[-1]),
    "not": lambda a: not truth(a),
    "len": _len,
    "index": _index,
    "printf": lambda fmt, *a: sprintf(str(fmt), *(_plain(x) for x in a)),
    "print": _print,
    "println": lambda *a: " ".join(show(x) for x in a) + "\n",
    "eq": lambda a, *b: any(_equal(a, x) for x in b),
    "ne": lambda a, b: not _equal(a, b),
    "lt": lambda a, b: (lambda x, y: x < y)(*_ordered(a, b)),
    "le": lambda a, b: (lambda x, y: x <= y)(*_ordered(a, b)),
    "gt": lambda a, b: (lambda x, y: x > y)(*_ordered(a, b)),
    "ge": lambda a, b: (lambda x, y: x >= y)(*_ordered(a, b)),
    "base64decode": _base64decode,
}


@dataclass
class _Exec:
    root: Any
    out: list[str] = field(default_factory=list)

    def run(self, blocks: list[Block], dot: Any, scope: dict[str, Any]) -> None:
        for b in blocks:
            if b.kind == "text":
                self.out.append(b.text)
            elif b.kind == "action" and b.pipe is not None:
                value = self.pipe(b.pipe, dot, scope)
                if not b.pipe.decl:
                    self.out.append(show(value))
            elif b.kind == "range" and b.pipe is not None:
                self.range(b, b.pipe, dot, dict(scope))
            elif b.pipe is not None:  # if / with
                inner = dict(scope)
                value = self.pipe(b.pipe, dot, inner)
                if truth(value):
                    self.run(b.body, value if b.kind == "with" else dot, inner)
                else:
                    self.run(b.orelse, dot, inner)

    def range(self, b: Block, p: Pipe, dot: Any, scope: dict[str, Any]) -> None:
        value = self.pipe(Pipe(p.cmds), dot, scope)
        if isinstance(value, dict):
            pairs: list[tuple[Any, Any]] = [(k, value[k]) for k in sorted(value)]
        elif isinstance(value, list):
            pairs = list(enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            pairs = [(i, i) for i in range(value)]
        elif value is MISSING or value is None:
            pairs = []
        else:
            raise TemplateError(f"range can't iterate over {show(value)}")
        if not pairs:
            self.run(b.orelse, dot, scope)
        for key, elem in pairs:
            inner = dict(scope)
            names = p.decl
            if len(names) == 1:
                inner[names[0]] = elem
            elif len(names) == 2:
                inner[names[0]], inner[names[1]] = key, elem
            self.run(b.body, elem, inner)

    def pipe(self, p: Pipe, dot: Any, scope: dict[str, Any]) -> Any:
        value: Any = MISSING
        for i, cmd in enumerate(p.cmds):
            value = self.command(cmd, dot, scope, [value] if i else [])
        for name in p.decl:
            scope[name] = value
        return value

    def command(self, cmd: list[Operand], dot: Any, scope: dict[str, Any], piped: list[Any]) -> Any:
        first = cmd[0]
        if first.kind == "ident":
            return self.call(first.value, [self.operand(a, dot, scope) for a in cmd[1:]] + piped)
        if len(cmd) > 1 or piped:
            raise TemplateError(f"can't give argument to non-function {_describe(first)}")
        return self.operand(first, dot, scope)

    def call(self, name: str, args: list[Any]) -> Any:
        fn = FUNCS.get(name)
        if fn is None:
            raise TemplateError(f'function "{name}" not defined')
        try:
            return fn(*args)
        except (TypeError, IndexError, StopIteration):
            raise TemplateError(f"wrong number of args for {name}: got {len(args)}") from None

    def operand(self, op: Operand, dot: Any, scope: dict[str, Any]) -> Any:
        if op.kind == "lit":
            return op.value
        if op.kind == "field":
            return _walk(dot, op.names)
        if op.kind == "var":
            if op.value == "$":
                return _walk(self.root, op.names)
            if op.value not in scope:
                raise TemplateError(f"undefined variable: {op.value}")
            return _walk(scope[op.value], op.names)
        if op.kind == "sub":
            return _walk(self.pipe(op.value, dot, scope), op.names)
        return self.call(op.value, [])


def _describe(op: Operand) -> str:
    if op.kind == "field":
        return "." + ".".join(op.names)
    return sprint(op.value)


def execute(template: str, data: Any) -> str:
    """Render `template` (Go text/template syntax) with `data` as dot and `$`."""
    ex = _Exec(data)
    ex.run(parse(template), data, {})
    return "".join(ex.out)
