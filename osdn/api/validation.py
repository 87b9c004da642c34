"""Shared field checks for API validation: IPv4 addresses and CIDRs, DNS-1123 names, ports, IANA
service names, and the kube-style FieldError constructors the kind validators use.

Pure: no I/O, no clock. Every `validate_*` function returns a list of FieldErrors (empty when the
value is fine) and never raises for bad input; `parse_*` functions return None for bad input.
Messages follow Kubernetes / OpenShift wording where the reference gives one.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable
from typing import Any

from osdn.errors import FieldError

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_IANA_SVC_NAME = re.compile(r"^[-a-z0-9]+$")
_HAS_LETTER = re.compile(r"[a-z]")

PROTOCOLS = ("TCP", "UDP", "SCTP")
AnyNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DNS1123_LABEL_MSG = ("a DNS-1123 label must consist of lower case alphanumeric characters or '-', start and "
                     "end with an alphanumeric character, and be at most 63 characters")
DNS1123_SUBDOMAIN_MSG = ("a DNS-1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                         "must start and end with an alphanumeric character, and be at most 253 characters")


# ---- FieldError constructors (kube field.Required / Invalid / NotSupported / Duplicate / Forbidden)

def show(value: Any) -> str:
    """A value as the user wrote it, JSON-style: strings quoted, numbers and booleans bare."""
    try:
        return json.dumps(value, sort_keys=True)
    except (TypeError, ValueError):
        return repr(value)


def required(path: str, detail: str = "") -> FieldError:
    return FieldError(path, f"Required value: {detail}" if detail else "Required value", "FieldValueRequired")


def invalid(path: str, value: Any, detail: str) -> FieldError:
    return FieldError(path, f"Invalid value: {show(value)}: {detail}")


def not_supported(path: str, value: Any, allowed: Iterable[str]) -> FieldError:
    choices = ", ".join(f'"{a}"' for a in allowed)
    return FieldError(path, f"Unsupported value: {show(value)}: supported values: {choices}",
                      "FieldValueNotSupported")


def duplicate(path: str, value: Any) -> FieldError:
    return FieldError(path, f"Duplicate value: {show(value)}", "FieldValueDuplicate")


def forbidden(path: str, detail: str) -> FieldError:
    return FieldError(path, f"Forbidden: {detail}", "FieldValueForbidden")


def too_many(path: str, detail: str) -> FieldError:
    return FieldError(path, detail, "FieldValueTooMany")


# ---- IPv4 addresses and CIDRs

def parse_ipv4(value: Any) -> ipaddress.IPv4Address | None:
    if not isinstance(value, str):
        return None
    try:
        return ipaddress.IPv4Address(value)
    except ValueError:
        return None


def parse_ip(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not isinstance(value, str):
        return None
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def parse_cidr(value: Any) -> ipaddress.IPv4Network | None:
    """A canonical IPv4 CIDR (`10.1.0.0/16`), else None."""
    if not isinstance(value, str) or "/" not in value:
        return None
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError:
        return None
    return net if isinstance(net, ipaddress.IPv4Network) else None


def parse_cidr_sloppy(value: Any) -> AnyNetwork | None:
    """Any IPv4 or IPv6 CIDR, host bits allowed (Kubernetes ipBlock style); the network it names."""
    if not isinstance(value, str) or "/" not in value:
        return None
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None


def validate_ipv4(value: Any, path: str) -> list[FieldError]:
    if parse_ipv4(value) is None:
        return [invalid(path, value, "must be a valid IPv4 address")]
    return []


def cidr_problem(value: Any) -> str | None:
    """Why `value` is not a canonical IPv4 CIDR (OpenShift wording), or None."""
    if not isinstance(value, str) or not value:
        return f"invalid CIDR address: {show(value)}"
    try:
        iface = ipaddress.ip_interface(value) if "/" in value else None
    except ValueError:
        iface = None
    if iface is None:
        return f"invalid CIDR address: {value}"
    if iface.version != 4:
        return "must be an IPv4 network"
    net = iface.network
    if str(iface.ip) != str(net.network_address):
        return (f'CIDR network specification "{value}" is not in canonical form (should be '
                f"{net.network_address}/{net.prefixlen} or {iface.ip}/32?)")
    return None


def validate_cidr(value: Any, path: str) -> list[FieldError]:
    """Canonical IPv4 CIDR check (`10.1.2.0/24` ok; `10.1.2.3/24`, IPv6, `""` rejected)."""
    problem = cidr_problem(value)
    return [invalid(path, value, problem)] if problem else []


# ---- names

def is_dns1123_label(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= 63 and bool(_DNS1123_LABEL.match(value))


def is_dns1123_subdomain(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= 253 and bool(_DNS1123_SUBDOMAIN.match(value))


def validate_dns1123_label(value: Any, path: str) -> list[FieldError]:
    return [] if is_dns1123_label(value) else [invalid(path, value, DNS1123_LABEL_MSG)]


def validate_dns1123_subdomain(value: Any, path: str) -> list[FieldError]:
    return [] if is_dns1123_subdomain(value) else [invalid(path, value, DNS1123_SUBDOMAIN_MSG)]


_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
DNS1035_LABEL_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
                     "alphabetic character, and end with an alphanumeric character, and be at most 63 characters")
MAX_PATH_SEGMENT_NAME = 253
# How each kind's metadata.name is checked (Kubernetes: RBAC kinds are path segments; namespaces are
# DNS-1123 labels; services DNS-1035 labels; most others DNS-1123 subdomains, the default here).
PATH_SEGMENT_NAMED = frozenset({"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"})
LABEL_NAMED = frozenset({"Namespace", "Project", "NetNamespace"})
DNS1035_NAMED = frozenset({"Service"})


def path_segment_problem(value: str) -> str | None:
    """Kubernetes IsValidPathSegmentName, plus: no control characters, at most 253 characters."""
    if value in (".", ".."):
        return f"may not be '{value}'"
    for bad in ("/", "%"):
        if bad in value:
            return f"may not contain '{bad}'"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return "may not contain control characters (newline, tab, ...)"
    if len(value) > MAX_PATH_SEGMENT_NAME:
        return f"must be no more than {MAX_PATH_SEGMENT_NAME} characters"
    return None


def validate_object_name(kind: str, name: str, path: str = "metadata.name") -> list[FieldError]:
    """`name` as the name of a `kind` object (the rule of that kind, see the sets above)."""
    if kind in PATH_SEGMENT_NAMED:
        problem = path_segment_problem(name)
        return [invalid(path, name, problem)] if problem else []
    if kind in LABEL_NAMED:
        return validate_dns1123_label(name, path)
    if kind in DNS1035_NAMED:
        ok = len(name) <= 63 and bool(_DNS1035_LABEL.match(name))
        return [] if ok else [invalid(path, name, DNS1035_LABEL_MSG)]
    return validate_dns1123_subdomain(name, path)


def iana_svc_name_problem(value: Any) -> str | None:
    """Kubernetes IsValidPortName: <=15 chars, [-a-z0-9], a letter, no leading/trailing/double '-'."""
    if not isinstance(value, str):
        return "must be a string"
    if not 1 <= len(value) <= 15:
        return "must be no more than 15 characters"
    if not _IANA_SVC_NAME.match(value):
        return "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"
    if "--" in value:
        return "must not contain consecutive hyphens"
    if not _HAS_LETTER.search(value):
        return "must contain at least one letter (a-z)"
    if value.startswith("-") or value.endswith("-"):
        return "must not begin or end with a hyphen"
    return None


def validate_port_name(value: Any, path: str) -> list[FieldError]:
    problem = iana_svc_name_problem(value)
    return [invalid(path, value, problem)] if problem else []


# ---- numbers

def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_port_number(value: Any, path: str) -> list[FieldError]:
    if not is_int(value) or not 1 <= value <= 65535:
        return [invalid(path, value, "must be between 1 and 65535, inclusive")]
    return []


def validate_port_num_or_name(value: Any, path: str) -> list[FieldError]:
    """IntOrString port: a number 1..65535 or an IANA service name."""
    if is_int(value):
        return validate_port_number(value, path)
    return validate_port_name(value, path)


def validate_protocol(value: Any, path: str) -> list[FieldError]:
    return [] if value in PROTOCOLS else [not_supported(path, value, PROTOCOLS)]


def validate_non_negative(value: Any, path: str) -> list[FieldError]:
    if value is not None and (not is_int(value) or value < 0):
        return [invalid(path, value, "must be greater than or equal to 0")]
    return []


# ---- project annotations

ACTIVE_DEADLINE_OVERRIDE = "openshift.io/active-deadline-seconds-override"
_DIGITS = re.compile(r"^[0-9]+$")


def validate_deadline_override(annotations: dict[str, str] | None) -> list[FieldError]:
    """The RunOnceDuration annotation of a Project/Namespace: a string of digits (seconds), if present."""
    value = (annotations or {}).get(ACTIVE_DEADLINE_OVERRIDE)
    if value is None or _DIGITS.match(value):
        return []
    return [invalid(f"metadata.annotations[{ACTIVE_DEADLINE_OVERRIDE}]", value,
                    "must be a non-negative integer number of seconds, as a string")]



# ---- upstream's message lists (k8s.io/apimachinery/pkg/util/validation), word for word

_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_LABEL_KEY_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_KEY_RE = re.compile(f"^{_LABEL_KEY_FMT}$")
_LABEL_VALUE_RE = re.compile(f"^({_LABEL_KEY_FMT})?$")
_CONFIG_KEY_RE = re.compile(r"^[-._a-zA-Z0-9]+$")
_LABEL_KEY_MSG = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    """kube's RegexError: the message, its examples and the regex (examples joined as upstream does)."""
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    shown = "".join(("" if i == 0 else " or ") + f"'{e}', " for i, e in enumerate(examples))
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


def inclusive_range_error(lo: int, hi: int) -> str:
    return f"must be between {lo} and {hi}, inclusive"


def dns1123_label_problems(value: str) -> list[str]:
    """IsDNS1123Label."""
    out = [f"must be no more than {63} characters"] if len(value) > 63 else []
    if not _DNS1123_LABEL.match(value):
        out.append("must not contain dots" if _DNS1123_SUBDOMAIN.match(value) else regex_error(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
            "and end with an alphanumeric character", _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return out


def dns1123_subdomain_problems(value: str, prefix: bool = False) -> list[str]:
    """IsDNS1123Subdomain (NameIsDNSSubdomain: `prefix` allows a trailing '-' of a generateName)."""
    checked = value[:-1] if prefix and value.endswith("-") else value
    out = [f"must be no more than {253} characters"] if len(value) > 253 else []
    if not _DNS1123_SUBDOMAIN.match(checked):
        out.append(regex_error("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                               "'-' or '.', and must start and end with an alphanumeric character",
                               _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return out


def qualified_name_problems(value: str) -> list[str]:
    """IsQualifiedName (a label key: an optional DNS subdomain prefix and '/', then a name)."""
    parts = value.split("/")
    if len(parts) > 2:
        return ["a valid label key " + regex_error(_LABEL_KEY_MSG, _LABEL_KEY_FMT, "MyName", "my.name", "123-abc")
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    out: list[str] = []
    if len(parts) == 2:
        prefix = parts[0]
        out += ["prefix part must be non-empty"] if not prefix else \
            [f"prefix part {m}" for m in dns1123_subdomain_problems(prefix)]
    name = parts[-1]
    if not name:
        out.append("name part must be non-empty")
    elif len(name) > 63:
        out.append("name part must be no more than 63 characters")
    if not _LABEL_KEY_RE.match(name):
        out.append("name part " + regex_error(_LABEL_KEY_MSG, _LABEL_KEY_FMT, "MyName", "my.name", "123-abc"))
    return out


def label_value_problems(value: str) -> list[str]:
    """IsValidLabelValue."""
    out = ["must be no more than 63 characters"] if len(value) > 63 else []
    if not _LABEL_VALUE_RE.match(value):
        out.append(regex_error("a valid label must be an empty string or consist of alphanumeric characters, '-', "
                               "'_' or '.', and must start and end with an alphanumeric character",
                               f"({_LABEL_KEY_FMT})?", "MyValue", "my_value", "12345"))
    return out


def port_name_problems(value: str) -> list[str]:
    """IsValidPortName: every rule the name breaks, in upstream's order."""
    out = ["must be no more than 15 characters"] if len(value) > 15 else []
    if not _IANA_SVC_NAME.match(value):
        out.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not _HAS_LETTER.search(value):
        out.append("must contain at least one letter (a-z)")
    if "--" in value:
        out.append("must not contain consecutive hyphens")
    if value.startswith("-") or value.endswith("-"):
        out.append("must not begin or end with a hyphen")
    return out


def config_key_problems(value: str) -> list[str]:
    """IsConfigMapKey (a key of a ConfigMap or Secret)."""
    out = ["must be no more than 253 characters"] if len(value) > 253 else []
    if not _CONFIG_KEY_RE.match(value):
        out.append(regex_error("a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                               "[-._a-zA-Z0-9]+", "key.name", "KEY_NAME", "key-name"))
    if value in (".", ".."):
        out.append(f"must not be '{value}'")
    elif value.startswith(".."):
        out.append("must not start with '..'")
    return out


def invalid_each(path: str, value: Any, problems: list[str]) -> list[FieldError]:
    """One Invalid error per problem, as upstream's `for _, msg := range ...` loops."""
    return [invalid(path, value, p) for p in problems]


def not_found(path: str, value: Any) -> FieldError:
    return FieldError(path, f"Not found: {show(value)}", "FieldValueNotFound")
