"""Projects: the user-facing view of Namespaces (project.openshift.io/v1), as in OpenShift.

A Project is not stored: creating one creates its Namespace (carrying the project's labels and
annotations) and makes the requester `admin` of it; reading one reads the Namespace. Any
authenticated user may request a project (self-provisioning); a user sees the projects they hold a
role in, cluster admins see all.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from osdn.api import labels, objects
from osdn.api.registry import by_kind
from osdn.apiserver.auth import RBAC, Attributes, User
from osdn.apiserver.resources import Resources, key_of
from osdn.errors import ForbiddenError, NotFoundError, ObjectRef
from osdn.store import Key

Obj = dict[str, Any]
PROJECT = by_kind("Project")
NAMESPACE = by_kind("Namespace")
ROLEBINDING = by_kind("RoleBinding")
REQUESTER = "openshift.io/requester"

# Called with (user, namespace name) after a project is created; the master adds the
# project-request template objects here (issue: default objects for new projects).
ProjectHook = Callable[[User, str], None]


def namespace_to_project(ns: Obj) -> Obj:
    project = copy.deepcopy(ns)
    project["apiVersion"], project["kind"] = PROJECT.api_version, PROJECT.kind
    return project


class Projects:
    def __init__(self, resources: Resources) -> None:
        self.resources = resources
        self.store = resources.store
        self.on_created: list[ProjectHook] = []

    def _check(self, user: User, verb: str, name: str) -> None:
        """Project verbs are checked in the project's own namespace, so project admins qualify."""
        self.resources.authorizer.check(user, Attributes(verb, PROJECT.group, PROJECT.plural, "", name, name))

    def _visible(self, user: User, name: str) -> bool:
        if user.is_cluster_admin:
            return True
        return bool(self.resources.authorizer.rules_for(user, name))

    def get(self, user: User, name: str) -> Obj:
        if not self._visible(user, name):
            raise ForbiddenError(f'projects.project.openshift.io "{name}" is forbidden: User "{user.name}" '
                                 f'cannot get resource "projects" in API group "project.openshift.io" in the '
                                 f'namespace "{name}"')
        return namespace_to_project(self.store.get(Key(NAMESPACE.resource, "", name)))

    def list(self, user: User, label_selector: str = "") -> tuple[list[Obj], int]:
        sel = labels.parse(label_selector)
        items, rv = self.store.list(NAMESPACE.resource)
        out = [namespace_to_project(o) for o, _ in items
               if sel.matches(o["metadata"].get("labels")) and self._visible(user, o["metadata"]["name"])]
        out.sort(key=lambda o: o["metadata"]["name"])
        return out, rv

    def create(self, user: User, body: Obj, dry_run: bool = False) -> Obj:
        body = copy.deepcopy(body)
        # Validate as a Project first (its annotation rules), then store it as a Namespace.
        objects.prepare_create(PROJECT, body, None, self.resources.clock(), "")
        meta = body.setdefault("metadata", {})
        meta.setdefault("annotations", {})[REQUESTER] = user.name
        ns_body = {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}
        admin = User("system:admin", ("system:cluster-admins",))
        result = self.resources.create(admin, NAMESPACE, "", ns_body, dry_run)
        name = result.obj["metadata"]["name"]
        if not dry_run:
            self.resources.create(admin, ROLEBINDING, name, {
                "apiVersion": f"{RBAC}/v1", "kind": "RoleBinding",
                "metadata": {"name": "admin", "namespace": name},
                "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "admin"},
                "subjects": [{"kind": "User", "name": user.name, "apiGroup": RBAC}],
            })
            for hook in self.on_created:
                hook(user, name)
        return namespace_to_project(result.obj)

    def delete(self, user: User, name: str) -> Obj:
        self._check(user, "delete", name)
        ns = self.store.get(key_of(NAMESPACE, "", name))
        admin = User("system:admin", ("system:cluster-admins",))
        self.resources.delete(admin, NAMESPACE, "", name)
        return namespace_to_project(ns)

    def update(self, user: User, name: str, body: Obj, patch: Callable[[Obj], Obj] | None = None) -> Obj:
        """Change a project's labels/annotations (cluster admins or the project's admins)."""
        self._check(user, "update", name)
        try:
            ns = self.store.get(Key(NAMESPACE.resource, "", name))
        except NotFoundError:
            raise NotFoundError(f'projects.project.openshift.io "{name}" not found', ObjectRef("Project", name)) \
                from None
        new = patch(namespace_to_project(ns)) if patch else body
        ns_body = copy.deepcopy(ns)
        ns_body["metadata"]["labels"] = new.get("metadata", {}).get("labels")
        ns_body["metadata"]["annotations"] = new.get("metadata", {}).get("annotations")
        objects.prepare_update(PROJECT, namespace_to_project(ns_body), namespace_to_project(ns))
        admin = User("system:admin", ("system:cluster-admins",))
        return namespace_to_project(self.resources.update(admin, NAMESPACE, "", name, ns_body).obj)
