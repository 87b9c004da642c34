"""The HSTS annotation as the upstream OpenShift router reads it. Pure (used by the API and the router).

The router's template keeps `haproxy.router.openshift.io/hsts_header` only if the *whole* value
matches `(?i)(?:T\\s*;\\s*)*max-age\\s*=\\s*(?:\\d+|"\\d+")(?:\\s*;\\s*T)*` with T =
`includeSubDomains|preload`, and then emits it verbatim
(`http-response set-header Strict-Transport-Security '<value>'`), on edge and reencrypt routes only.
Any other value is silently ignored by the router: no header. `ignored_because` says why, for the
API's Warning header.
"""

from __future__ import annotations

import re

ANNOTATION = "haproxy.router.openshift.io/hsts_header"  # the same as osdn.api.kinds.route.HSTS_ANNOTATION
_TOKEN = r"(?:includeSubDomains|preload)"
PATTERN = re.compile(rf"(?i)\A(?:{_TOKEN}\s*[;]\s*)*max-age\s*=\s*(?:\d+|\"\d+\")(?:\s*[;]\s*{_TOKEN})*\Z")
_MAX_AGE = re.compile(r'(?i)\Amax-age\s*=\s*(?:\d+|"\d+")\Z')
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
    return "directives must be separated by ';'"
