"""Required HSTS policies: `spec.requiredHSTSPolicies` of config.openshift.io/v1 Ingress `cluster`. Pure.

As OpenShift's `route.openshift.io/RequiredRouteAnnotations` admission plugin (openshift-apiserver)
judges a route: the first policy whose `namespaceSelector` (absent: every namespace) matches the
route's namespace and one of whose `domainPatterns` (Go `filepath.Match` globs: `*` does not cross a
`/`, a malformed pattern is skipped) matches `spec.host` or a `status.ingress[].host` decides; no
matching policy, no requirement. The route's annotation is read as that plugin reads it, not as the
router does: spaces removed, lower-cased, `max-age=(\\d+)` found anywhere (a quoted value is not
read), a 32-bit number; `includeSubDomains` and `preload` as whole `;`-separated tokens, anything else
ignored. A missing annotation fails like a missing max-age. Then, in order: largestMaxAge,
smallestMaxAge, preloadPolicy, includeSubDomainsPolicy. Messages are upstream's, byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from osdn.api.labels import from_label_selector
from osdn.errors import OsdnError

MAX_AGE_MISSING = "HSTS max-age must be set correctly in HSTS annotation"
MAX_AGE_GREATER = "HSTS max-age is greater than maximum age {}s"
MAX_AGE_LESS = "HSTS max-age is less than minimum age {}s"
PRELOAD_MUST = "HSTS preload must be specified"
PRELOAD_MUST_NOT = "HSTS preload must not be specified"
INCLUDE_MUST = "HSTS includeSubDomains must be specified"
INCLUDE_MUST_NOT = "HSTS includeSubDomains must not be specified"
PRELOAD_POLICIES = ("RequirePreload", "RequireNoPreload", "NoOpinion")
INCLUDE_POLICIES = ("RequireIncludeSubDomains", "RequireNoIncludeSubDomains", "NoOpinion")
INT32_MAX = 2**31 - 1
_MAX_AGE = re.compile(r"max-age=([0-9]+)")
_GO_LOWER = str.maketrans({"\u0130": "i", "\u212a": "k"})  # Go's simple lower case where Python's differs
_GO_FOLD = str.maketrans({"\u017f": "s"})  # strings.EqualFold's extra fold (LATIN SMALL LETTER LONG S)

Obj = Mapping[str, Any]


class BadPattern(ValueError):
    """path/filepath.ErrBadPattern."""


@dataclass(frozen=True)
class RouteHSTS:
    max_age: int
    preload: bool
    include_subdomains: bool


def route_hsts(value: str | None) -> RouteHSTS | str:
    """The annotation as the admission plugin reads it, or the message it refuses it with."""
    trimmed = (value or "").replace(" ", "").translate(_GO_LOWER).lower()
    tokens = [t.translate(_GO_FOLD) for t in trimmed.split(";")]
    m = _MAX_AGE.search(trimmed)
    if m is None:
        return MAX_AGE_MISSING
    age = int(m.group(1))
    if age > INT32_MAX:
        return f'strconv.ParseInt: parsing "{m.group(1)}": value out of range'
    return RouteHSTS(age, "preload" in tokens, "includesubdomains" in tokens)


def meets(hsts: RouteHSTS, policy: Obj) -> str | None:
    """Why `hsts` does not meet `policy` (one RequiredHSTSPolicy), None when it does."""
    max_age = policy.get("maxAge") or {}
    largest, smallest = max_age.get("largestMaxAge"), max_age.get("smallestMaxAge")
    if largest is not None and hsts.max_age > largest:
        return MAX_AGE_GREATER.format(largest)
    if smallest is not None and hsts.max_age < smallest:
        return MAX_AGE_LESS.format(smallest)
    preload, include = policy.get("preloadPolicy") or "", policy.get("includeSubDomainsPolicy") or ""
    if preload == "RequirePreload" and not hsts.preload:
        return PRELOAD_MUST
    if preload == "RequireNoPreload" and hsts.preload:
        return PRELOAD_MUST_NOT
    if include == "RequireIncludeSubDomains" and not hsts.include_subdomains:
        return INCLUDE_MUST
    if include == "RequireNoIncludeSubDomains" and hsts.include_subdomains:
        return INCLUDE_MUST_NOT
    return None


def glob_match(pattern: str, name: str) -> bool:
    """Go's `path/filepath.Match` on Linux; raises BadPattern for a malformed pattern."""
    return re.fullmatch(_glob_regex(pattern), name, re.S) is not None


def _glob_regex(pattern: str) -> str:
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            cls, i = _glob_class(pattern, i + 1)
            out.append(cls)
            continue
        elif c == "\\":
            if i + 1 >= len(pattern):
                raise BadPattern("syntax error in pattern")
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def _glob_class(pattern: str, i: int) -> tuple[str, int]:
    """A `[...]` class starting after its `[`: (regex, index after its `]`)."""
    negate = i < len(pattern) and pattern[i] == "^"
    i += negate
    ranges: list[str] = []
    while True:
        if i < len(pattern) and pattern[i] == "]" and ranges:
            break
        lo, i = _glob_char(pattern, i)
        hi = lo
        if i < len(pattern) and pattern[i] == "-":
            hi, i = _glob_char(pattern, i + 1)
            if hi < lo:
                raise BadPattern("syntax error in pattern")
        ranges.append(f"{re.escape(lo)}-{re.escape(hi)}")
    body = "".join(ranges)
    return (f"[^{body}]" if negate else f"[{body}]"), i + 1  # a class may match a `/`, unlike `?` and `*`


def _glob_char(pattern: str, i: int) -> tuple[str, int]:
    if i >= len(pattern) or pattern[i] in "-]":
        raise BadPattern("syntax error in pattern")
    if pattern[i] == "\\":
        i += 1
        if i >= len(pattern):
            raise BadPattern("syntax error in pattern")
    return pattern[i], i + 1


def _domain_matches(patterns: Sequence[Any], hosts: Sequence[str]) -> bool:
    for pattern in patterns:
        for host in hosts:
            try:
                if glob_match(str(pattern), host):
                    return True
            except BadPattern:
                continue  # upstream logs it and goes on
    return False


def _route_hosts(route: Obj) -> list[str]:
    hosts = [str((route.get("spec") or {}).get("host") or "")]
    for ingress in (route.get("status") or {}).get("ingress") or []:
        hosts.append(str((ingress or {}).get("host") or ""))
    return hosts


def _namespace_matches(selector: Obj | None, labels: Mapping[str, str]) -> bool | str:
    if selector is None:
        return True
    try:
        return from_label_selector(selector).matches(labels)
    except OsdnError as exc:
        return exc.message


def violation(policies: Sequence[Obj], route: Obj, namespace_labels: Mapping[str, str]) -> str | None:
    """The message the plugin refuses `route` (an edge/reencrypt one) with, None when it is admitted."""
    for policy in policies:
        in_namespace = _namespace_matches(policy.get("namespaceSelector"), namespace_labels)
        if isinstance(in_namespace, str):
            return in_namespace
        if not in_namespace or not _domain_matches(policy.get("domainPatterns") or [], _route_hosts(route)):
            continue
        annotations = (route.get("metadata") or {}).get("annotations") or {}
        hsts = route_hsts(annotations.get("haproxy.router.openshift.io/hsts_header"))
        return hsts if isinstance(hsts, str) else meets(hsts, policy)
    return None
