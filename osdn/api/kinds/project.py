"""Kinds of group 'project.openshift.io' (v1): Project model and validation. Pure.

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


def validate_project(obj: Obj, old: Obj | None) -> list[FieldError]:
    project, errs = parse_strict(Project, obj)
    if project is None:
        return errs
    return errs + v.validate_deadline_override(project.metadata.annotations)


HOOKS: dict[str, Hooks] = {"Project": Hooks(Project, None, validate_project)}
