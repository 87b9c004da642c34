"""ResourceQuota arithmetic, as Kubernetes' quota evaluators: what an object uses, what a quota allows.

Pure. Resource names (k8s.io/api core/v1 ResourceName and the quota evaluators of
pkg/quota/v1/evaluator/core):
- object counts: `pods`, `services`, `replicationcontrollers`, `secrets`, `configmaps`,
  `resourcequotas`, `persistentvolumeclaims`, `services.loadbalancers` (Services of type
  LoadBalancer), `services.nodeports` (one per port of a NodePort or LoadBalancer Service), and the
  generic `count/<plural>` or `count/<plural>.<group>` for any kind (`count/deployments.apps`);
- pod compute: `requests.cpu`, `requests.memory`, `limits.cpu`, `limits.memory`, and `cpu`/`memory`
  (the same as `requests.*`). A container's request defaults to its limit, as the API defaults it;
  a pod's figure is the sum over its containers, or the largest init container's if that is more.
A pod in phase Succeeded or Failed, or being deleted, uses nothing. Scopes (only for pod resources):
`Terminating` (spec.activeDeadlineSeconds set), `NotTerminating`, `BestEffort` (no container sets a
request or limit), `NotBestEffort`. Amounts are exact Fractions (osdn.api.quantity); `format_amount`
writes them back in Kubernetes' canonical form ("3", "1500m", "1k", "192Mi").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from osdn.api.quantity import QuantityError, parse_quantity

Obj = Mapping[str, Any]
Usage = dict[str, Fraction]

COUNT_PREFIX = "count/"
POD_COMPUTE = ("requests.cpu", "requests.memory", "limits.cpu", "limits.memory", "cpu", "memory")
# core kinds' legacy object-count names (resource of the kind -> quota name)
LEGACY_COUNTS = {"pods": "pods", "services": "services", "replicationcontrollers": "replicationcontrollers",
                 "secrets": "secrets", "configmaps": "configmaps", "resourcequotas": "resourcequotas",
                 "persistentvolumeclaims": "persistentvolumeclaims"}
SERVICE_COUNTS = ("services.loadbalancers", "services.nodeports")
STANDARD = frozenset({*LEGACY_COUNTS.values(), *SERVICE_COUNTS, *POD_COMPUTE})
INTEGER = frozenset({*LEGACY_COUNTS.values(), *SERVICE_COUNTS})
SCOPES = ("Terminating", "NotTerminating", "BestEffort", "NotBestEffort")
UPSTREAM_ONLY_SCOPES = ("PriorityClass", "CrossNamespacePodAffinity")
CONFLICTING = (("Terminating", "NotTerminating"), ("BestEffort", "NotBestEffort"))
# resources a scope may constrain (upstream IsResourceQuotaScopeValidForResource)
SCOPED_RESOURCES = {"BestEffort": frozenset({"pods"}),
                    **{s: frozenset({"pods", *POD_COMPUTE}) for s in ("Terminating", "NotTerminating",
                                                                      "NotBestEffort")}}
_BINARY = (("Ei", 2 ** 60), ("Pi", 2 ** 50), ("Ti", 2 ** 40), ("Gi", 2 ** 30), ("Mi", 2 ** 20), ("Ki", 2 ** 10))
_DECIMAL = (("E", 18), ("P", 15), ("T", 12), ("G", 9), ("M", 6), ("k", 3))
_SMALL = (("m", 1000), ("u", 10 ** 6), ("n", 10 ** 9))


def is_integer_resource(name: str) -> bool:
    return name in INTEGER or name.startswith(COUNT_PREFIX)


def format_amount(amount: Fraction, binary: bool = False) -> str:
    """Kubernetes' canonical form of an amount: `3`, `1k`, `1500m`, `192Mi` (binary when asked and exact)."""
    if amount < 0:
        return "-" + format_amount(-amount, binary)
    if amount.denominator == 1 and amount:
        n = int(amount)
        for suffix, size in _BINARY if binary else ():
            if n % size == 0:
                return f"{n // size}{suffix}"
        for suffix, exp in _DECIMAL:
            if n % 10 ** exp == 0:
                return f"{n // 10 ** exp}{suffix}"
        return str(n)
    if amount.denominator == 1:
        return "0"
    for suffix, scale in _SMALL:
        if (amount * scale).denominator == 1:
            return f"{amount * scale}{suffix}"
    return f"{-(-amount.numerator * 10 ** 9 // amount.denominator)}n"   # rounded up, as kube does


def parse_amount(value: Any) -> Fraction:
    """A quantity as written in a quota (`"10"`, `10`, `"1Gi"`); QuantityError if it is none."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise QuantityError(f"quantity must be a string or a number, got {value!r}")
    return parse_quantity(str(value)).amount


def is_binary(value: Any) -> bool:
    return isinstance(value, str) and value.rstrip("0123456789+-.eE")[-2:] in {s for s, _ in _BINARY}


# ---- usage of one object ---------------------------------------------------------------------

def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def pod_terminal(pod: Obj) -> bool:
    return bool(_meta(pod).get("deletionTimestamp")) or \
        (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def _containers(pod: Obj, field: str) -> list[Obj]:
    return [c for c in (pod.get("spec") or {}).get(field) or [] if isinstance(c, dict)]


def _container_amounts(container: Obj, kind: str) -> dict[str, Fraction]:
    """A container's requests (defaulting to its limits) or limits, by resource (cpu, memory)."""
    resources = container.get("resources") or {}
    limits = resources.get("limits") or {}
    values = dict(limits) if kind == "limits" else {**limits, **(resources.get("requests") or {})}
    return {name: parse_amount(values[name]) for name in ("cpu", "memory") if name in values}


def _pod_amounts(pod: Obj, kind: str) -> dict[str, Fraction]:
    total: dict[str, Fraction] = {}
    for c in _containers(pod, "containers"):
        for name, amount in _container_amounts(c, kind).items():
            total[name] = total.get(name, Fraction(0)) + amount
    for c in _containers(pod, "initContainers"):
        for name, amount in _container_amounts(c, kind).items():
            total[name] = max(total.get(name, Fraction(0)), amount)
    return total


def best_effort(pod: Obj) -> bool:
    return all(not (c.get("resources") or {}).get(k) for c in _containers(pod, "containers") +
               _containers(pod, "initContainers") for k in ("requests", "limits"))


def pod_usage(pod: Obj) -> Usage:
    """What a pod uses (raises QuantityError on a malformed container quantity)."""
    if pod_terminal(pod):
        return {}
    usage: Usage = {"pods": Fraction(1), "count/pods": Fraction(1)}
    for name, amount in _pod_amounts(pod, "requests").items():
        usage[f"requests.{name}"] = usage[name] = amount
    for name, amount in _pod_amounts(pod, "limits").items():
        usage[f"limits.{name}"] = amount
    return usage


def service_usage(svc: Obj) -> Usage:
    spec = svc.get("spec") or {}
    kind = spec.get("type") or "ClusterIP"
    usage: Usage = {"services": Fraction(1), "count/services": Fraction(1)}
    if kind == "LoadBalancer":
        usage["services.loadbalancers"] = Fraction(1)
    if kind == "NodePort" or (kind == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is not False):
        usage["services.nodeports"] = Fraction(len(spec.get("ports") or []))
    return usage


def object_usage(resource: str, obj: Obj) -> Usage:
    """What `obj` of the fully qualified `resource` (`pods`, `deployments.apps`) uses."""
    if resource == "pods":
        return pod_usage(obj)
    if resource == "services":
        return service_usage(obj)
    usage = {f"{COUNT_PREFIX}{resource}": Fraction(1)}
    if resource in LEGACY_COUNTS:
        usage[LEGACY_COUNTS[resource]] = Fraction(1)
    return usage


def covers(resource: str, quota_name: str) -> bool:
    """Whether the quota resource name `quota_name` counts objects of `resource`."""
    if quota_name.startswith(COUNT_PREFIX):
        return quota_name == f"{COUNT_PREFIX}{resource}"
    if resource == "pods":
        return quota_name in ("pods", *POD_COMPUTE)
    if resource == "services":
        return quota_name in ("services", *SERVICE_COUNTS)
    return LEGACY_COUNTS.get(resource) == quota_name


def resource_of(quota_name: str) -> str | None:
    """The fully qualified resource whose objects `quota_name` counts (None: none osdn knows of)."""
    if quota_name.startswith(COUNT_PREFIX):
        return quota_name[len(COUNT_PREFIX):] or None
    if quota_name in ("pods", *POD_COMPUTE):
        return "pods"
    if quota_name in ("services", *SERVICE_COUNTS):
        return "services"
    return quota_name if quota_name in LEGACY_COUNTS else None


def matches_scopes(scopes: Iterable[str], resource: str, obj: Obj) -> bool:
    """Whether a quota with `scopes` counts `obj` (scopes only select pods)."""
    scopes = list(scopes)
    if not scopes:
        return True
    if resource != "pods":
        return False
    deadline = (obj.get("spec") or {}).get("activeDeadlineSeconds")
    facts = {"Terminating": isinstance(deadline, int) and deadline >= 0, "BestEffort": best_effort(obj)}
    facts["NotTerminating"], facts["NotBestEffort"] = not facts["Terminating"], not facts["BestEffort"]
    return all(facts.get(s, False) for s in scopes)


# ---- a quota and a request ------------------------------------------------------------------

@dataclass(frozen=True)
class QuotaView:
    """The parts of a stored ResourceQuota admission needs: limits from spec.hard, usage from status.used."""

    name: str
    hard: dict[str, Fraction]
    used: dict[str, Fraction]
    scopes: tuple[str, ...]
    binary: frozenset[str]        # resources whose hard amount was written with a binary suffix

    @classmethod
    def of(cls, quota: Obj) -> QuotaView:
        spec, status = quota.get("spec") or {}, quota.get("status") or {}
        hard_text = spec.get("hard") or {}
        return cls(str(_meta(quota).get("name") or ""), _amounts(hard_text), _amounts(status.get("used") or {}),
                   tuple(spec.get("scopes") or ()), frozenset(k for k, v in hard_text.items() if is_binary(v)))

    def show(self, values: Mapping[str, Fraction], names: Iterable[str]) -> str:
        """Upstream's prettyPrint: `name=value` sorted by name, joined by commas."""
        return ",".join(f"{n}={format_amount(values.get(n, Fraction(0)), n in self.binary)}" for n in sorted(names))


def _amounts(values: Mapping[str, Any]) -> dict[str, Fraction]:
    out = {}
    for name, value in values.items():
        try:
            out[name] = parse_amount(value)
        except QuantityError:
            continue    # validation refuses these; a stored one counts as absent
    return out


def requested(quota: QuotaView, resource: str, obj: Obj, old: Obj | None) -> Usage:
    """What a create (old None) or an update of `obj` adds to `quota`: only positive changes of
    resources the quota limits, for objects its scopes select."""
    if not matches_scopes(quota.scopes, resource, obj):
        return {}
    new_usage = object_usage(resource, obj)
    old_usage = object_usage(resource, old) if old is not None and matches_scopes(quota.scopes, resource, old) \
        else {}
    return {n: new_usage.get(n, Fraction(0)) - old_usage.get(n, Fraction(0)) for n in quota.hard
            if new_usage.get(n, Fraction(0)) > old_usage.get(n, Fraction(0))}


def missing_compute(quota: QuotaView, resource: str, obj: Obj) -> list[str]:
    """Compute resources the quota limits that a pod (selected by its scopes) does not state for every
    container: upstream refuses such pods ("must specify")."""
    if resource != "pods" or pod_terminal(obj) or not matches_scopes(quota.scopes, resource, obj):
        return []
    missing = set()
    for name in (n for n in quota.hard if n in POD_COMPUTE):
        kind, _, what = name.rpartition(".")
        for c in _containers(obj, "containers"):
            if what not in _container_amounts(c, kind or "requests"):
                missing.add(name)
    return sorted(missing)


def exceeded(quota: QuotaView, request: Usage) -> list[str]:
    """Resources for which used + request would pass hard (upstream quota.LessThanOrEqual)."""
    return sorted(n for n, amount in request.items()
                  if quota.used.get(n, Fraction(0)) + amount > quota.hard[n])


def unknown_usage(quota: QuotaView, request: Usage) -> list[str]:
    return sorted(n for n in request if n not in quota.used)


def total_usage(quota: QuotaView, resource: str, objects: Iterable[Obj]) -> Usage:
    """The usage of every object of `resource` (in the quota's namespace) for the resources of `quota`
    that count them; a malformed pod quantity counts nothing (admission refuses such pods)."""
    names = [n for n in quota.hard if covers(resource, n)]
    total = {n: Fraction(0) for n in names}
    for obj in objects:
        if not matches_scopes(quota.scopes, resource, obj):
            continue
        try:
            usage = object_usage(resource, obj)
        except QuantityError:
            continue
        for n in names:
            total[n] += usage.get(n, Fraction(0))
    return total


def status_of(quota: QuotaView, used: Mapping[str, Fraction]) -> dict[str, dict[str, str]]:
    """A quota's status: `hard` as in spec, `used` for every hard resource, in canonical form."""
    return {"hard": {n: format_amount(a, n in quota.binary) for n, a in sorted(quota.hard.items())},
            "used": {n: format_amount(used.get(n, Fraction(0)), n in quota.binary) for n in sorted(quota.hard)}}


def recount(quota: QuotaView, list_objects: Callable[[str], Iterable[Obj]]) -> Usage:
    """The usage of every resource of `quota`, from `list_objects(resource)` (the objects of a fully
    qualified resource in the quota's namespace; the caller decides where they come from)."""
    used: Usage = {n: Fraction(0) for n in quota.hard}
    for resource in sorted({r for n in quota.hard if (r := resource_of(n)) is not None}):
        used.update(total_usage(quota, resource, list_objects(resource)))
    return used
