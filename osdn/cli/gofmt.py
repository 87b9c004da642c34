"""Values printed as Go prints them, for the kubectl-compatible template printers. Pure.

kubectl's jsonpath, custom-columns and go-template printers run over decoded JSON and print with
Go's `fmt`: `true`, `3`, `2.5`, `map[a:1 b:2]`, `[x y]`, `<nil>`. `sprint` is `fmt.Sprint` of such
a value, `to_json` is `json.Marshal` (compact, sorted keys), `sprintf` is `fmt.Sprintf` for the
verbs templates use (%s %v %d %q %t %f %g %e %x %X %o %c %%, with flags, width and precision).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

_VERB = re.compile(r"%([-+# 0]*)(\d+|\*)?(?:\.(\d+|\*)?)?([a-zA-Z%])")


def sprint(value: Any) -> str:
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{sprint(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(sprint(v) for v in value) + "]"
    return str(value)


def _float(value: float) -> str:
    """Go's %v for float64: the shortest representation, exponent form from 1e21 up."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    if "e" in text:
        mantissa, exp = text.split("e")
        return f"{mantissa}e{'-' if exp.startswith('-') else '+'}{abs(int(exp)):02d}"
    return text


def _go_numbers(value: Any) -> Any:
    """Whole floats as ints, as Go's encoding/json writes float64 (1.0 -> 1)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    if isinstance(value, dict):
        return {k: _go_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_go_numbers(v) for v in value]
    return value


def to_json(value: Any) -> str:
    return json.dumps(_go_numbers(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _quote(value: Any) -> str:
    return json.dumps(value if isinstance(value, str) else sprint(value), ensure_ascii=False)


def _number(value: Any, verb: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"%{verb} needs a number, not {sprint(value)!r}")
    return value


def _spec(flags: str, width: str) -> str:
    """Go's flags and width as a Python format spec (`-` is left-justify in Go)."""
    align = "<" if "-" in flags else ""
    sign = "+" if "+" in flags else (" " if " " in flags else "")
    return align + sign + ("#" if "#" in flags else "") + ("0" if "0" in flags and not align else "") + width


def _format_one(flags: str, width: str, precision: str | None, verb: str, value: Any) -> str:
    spec = _spec(flags, width)
    if value is None and verb != "v":
        return f"%!{verb}(<nil>)"
    if verb in "sv":
        text = sprint(value)
        return format(text[:int(precision)] if precision else text, ("<" if "-" in flags else ">") + width)
    if verb == "q":
        return format(_quote(value), ("<" if "-" in flags else ">") + width)
    if verb == "t":
        return format(sprint(value), ("<" if "-" in flags else ">") + width)
    if verb == "d":
        return format(int(_number(value, verb)), spec + "d")
    if verb in "fFeEgG":
        prec = f".{precision}" if precision is not None else ("" if verb in "gG" else ".6")
        return format(float(_number(value, verb)), spec + prec + verb.lower())
    if verb in "xXo":
        if isinstance(value, str):
            text = value.encode().hex()
            return text.upper() if verb == "X" else text
        return format(int(_number(value, verb)), spec + verb)
    if verb == "c":
        return chr(int(_number(value, verb)))
    raise ValueError(f"unknown verb %{verb}")


def sprintf(fmt: str, *args: Any) -> str:
    """Go's fmt.Sprintf: a missing argument prints `%!v(MISSING)`, extra ones `%!(EXTRA ...)`."""
    out: list[str] = []
    pos = 0
    remaining = list(args)
    for m in _VERB.finditer(fmt):
        out.append(fmt[pos:m.start()])
        pos = m.end()
        flags, width, precision, verb = m.group(1), m.group(2) or "", m.group(3), m.group(4)
        if verb == "%":
            out.append("%")
            continue
        if not remaining:
            out.append(f"%!{verb}(MISSING)")
            continue
        value = remaining.pop(0)
        try:
            out.append(_format_one(flags, width, precision, verb, value))
        except (ValueError, TypeError):
            out.append(f"%!{verb}({sprint(value)})")
    out.append(fmt[pos:])
    if remaining:
        out.append("%!(EXTRA " + ", ".join(sprint(v) for v in remaining) + ")")
    return "".join(out)
