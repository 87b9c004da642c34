"""RunOnceDuration admission: a deadline for run-once pods (restartPolicy Never or OnFailure).

Mutating, on Pod CREATE only. The limit is the project's annotation
`openshift.io/active-deadline-seconds-override` (a string of digits; it wins over the global value,
larger or smaller) or else the plugin's `activeDeadlineSecondsOverride`. As in OpenShift, the pod's
own `spec.activeDeadlineSeconds` is kept when it is already shorter than the limit.
"""

from __future__ import annotations

from typing import Any

from osdn.apiserver.admission import AdmissionContext
from osdn.errors import BadRequestError, NotFoundError
from osdn.store import Key

ANNOTATION = "openshift.io/active-deadline-seconds-override"
RUN_ONCE = ("Never", "OnFailure")


def parse_config(config: dict[str, Any]) -> int | None:
    """`activeDeadlineSecondsOverride` of a RunOnceDurationConfig (None: no global limit)."""
    value = config.get("activeDeadlineSecondsOverride")
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise BadRequestError(f"admissionConfig.pluginConfig.RunOnceDuration: activeDeadlineSecondsOverride "
                              f"must be a positive integer number of seconds, got {value!r}")
    return value


def project_override(ctx: AdmissionContext) -> int | None:
    try:
        ns = ctx.store.get(Key("namespaces", "", ctx.namespace))
    except NotFoundError:
        return None
    value = ((ns.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION)
    return int(value) if isinstance(value, str) and value.isdigit() else None


class RunOnceDuration:
    name = "RunOnceDuration"

    def __init__(self, override: int | None) -> None:
        self.override = override

    def admit(self, ctx: AdmissionContext) -> None:
        if ctx.operation != "CREATE" or ctx.info.kind != "Pod":
            return
        spec = ctx.obj.get("spec") or {}
        if spec.get("restartPolicy") not in RUN_ONCE:
            return
        limit = project_override(ctx)
        if limit is None:
            limit = self.override
        if limit is None:
            return
        current = spec.get("activeDeadlineSeconds")
        if current is None or current > limit:
            spec["activeDeadlineSeconds"] = limit
