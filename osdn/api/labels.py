"""Label selectors: the string form (`-l 'a=b,c in (x,y),!d'`) and the LabelSelector object form.

Pure. Semantics follow Kubernetes: an empty selector matches everything; a `None` LabelSelector
(absent) is handled by the caller, because its meaning differs by field (NetworkPolicy peers).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from osdn.errors import BadRequestError

_OPS = ("In", "NotIn", "Exists", "DoesNotExist")


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # In, NotIn, Exists, DoesNotExist (= and != are In/NotIn with one value)
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.operator == "Exists":
            return self.key in labels
        if self.operator == "DoesNotExist":
            return self.key not in labels
        if self.operator == "In":
            return self.key in labels and labels[self.key] in self.values
        # NotIn: also true when the key is absent (Kubernetes semantics)
        return self.key not in labels or labels[self.key] not in self.values


@dataclass(frozen=True)
class Selector:
    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements

    def __str__(self) -> str:
        parts = []
        for r in self.requirements:
            if r.operator == "Exists":
                parts.append(r.key)
            elif r.operator == "DoesNotExist":
                parts.append(f"!{r.key}")
            elif len(r.values) == 1:
                parts.append(f"{r.key}{'=' if r.operator == 'In' else '!='}{r.values[0]}")
            else:
                parts.append(f"{r.key} {r.operator.lower().replace('notin', 'notin')} ({','.join(r.values)})")
        return ",".join(parts)


_TERM = re.compile(
    r"""\s*(?:
        (?P<not>!)\s*(?P<nkey>[^\s,=!()]+)                                  # !key
      | (?P<skey>[^\s,=!()]+)\s+(?P<setop>in|notin)\s*\((?P<vals>[^)]*)\)   # key in (a,b)
      | (?P<ekey>[^\s,=!()]+)\s*(?P<eqop>==|=|!=)\s*(?P<val>[^\s,=!()]*)    # key=value
      | (?P<xkey>[^\s,=!()]+)                                               # key
    )\s*(?:,|$)""",
    re.VERBOSE,
)


def parse(text: str | None) -> Selector:
    """Parse a label selector string; raises BadRequestError naming the bad part."""
    if not text or not text.strip():
        return Selector()
    reqs: list[Requirement] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TERM.match(text, pos)
        if not m or m.end() == pos:
            raise BadRequestError(f'unable to parse label selector "{text}" at "{text[pos:]}"')
        if m.group("not"):
            reqs.append(Requirement(m.group("nkey"), "DoesNotExist"))
        elif m.group("setop"):
            vals = tuple(v.strip() for v in m.group("vals").split(",") if v.strip())
            reqs.append(Requirement(m.group("skey"), "In" if m.group("setop") == "in" else "NotIn", vals))
        elif m.group("eqop"):
            op = "NotIn" if m.group("eqop") == "!=" else "In"
            reqs.append(Requirement(m.group("ekey"), op, (m.group("val"),)))
        else:
            reqs.append(Requirement(m.group("xkey"), "Exists"))
        pos = m.end()
    return Selector(tuple(reqs))


def from_label_selector(obj: Mapping[str, Any] | None) -> Selector:
    """Selector for a LabelSelector object (`matchLabels` + `matchExpressions`); None/{} match all."""
    if not obj:
        return Selector()
    reqs = [Requirement(str(k), "In", (str(v),)) for k, v in sorted((obj.get("matchLabels") or {}).items())]
    for expr in obj.get("matchExpressions") or []:
        op = expr.get("operator")
        if op not in _OPS:
            raise BadRequestError(f'invalid label selector operator "{op}"')
        reqs.append(Requirement(str(expr.get("key")), op, tuple(str(v) for v in expr.get("values") or ())))
    return Selector(tuple(reqs))


def validate_label_selector(obj: Any, path: str) -> list[str]:
    """Problems with a LabelSelector object, as `path: message` strings (pure, no raise)."""
    if obj is None:
        return []
    if not isinstance(obj, Mapping):
        return [f"{path}: must be an object"]
    problems = []
    for i, expr in enumerate(obj.get("matchExpressions") or []):
        p = f"{path}.matchExpressions[{i}]"
        op = expr.get("operator") if isinstance(expr, Mapping) else None
        if op not in _OPS:
            problems.append(f'{p}.operator: Unsupported value: "{op}": supported values: {", ".join(_OPS)}')
            continue
        values = expr.get("values") or []
        if op in ("In", "NotIn") and not values:
            problems.append(f"{p}.values: must be specified when `operator` is 'In' or 'NotIn'")
        if op in ("Exists", "DoesNotExist") and values:
            problems.append(f"{p}.values: may not be specified when `operator` is 'Exists' or 'DoesNotExist'")
    return problems


def parse_field_selector(text: str | None) -> dict[str, tuple[str, bool]]:
    """`metadata.name=x,spec.nodeName!=n1` -> {path: (value, equal)}; only = / == / != supported."""
    out: dict[str, tuple[str, bool]] = {}
    if not text:
        return out
    for term in text.split(","):
        term = term.strip()
        if not term:
            continue
        m = re.match(r"^([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*)$", term)
        if not m:
            raise BadRequestError(f'invalid field selector "{term}": expected field=value or field!=value')
        out[m.group(1)] = (m.group(3), m.group(2) != "!=")
    return out


def field_value(obj: Mapping[str, Any], path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, Mapping):
            return ""
        cur = cur.get(part)
    return "" if cur is None else str(cur)


def match_fields(obj: Mapping[str, Any], selector: dict[str, tuple[str, bool]]) -> bool:
    return all((field_value(obj, path) == value) == equal for path, (value, equal) in selector.items())
