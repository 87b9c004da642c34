"""Kinds of group 'project.openshift.io' (v1): Project and ProjectRequest models and validation. Pure.

A ProjectRequest (what `oc new-project` posts) is never stored: the server turns it into a Project
with `project_from_request` and answers with that Project, as OpenShift does.

The RunOnceDuration annotation `openshift.io/active-deadline-seconds-override` must be a string
holding a non-negative integer (seconds).
"""

from __future__ import annotations

import re

from osdn.api import validation as v
from osdn.api.kinds import Hooks
from osdn.api.kinds.meta import KubeModel, Obj, TypedObject, parse_strict
from osdn.errors import FieldError

ACTIVE_DEADLINE_OVERRIDE = v.ACTIVE_DEADLINE_OVERRIDE
DISPLAY_NAME = "openshift.io/display-name"
DESCRIPTION = "openshift.io/description"
_DIGITS = re.compile(r"^[0-9]+$")


class ProjectSpec(KubeModel):
    finalizers: list[str] | None = None


class Project(TypedObject):
    spec: ProjectSpec | None = None
    status: dict[str, object] | None = None

    @property
    def active_deadline_override(self) -> int | None:
        value = (self.metadata.annotations or {}).get(ACTIVE_DEADLINE_OVERRIDE)
        return int(value) if value is not None and _DIGITS.match(value) else None


class ProjectRequest(TypedObject):
    displayName: str | None = None
    description: str | None = None


def project_from_request(request: Obj) -> Obj:
    """The Project a ProjectRequest asks for: its name, and display name and description as annotations."""
    meta = request.get("metadata") or {}
    annotations = {**(meta.get("annotations") or {})}
    for field, key in (("displayName", DISPLAY_NAME), ("description", DESCRIPTION)):
        if request.get(field):
            annotations[key] = request[field]
    return {"apiVersion": "project.openshift.io/v1", "kind": "Project",
            "metadata": {**meta, "annotations": annotations}}


def validate_project_request(obj: Obj, old: Obj | None) -> list[FieldError]:
    return parse_strict(ProjectRequest, obj)[1]


def validate_project(obj: Obj, old: Obj | None) -> list[FieldError]:
    project, errs = parse_strict(Project, obj)
    if project is None:
        return errs
    return errs + v.validate_deadline_override(project.metadata.annotations)


HOOKS: dict[str, Hooks] = {"Project": Hooks(Project, None, validate_project),
                           "ProjectRequest": Hooks(ProjectRequest, None, validate_project_request)}
