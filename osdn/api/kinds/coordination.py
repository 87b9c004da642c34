"""Kinds of group 'coordination.k8s.io' (v1): Lease, as upstream. Pure.

A Lease names its holder and how long the holding lasts; osdn's master controllers elect their leader
through one (`kube-system/osdn-master`, see osdn.master.leader). Validation follows upstream's
ValidateLeaseSpec: `leaseDurationSeconds` > 0, `leaseTransitions` >= 0, times in MicroTime form
(RFC 3339 with microseconds), `holderIdentity` at most 253 characters.
"""

from __future__ import annotations

from osdn.api import timestamps
from osdn.api import validation as v
from osdn.api.kinds import Hooks
from osdn.api.kinds.meta import Int32, KubeModel, Obj, TypedObject, parse_strict
from osdn.errors import FieldError

MAX_HOLDER_IDENTITY = 253
# Writes fenced by a Lease's revision (osdn.store.fence): the request header naming NAMESPACE/NAME/RV,
# and how the refusal's message starts (the client resends once with its renewed revision).
FENCE_HEADER = "X-Osdn-Fence"
FENCED_PREFIX = "fenced: "


class LeaseSpec(KubeModel):
    holder_identity: str | None = None
    lease_duration_seconds: Int32 | None = None
    acquire_time: str | None = None
    renew_time: str | None = None
    lease_transitions: Int32 | None = None
    strategy: str | None = None
    preferred_holder: str | None = None


class Lease(TypedObject):
    spec: LeaseSpec | None = None


def _validate_spec(spec: LeaseSpec) -> list[FieldError]:
    errs: list[FieldError] = []
    if spec.holder_identity is not None and len(spec.holder_identity) > MAX_HOLDER_IDENTITY:
        errs.append(v.invalid("spec.holderIdentity", spec.holder_identity,
                              f"must be no more than {MAX_HOLDER_IDENTITY} characters"))
    if spec.lease_duration_seconds is not None and spec.lease_duration_seconds <= 0:
        errs.append(v.invalid("spec.leaseDurationSeconds", spec.lease_duration_seconds, "must be greater than 0"))
    if spec.lease_transitions is not None and spec.lease_transitions < 0:
        errs.append(v.invalid("spec.leaseTransitions", spec.lease_transitions,
                              "must be greater than or equal to 0"))
    for field, value in (("acquireTime", spec.acquire_time), ("renewTime", spec.renew_time)):
        if value is not None and timestamps.parse(value) is None:
            errs.append(v.invalid(f"spec.{field}", value, "must be a time in RFC 3339 form, e.g. "
                                  "2026-01-02T15:04:05.000000Z"))
    return errs


def validate_lease(obj: Obj, old: Obj | None) -> list[FieldError]:
    lease, errs = parse_strict(Lease, obj)
    if lease is None:
        return errs
    return _validate_spec(lease.spec or LeaseSpec())


HOOKS: dict[str, Hooks] = {"Lease": Hooks(Lease, None, validate_lease)}
