"""A route's `status.ingress` entry for this router, as the upstream router writes it. Pure.

One entry per router name (`routerName`, `host`, `wildcardPolicy`, `conditions`); entries of other
routers are kept. The only condition is `Admitted`: `True`, or `False` with the reason and message of
the rejection (admission's `HostAlreadyClaimed`, ..., or `ConfigurationRejected` when HAProxy refused
the configuration with this route in it). `lastTransitionTime` changes only when the condition does,
so an unchanged verdict writes nothing.
"""

from __future__ import annotations

from typing import Any

from osdn.router.admission import Verdict

Obj = dict[str, Any]


def render_ingress_entry(route: Obj, router_name: str, verdict: Verdict, now: str,
                         canonical_hostname: str = "") -> Obj:
    """This router's entry for `route` (its previous transition time kept if the condition holds)."""
    spec = route.get("spec") or {}
    condition: Obj = {"type": "Admitted", "status": "True" if verdict.admitted else "False"}
    if not verdict.admitted:
        condition.update(reason=verdict.reason, message=verdict.message)
    old = _entry(route, router_name)
    old_cond = next((c for c in (old or {}).get("conditions") or [] if c.get("type") == "Admitted"), None)
    same = old_cond is not None and all(old_cond.get(k) == v for k, v in condition.items()) \
        and old is not None and old.get("host") == spec.get("host")
    condition["lastTransitionTime"] = old_cond.get("lastTransitionTime", now) if same and old_cond else now
    entry: Obj = {"host": spec.get("host") or "", "routerName": router_name,
                  "wildcardPolicy": spec.get("wildcardPolicy") or "None", "conditions": [condition]}
    if canonical_hostname:
        entry["routerCanonicalHostname"] = canonical_hostname
    return entry


def _entry(route: Obj, router_name: str) -> Obj | None:
    ingress = (route.get("status") or {}).get("ingress") or []
    return next((e for e in ingress if e.get("routerName") == router_name), None)


def compute_status(route: Obj, router_name: str, verdict: Verdict, now: str,
                   canonical_hostname: str = "") -> Obj | None:
    """The route's new `status`, or None when this router's entry is already right."""
    entry = render_ingress_entry(route, router_name, verdict, now, canonical_hostname)
    if _entry(route, router_name) == entry:
        return None
    others = [e for e in (route.get("status") or {}).get("ingress") or [] if e.get("routerName") != router_name]
    return {**(route.get("status") or {}), "ingress": [*others, entry]}
