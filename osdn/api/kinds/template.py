"""Kinds of group 'template.openshift.io' (v1): Template model and validation. Pure.

`objects` are raw objects kept verbatim: they may hold `${PARAM}` references, so they are neither
defaulted nor validated as their own kinds here (that happens when a template is processed).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field

from osdn.api import validation as v
from osdn.api.kinds import Hooks
from osdn.api.kinds.meta import KubeModel, Obj, TypedObject, parse_strict
from osdn.errors import FieldError

_PARAM_NAME = re.compile(r"^[a-zA-Z0-9_]+$")


class Parameter(KubeModel):
    name: str | None = None
    display_name: str | None = None
    description: str | None = None
    value: str | None = None
    generate: str | None = None
    from_: str | None = Field(None, alias="from")
    required: bool | None = None


class Template(TypedObject):
    message: str | None = None
    objects: list[dict[str, Any]] | None = None
    parameters: list[Parameter] | None = None
    labels: dict[str, str] | None = None


def _validate_parameter(param: Parameter, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not param.name:
        errs.append(v.required(f"{path}.name"))
    elif not _PARAM_NAME.match(param.name):
        errs.append(v.invalid(f"{path}.name", param.name, "must match [a-zA-Z0-9_]+"))
    if param.generate is not None and param.generate != "expression":
        errs.append(v.not_supported(f"{path}.generate", param.generate, ["expression"]))
    if param.generate == "expression" and not param.from_:
        errs.append(v.required(f"{path}.from", 'required when generate is "expression"'))
    return errs


def validate_template(obj: Obj, old: Obj | None) -> list[FieldError]:
    template, errs = parse_strict(Template, obj)
    if template is None:
        return errs
    names: set[str] = set()
    for i, param in enumerate(template.parameters or []):
        errs += _validate_parameter(param, f"parameters[{i}]")
        if param.name and param.name in names:
            errs.append(v.duplicate(f"parameters[{i}].name", param.name))
        names.add(param.name or "")
    return errs


HOOKS: dict[str, Hooks] = {"Template": Hooks(Template, None, validate_template)}
