"""Default objects for new projects: the `project-request` Template in the `default` namespace.

After a project is created (`osdn new-project`, or POST to the projects API), every object of the
template is created in the new project, with `${PROJECT_NAME}`, `${PROJECT_DISPLAYNAME}`,
`${PROJECT_DESCRIPTION}`, `${PROJECT_ADMIN_USER}` and `${PROJECT_REQUESTING_USER}` substituted
(template parameters' `value`s fill in other names). Project and the requester's admin RoleBinding
are made by the project API itself, so such objects in the template are skipped. An object that
fails is logged with its name and the others are still created (the project exists already).
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

from osdn.api.registry import for_object
from osdn.apiserver.auth import User
from osdn.apiserver.resources import Resources
from osdn.errors import NotFoundError, OsdnError
from osdn.store import Key

log = logging.getLogger(__name__)
Obj = dict[str, Any]
TEMPLATE_NAME, TEMPLATE_NAMESPACE = "project-request", "default"
ADMIN = User("system:admin", ("system:cluster-admins",))
_PARAM = re.compile(r"\$\{([a-zA-Z0-9_]+)\}")


def substitute(value: Any, params: dict[str, str]) -> Any:
    """Replace `${NAME}` in every string of `value` (unknown names are left as they are). Pure."""
    if isinstance(value, str):
        return _PARAM.sub(lambda m: params.get(m.group(1), m.group(0)), value)
    if isinstance(value, list):
        return [substitute(v, params) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, params) for k, v in value.items()}
    return value


def project_params(template: Obj, user: User, project: Obj) -> dict[str, str]:
    annotations = (project.get("metadata") or {}).get("annotations") or {}
    params = {str(p.get("name")): str(p.get("value") or "") for p in template.get("parameters") or []
              if p.get("name")}
    params.update(PROJECT_NAME=project["metadata"]["name"], PROJECT_ADMIN_USER=user.name,
                  PROJECT_REQUESTING_USER=user.name,
                  PROJECT_DISPLAYNAME=annotations.get("openshift.io/display-name", ""),
                  PROJECT_DESCRIPTION=annotations.get("openshift.io/description", ""))
    return params


def render_objects(template: Obj, params: dict[str, str]) -> list[Obj]:
    """The template's objects to create in the project (Projects and admin bindings skipped). Pure."""
    out = []
    for obj in template.get("objects") or []:
        if obj.get("kind") in ("Project", "ProjectRequest"):
            continue
        out.append(substitute(copy.deepcopy(obj), params))
    return out


class ProjectRequestTemplate:
    """`Projects.on_created` hook."""

    def __init__(self, resources: Resources) -> None:
        self.resources = resources

    def __call__(self, user: User, namespace: str) -> None:
        try:
            template = self.resources.store.get(Key("templates.template.openshift.io", TEMPLATE_NAMESPACE,
                                                    TEMPLATE_NAME))
            project = self.resources.store.get(Key("namespaces", "", namespace))
        except NotFoundError:
            return
        for obj in render_objects(template, project_params(template, user, project)):
            name = (obj.get("metadata") or {}).get("name", "")
            try:
                info = for_object(obj)
                if info.kind == "RoleBinding" and name == "admin":
                    continue
                obj.setdefault("metadata", {})["namespace"] = namespace
                self.resources.create(ADMIN, info, namespace if info.namespaced else "", obj)
            except OsdnError as err:
                log.warning('project "%s": template %s/%s object %s "%s" not created: %s', namespace,
                            TEMPLATE_NAMESPACE, TEMPLATE_NAME, obj.get("kind"), name, err.message)
