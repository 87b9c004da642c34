"""A container's `resources` (requests and limits), checked as kube-apiserver checks them. Pure.

Upstream's ValidateContainerResourceRequirements: every quantity parses (kube refuses a bad one while
decoding, with no field path; osdn answers 422 naming `resources.limits.<name>`); names are standard
container resources (cpu, memory, ephemeral-storage, hugepages-<size>) or domain-qualified extended
names; amounts are not negative, extended ones whole numbers; requests at most limits, and equal to them
for resources that cannot be overcommitted (extended resources, hugepages); hugepages need cpu or memory.
"""

from __future__ import annotations

from fractions import Fraction

from osdn.api import validation as v
from osdn.api.kinds.podtypes import QuantityValue, ResourceList, ResourceRequirements
from osdn.api.quantity import Quantity, QuantityError, parse_quantity, quantity_text
from osdn.errors import FieldError

STANDARD_CONTAINER = frozenset({"cpu", "memory", "ephemeral-storage"})
# IsStandardResourceName: the names kube knows for containers and quota.
STANDARD = STANDARD_CONTAINER | {
    "requests.cpu", "requests.memory", "requests.ephemeral-storage", "limits.cpu", "limits.memory",
    "limits.ephemeral-storage", "pods", "resourcequotas", "services", "replicationcontrollers", "secrets",
    "configmaps", "persistentvolumeclaims", "storage", "requests.storage", "services.nodeports",
    "services.loadbalancers"}
HUGEPAGES = "hugepages-"


def parse(value: QuantityValue) -> Quantity:
    return parse_quantity(quantity_text(value))


def is_native(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def is_extended(name: str) -> bool:
    """IsExtendedResourceName: domain-qualified, not kubernetes.io, and valid as `requests.<name>`."""
    return not is_native(name) and not name.startswith("requests.") and \
        not v.qualified_name_problems(f"requests.{name}")


def overcommit_allowed(name: str) -> bool:
    return is_native(name) and not name.startswith(HUGEPAGES)


def resource_name_errors(name: str, path: str) -> list[FieldError]:
    """validateContainerResourceName."""
    errs = v.invalid_each(path, name, v.qualified_name_problems(name))
    if errs:
        return errs
    if "/" not in name:
        if name not in STANDARD and not name.startswith((HUGEPAGES, "requests.hugepages-")):
            errs.append(v.invalid(path, name, "must be a standard resource type or fully qualified"))
        if name not in STANDARD_CONTAINER and not name.startswith(HUGEPAGES):
            errs.append(v.invalid(path, name, "must be a standard resource for containers"))
    elif not is_native(name) and not is_extended(name):
        errs.append(v.invalid(path, name, "doesn't follow extended resource name standard"))
    return errs


def _amount_errors(name: str, q: Quantity, path: str) -> list[FieldError]:
    """ValidateResourceQuantityValue and the hugepages page-size rule."""
    if q.amount < 0:
        return [v.invalid(path, q.canonical(), "must be greater than or equal to 0")]
    if is_extended(name) and q.amount.denominator != 1:
        return [v.invalid(path, q.canonical(), "must be an integer")]
    if name.startswith(HUGEPAGES):
        try:
            page = parse_quantity(name[len(HUGEPAGES):]).amount
        except QuantityError:
            page = Fraction(0)
        if page <= 0 or page.denominator != 1 or q.value() % int(page):
            return [v.invalid(path, q.canonical(), f"{q.canonical()} is not positive integer multiple of {name}")]
    return []


def _parsed(values: ResourceList | None, path: str, errs: list[FieldError]) -> dict[str, Quantity]:
    """The quantities of `values` that parse; one error (named `path.<name>`) for each that does not."""
    out: dict[str, Quantity] = {}
    for name, raw in (values or {}).items():
        errs += resource_name_errors(name, f"{path}[{name}]")
        try:
            out[name] = parse(raw)
        except QuantityError:
            errs.append(v.invalid(f"{path}.{name}", raw, "quantities must match the regular expression "
                                  "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"))
            continue
        errs += _amount_errors(name, out[name], f"{path}[{name}]")
    return out


def validate_resources(res: ResourceRequirements | None, path: str) -> list[FieldError]:
    """ValidateContainerResourceRequirements for one container's `resources` at `path`."""
    if res is None:
        return []
    errs: list[FieldError] = []
    limits = _parsed(res.limits, f"{path}.limits", errs)
    requests = _parsed(res.requests, f"{path}.requests", errs)
    for name, q in requests.items():
        limit = limits.get(name)
        if limit is not None and q.amount != limit.amount and not overcommit_allowed(name):
            errs.append(v.invalid(f"{path}.requests", q.canonical(),
                                  f"must be equal to {name} limit of {limit.canonical()}"))
        elif limit is not None and q.amount > limit.amount:
            errs.append(v.invalid(f"{path}.requests", q.canonical(),
                                  f"must be less than or equal to {name} limit of {limit.canonical()}"))
        elif limit is None and not overcommit_allowed(name) and (res.limits or {}).get(name) is None:
            errs.append(v.required(f"{path}.limits", "Limit must be set for non overcommitable resources"))
    names = set(limits) | set(requests)
    if any(n.startswith(HUGEPAGES) for n in names) and not names & {"cpu", "memory"}:
        errs.append(v.forbidden(path, "HugePages require cpu or memory"))
    return errs
