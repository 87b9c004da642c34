"""The HSTS annotation as the upstream OpenShift router reads it. Pure (used by the API and the router).

The router's template keeps `haproxy.router.openshift.io/hsts_header` only if the *whole* value
matches `(?i)(?:T\\s*;\\s*)*max-age\\s*=\\s*(?:\\d+|"\\d+")(?:\\s*;\\s*T)*` with T =
`includeSubDomains|preload`, and then emits it verbatim
(`http-response set-header Strict-Transport-Security '<value>'`), on edge and reencrypt routes only.
Any other value is silently ignored by the router: no header. `ignored_because` says why, for the
API's Warning header. The pattern is Go's RE2: `\\s` is `[\\t\\n\\f\\r ]` (no vertical tab, no
Unicode spaces), `\\d` is `[0-9]`, and `(?i)` folds a letter with its simple case-fold orbit only
(`s` also matches `ſ` U+017F, but `i` does not match `İ` U+0130, as Python's re.I would).
"""

from __future__ import annotations

import re

ANNOTATION = "haproxy.router.openshift.io/hsts_header"  # the same as osdn.api.kinds.route.HSTS_ANNOTATION
_SPACE, _DIGIT = r"[\t\n\f\r ]", "[0-9]"  # RE2's \s and \d
_FOLD_EXTRA = {"k": "\u212a", "s": "\u017f"}  # Go's unicode.SimpleFold orbits beyond ASCII (KELVIN, LONG S)


def _fold(word: str) -> str:
    """`word` as RE2 matches it under (?i): each letter by its case-fold orbit."""
    return "".join(f"[{c.lower()}{c.upper()}{_FOLD_EXTRA.get(c.lower(), '')}]" if c.isalpha() else re.escape(c)
                   for c in word)


_TOKEN = f"(?:{_fold('includeSubDomains')}|{_fold('preload')})"
_AGE = f"{_fold('max-age')}{_SPACE}*={_SPACE}*(?:{_DIGIT}+|\"{_DIGIT}+\")"
PATTERN = re.compile(f"\\A(?:{_TOKEN}{_SPACE}*;{_SPACE}*)*{_AGE}(?:{_SPACE}*;{_SPACE}*{_TOKEN})*\\Z")
_MAX_AGE = re.compile(f"\\A{_AGE}\\Z")
TLS_TERMINATIONS = ("edge", "reencrypt")


def hsts_header(value: str | None, termination: str | None) -> str | None:
    """The Strict-Transport-Security value the router sends for a route, or None (no header)."""
    if value is None or termination not in TLS_TERMINATIONS:
        return None
    return value if PATTERN.match(value) else None


def ignored_because(value: str) -> str | None:
    """Why the router would ignore this annotation value, or None if it would use it."""
    if PATTERN.match(value):
        return None
    if value != value.strip():
        return "the value must not start or end with white space"
    directives = [d.strip() for d in value.split(";")]
    max_ages = [d for d in directives if _MAX_AGE.match(d)]
    if not max_ages:
        return "max-age=N (or max-age=\"N\") is required"
    if len(max_ages) > 1:
        return "max-age appears more than once"
    for d in directives:
        if not _MAX_AGE.match(d) and d.lower() not in ("includesubdomains", "preload"):
            return f"unknown directive {d!r} (allowed: max-age=N, includeSubDomains, preload)"
    if any(c.isspace() and c not in " \t\n\f\r" for c in value):
        return "only spaces, tabs, CR, LF and form feeds may surround ';' and '='"
    return "directives must be separated by ';'"
