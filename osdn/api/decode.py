"""Bounded decoding of request bodies: JSON and YAML into plain JSON values, or a BadRequestError.

Pure. Whatever the bytes, the cost is bounded and the result is JSON-compatible:
- nesting deeper than `Limits.max_depth` is refused (JSON and YAML, also through YAML aliases);
- YAML aliases may add at most `Limits.max_alias_nodes` nodes to a document once expanded (a
  "billion laughs" document is refused before anything is built), and a recursive alias is refused;
- YAML timestamps stay the strings they were written as (as sigs.k8s.io/yaml keeps them);
  `!!binary`, `!!set`, `!!omap`, `!!pairs`, non-string mapping keys, `.inf` and `.nan` are refused;
- JSON `NaN`/`Infinity`, numbers that overflow a float, integers beyond 64 bits (no API field holds
  one; Go clients could not decode it) and lone UTF-16 surrogates (`"\\ud800"`) are refused, naming
  the field;
- duplicate keys are reported (not refused) as field paths, for strict field validation to judge.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from osdn.errors import BadRequestError

INT64_MIN, INT64_MAX = -2**63, 2**63 - 1
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


@dataclass(frozen=True)
class Limits:
    max_depth: int = 100            # objects/lists nested in each other
    max_alias_nodes: int = 10_000   # nodes YAML aliases may add once expanded


@dataclass
class Decoded:
    value: Any
    duplicates: list[str] = field(default_factory=list)   # paths of keys given twice (last one wins)


def parse_uint(text: str) -> int | None:
    """An unsigned decimal of ASCII digits that fits in an int64 (a resourceVersion, a limit, a list
    index), as Go's strconv.ParseInt reads one; None otherwise. `str.isdigit` alone would accept
    '²' or 5,000 digits, on which `int()` raises."""
    if not (0 < len(text) <= 19 and text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if value <= INT64_MAX else None


def path_of(parts: tuple[str | int, ...]) -> str:
    """('spec', 'ports', 0, 'port') -> 'spec.ports[0].port' ("-", a JSON patch's append, as "[-]")."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) or part == "-" else (f".{part}" if out else part)
    return out


# ---- checks shared by both formats ----------------------------------------------------------

def _check_scalar(value: Any, path: tuple[str | int, ...], surrogates: bool) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise BadRequestError(f"{path_of(path) or 'the request body'}: {value} is not a JSON number")
    if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
        raise BadRequestError(f"{path_of(path) or 'the request body'}: {value} does not fit in a 64-bit integer "
                              "(no API field holds it)")
    if surrogates and isinstance(value, str) and _SURROGATE.search(value):
        raise BadRequestError(f"{path_of(path) or 'the request body'}: invalid Unicode (a lone surrogate, "
                              "e.g. \\ud800): strings must be valid UTF-8")


def check_value(value: Any, limits: Limits, surrogates: bool = True) -> None:
    """Refuse nesting past the limit, non-finite numbers and (if asked) lone surrogates; iterative."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict | list) and len(path) >= limits.max_depth:
            raise BadRequestError(f"{path_of(path)}: the request body is nested too deeply "
                                  f"(max depth {limits.max_depth})")
        if isinstance(node, dict):
            for k, v in node.items():
                _check_scalar(k, (*path, k), surrogates)
                stack.append((v, (*path, k)))
        elif isinstance(node, list):
            stack.extend((v, (*path, i)) for i, v in enumerate(node))
        else:
            _check_scalar(node, path, surrogates)


def _duplicate_paths(value: Any, holders: list[tuple[dict[str, Any], str]]) -> list[str]:
    if not holders:
        return []
    wanted: dict[int, list[str]] = {}
    for obj, key in holders:
        wanted.setdefault(id(obj), []).append(key)
    out: list[str] = []
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            out += [path_of((*path, k)) for k in wanted.get(id(node), ())]
            stack.extend((v, (*path, k)) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, (*path, i)) for i, v in enumerate(node))
    return sorted(out)


# ---- JSON ---------------------------------------------------------------------------------------

def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def decode_json(raw: bytes, limits: Limits = Limits()) -> Decoded:
    holders: list[tuple[dict[str, Any], str]] = []   # keeps each dict alive, so ids stay unique

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        obj: dict[str, Any] = {}
        for k, v in items:
            if k in obj:
                holders.append((obj, k))
            obj[k] = v
        return obj

    try:
        value = json.loads(raw, object_pairs_hook=pairs, parse_constant=_reject_constant)
    except RecursionError:
        raise BadRequestError(f"the request body is nested too deeply (max depth {limits.max_depth})") from None
    except ValueError as e:
        raise BadRequestError(f"the request body is not valid JSON: {e}") from None
    check_value(value, limits, surrogates=bool(_SURROGATE_ESCAPE.search(raw)))
    return Decoded(value, _duplicate_paths(value, holders))


# ---- YAML ---------------------------------------------------------------------------------------

class _DepthComposer(Composer):
    """PyYAML's composer with a nesting limit, so deep documents cannot exhaust the stack."""

    max_depth = Limits().max_depth
    _depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._depth += 1
        try:
            if self._depth > self.max_depth:
                raise BadRequestError(f"the YAML document is nested too deeply (max depth {self.max_depth})")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _refuse(tag: str, why: str) -> Any:
    def construct(loader: yaml.SafeLoader, node: Node) -> Any:
        raise BadRequestError(f"YAML {tag} values are not supported ({why}), at line {node.start_mark.line + 1}")
    return construct


class JsonYamlLoader(_DepthComposer, yaml.SafeLoader):
    """SafeLoader that builds only JSON values: timestamps stay strings, non-JSON types are refused."""

    def construct_yaml_float(self, node: ScalarNode) -> Any:
        value = super().construct_yaml_float(node)
        if not math.isfinite(value):
            raise BadRequestError(f'YAML value "{node.value}" at line {node.start_mark.line + 1} is not a JSON '
                                  "number")
        return value

    def construct_timestamp_as_text(self, node: ScalarNode) -> str:
        return str(node.value)

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        """Keys are the text written (`1: a`, `true: b` -> "1", "true"), as sigs.k8s.io/yaml makes them."""
        self.flatten_mapping(node)
        out: dict[Hashable, Any] = {}
        for key, value in node.value:
            if not isinstance(key, ScalarNode):
                raise BadRequestError(f"YAML mapping keys must be strings (line {key.start_mark.line + 1})")
            out[str(key.value)] = self.construct_object(value, deep=deep)
        return out


JsonYamlLoader.add_constructor("tag:yaml.org,2002:float", JsonYamlLoader.construct_yaml_float)
JsonYamlLoader.add_constructor("tag:yaml.org,2002:timestamp", JsonYamlLoader.construct_timestamp_as_text)
for _tag, _why in (("!!binary", "base64-encode into a string"), ("!!set", "use a list"),
                   ("!!omap", "use a mapping"), ("!!pairs", "use a mapping")):
    JsonYamlLoader.add_constructor(f"tag:yaml.org,2002:{_tag[2:]}", _refuse(_tag, _why))


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def check_node_graph(root: Node, limits: Limits) -> None:
    """Refuse recursive aliases, alias expansion past the budget and expanded nesting past the limit.

    The composed graph shares one node per anchor; `size` and `height` are what the document
    becomes once every alias is expanded, computed in one post-order pass (memoized per node)."""
    size: dict[int, int] = {}
    height: dict[int, int] = {}
    distinct = 0
    active: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            kids = _children(node)
            size[key] = 1 + sum(size[id(k)] for k in kids)
            height[key] = 1 + max((height[id(k)] for k in kids), default=0) if kids else 0
            active.discard(key)
            distinct += 1
            if size[key] - distinct > limits.max_alias_nodes:
                raise BadRequestError(f"the YAML document expands to too many nodes through aliases (more "
                                      f"than {limits.max_alias_nodes} added; anchors/aliases, line "
                                      f"{node.start_mark.line + 1})")
            continue
        if key in size:
            continue
        if key in active:
            raise BadRequestError(f"the YAML document has a recursive alias at line {node.start_mark.line + 1}")
        active.add(key)
        stack.append((node, True))
        stack.extend((k, False) for k in _children(node) if id(k) not in size)
    if height[id(root)] > limits.max_depth:
        raise BadRequestError(f"the YAML document is nested too deeply (max depth {limits.max_depth})")


def _yaml_duplicates(root: Node) -> list[str]:
    """Paths of keys given twice in one mapping, and a refusal of non-scalar keys."""
    out: list[str] = []
    stack: list[tuple[Node, tuple[str | int, ...]]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, SequenceNode):
            stack.extend((n, (*path, i)) for i, n in enumerate(node.value))
        elif isinstance(node, MappingNode):
            seen: set[str] = set()
            for k, v in node.value:
                if not isinstance(k, ScalarNode):
                    raise BadRequestError(f"{path_of(path) or 'the document'}: mapping keys must be strings "
                                          f"(line {k.start_mark.line + 1})")
                if k.tag == "tag:yaml.org,2002:merge":
                    continue
                if k.value in seen:
                    out.append(path_of((*path, k.value)))
                seen.add(k.value)
                stack.append((v, (*path, k.value)))
    return sorted(set(out))


def decode_yaml_documents(raw: bytes, limits: Limits = Limits()) -> list[Any]:
    """Every document of a YAML stream (a manifest file), each bounded and checked as `decode_yaml`
    checks a body; an empty document is None. Errors say "the YAML" (the caller names the file)."""
    try:
        loader = JsonYamlLoader(raw)
    except yaml.YAMLError as e:
        raise BadRequestError(f"the YAML is not valid: {e}") from None
    loader.max_depth = limits.max_depth
    docs: list[Any] = []
    try:
        while loader.check_node():
            root = loader.get_node()
            if root is not None:
                check_node_graph(root, limits)
            docs.append(None if root is None else loader.construct_document(root))
            check_value(docs[-1], limits)
    except yaml.YAMLError as e:
        raise BadRequestError(f"the YAML is not valid: {e}") from None
    except (TypeError, ValueError) as e:
        raise BadRequestError(f"the YAML is not valid: {e}") from None
    finally:
        loader.dispose()
    return docs


def decode_yaml(raw: bytes, limits: Limits = Limits()) -> Decoded:
    try:
        loader = JsonYamlLoader(raw)
    except yaml.YAMLError as e:   # the reader checks the encoding and characters up front
        raise BadRequestError(f"the request body is not valid YAML: {e}") from None
    loader.max_depth = limits.max_depth
    try:
        root = loader.get_single_node()
        if root is None:
            return Decoded(None)
        check_node_graph(root, limits)
        duplicates = _yaml_duplicates(root)
        value = loader.construct_document(root)
    except yaml.YAMLError as e:
        raise BadRequestError(f"the request body is not valid YAML: {e}") from None
    except (TypeError, ValueError) as e:   # e.g. an unhashable merge target the constructor trips on
        raise BadRequestError(f"the request body is not valid YAML: {e}") from None
    finally:
        loader.dispose()
    check_value(value, limits)
    return Decoded(value, duplicates)
