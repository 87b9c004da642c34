"""Shared grammar pieces of the upstream egress scripts, reproduced exactly. Pure.

The scripts read their multi-line variables with `while read dest; do ... done <<< "$VAR"` and match
lines with bash `[[ =~ ]]` (POSIX ERE, C-locale classes). `read_lines` reproduces `read` without
`-r`: a backslash escapes the next character (and is removed), a backslash before a newline joins
the two lines, leading and trailing spaces/tabs are trimmed (escaped ones are kept). `bash_int`
reproduces the arithmetic of `[[ $p -lt 1 ]]`: a leading 0 means octal, and an invalid number is an
error (None) that makes the test false, so such a port passes validation (reference A.3).
"""

from __future__ import annotations

import re

IP = r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+"
PORT = r"[0-9]+"
ALNUM = r"A-Za-z0-9"
SPACE = " \t\n\r\f\v"
_SKIP = re.compile(r"(?:[" + SPACE + r"]*|#.*)", re.S)
_IFS_WS = " \t\n"


class EgressConfigError(Exception):
    """A configuration the upstream script refuses: `message` is its last output line, byte for byte."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def read_lines(text: str) -> list[str]:
    """The values `while read dest` yields for `<<< "$text"` (bash `read` without -r, default IFS)."""
    return [line for _, line in read_numbered(text)]


def read_numbered(text: str) -> list[tuple[int, str]]:
    """`read_lines`, each value with the 1-based number of the physical line it starts on."""
    out: list[tuple[int, str]] = []
    chars: list[tuple[str, bool]] = []  # (character, escaped)
    i, data, number, start = 0, text + "\n", 1, 1
    while i < len(data):
        c = data[i]
        if c == "\\" and i + 1 < len(data):
            if data[i + 1] != "\n":
                chars.append((data[i + 1], True))
            else:
                number += 1
            i += 2
            continue
        if c == "\n":
            out.append((start, _trim(chars)))
            chars, number = [], number + 1
            start = number
        elif c != "\\":
            chars.append((c, False))
        i += 1
    return out


def _trim(chars: list[tuple[str, bool]]) -> str:
    start, end = 0, len(chars)
    while start < end and chars[start][0] in _IFS_WS and not chars[start][1]:
        start += 1
    while end > start and chars[end - 1][0] in _IFS_WS and not chars[end - 1][1]:
        end -= 1
    return "".join(c for c, _ in chars[start:end])


def is_skip(line: str) -> bool:
    """`^([[:space:]]*$|#.*)$`: a blank or comment line (redirect and DNS proxy grammars)."""
    return _SKIP.fullmatch(line) is not None


def bash_int(text: str) -> int | None:
    """The value bash arithmetic gives a string of digits (leading 0: octal), None on an error.
    Past 2^64 (where bash wraps) the value is 2^64: no port, and never Python's 4,300-digit ValueError."""
    if len(text) > 1 and text.startswith("0"):
        return big_int(text, 8) if all(c in "01234567" for c in text) else None
    return big_int(text, 10)


def big_int(digits: str, base: int = 10) -> int:
    """int(digits, base), or 2^64 when the value is at least that."""
    significant = digits.lstrip("0")
    return 2 ** 64 if len(significant) > 22 else min(int(significant or "0", base), 2 ** 64)


def port_error(text: str) -> str | None:
    """The upstream `validate_port` message for `text`, or None when bash would accept it."""
    value = bash_int(text)
    if value is not None and (value < 1 or value > 65535):
        return f"Invalid port: {text}, must be in the range 1 to 65535"
    return None


def check_port(text: str) -> None:
    message = port_error(text)
    if message:
        raise EgressConfigError(message)
