"""ProjectRequestLimit: how many projects one user may self-provision.

Every project gets the `project-default` quota (osdn.apiserver.bootstrap), but a quota bounds one
project: without this limit a tenant could bound herself out of it by requesting projects without
end. As OpenShift's plugin (master config `admissionConfig.pluginConfig.ProjectRequestLimit`,
`configuration.limits: [{selector: {...}, maxProjects: N}, ...]`), a user who may not create
Namespaces directly may hold at most `maxProjects` projects she requested (annotation
`openshift.io/requester`; projects being deleted do not count), refused with upstream's message:
    projectrequests.project.openshift.io "p" is forbidden: user alice cannot create more than 20 project(s).
The first limit whose selector matches the user applies, an entry without `maxProjects` meaning no
limit. osdn's users carry no labels, so only an entry without a selector (or an empty one) can
match; one with labels to match is accepted and matches nobody. Without configuration the limit
is DEFAULT_MAX_PROJECTS (OpenShift has none; then the per-project quota bounds nothing).
"""

from __future__ import annotations

from typing import Any

from osdn.errors import BadRequestError

DEFAULT_MAX_PROJECTS = 20


def max_projects(config: dict[str, Any] | None) -> int | None:
    """The limit for an (unlabelled) osdn user from the plugin's configuration; None: no limit."""
    if config is None:
        return DEFAULT_MAX_PROJECTS
    limits = config.get("limits") or []
    if not isinstance(limits, list):
        raise BadRequestError("admission plugin ProjectRequestLimit: configuration.limits must be a list")
    for i, entry in enumerate(limits):
        if not isinstance(entry, dict):
            raise BadRequestError(f"admission plugin ProjectRequestLimit: limits[{i}] must be a mapping")
        value = entry.get("maxProjects")
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise BadRequestError(f"admission plugin ProjectRequestLimit: limits[{i}].maxProjects must be a "
                                  f"non-negative integer, got {value!r}")
        if not entry.get("selector"):
            return None if value is None else int(value)
    return None


def refusal(user: str, limit: int, held: int) -> str | None:
    """Upstream's reason when `user`, holding `held` requested projects, may not request another."""
    return f"user {user} cannot create more than {limit} project(s)." if held >= limit else None
