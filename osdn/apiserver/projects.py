"""Projects: the user-facing view of Namespaces (project.openshift.io/v1), as in OpenShift.

A Project is not stored: creating one creates its Namespace and makes the requester `admin` of it;
reading one reads the Namespace. Any authenticated user may request a project (self-provisioning);
a user sees the projects they hold a role in, cluster admins see all.

Namespace labels and annotations are the cluster admin's (they select tenants in NetworkPolicies
and carry limits such as the RunOnceDuration override). As OpenShift's ProjectRequest does, a
self-provisioned project keeps only its name, display name and description (other labels and
annotations are dropped, each with a Warning) and gets the requester annotation; names `default`,
`openshift`, `kubernetes`, `kube` and the prefixes `openshift-`, `kubernetes-`, `kube-` are
reserved. Updating a Project may change only its display name and description (OpenShift's
ValidateProjectUpdate: everything else is "immutable, try updating the namespace", which needs a
cluster role).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any

from osdn.api import labels, objects
from osdn.api import validation as v
from osdn.api.kinds.project import DESCRIPTION, DISPLAY_NAME
from osdn.api.registry import by_kind
from osdn.apiserver.auth import RBAC, Attributes, User
from osdn.apiserver.plugins import projectlimit
from osdn.apiserver.resources import Resources, Result, key_of
from osdn.errors import FieldError, ForbiddenError, NotFoundError, ObjectRef, ValidationError, Warnings
from osdn.store import Key

Obj = dict[str, Any]
PROJECT = by_kind("Project")
NAMESPACE = by_kind("Namespace")
ROLEBINDING = by_kind("RoleBinding")
REQUESTER = "openshift.io/requester"
USER_ANNOTATIONS = (DISPLAY_NAME, DESCRIPTION)
RESERVED_NAMES = ("default", "openshift", "kubernetes", "kube")
RESERVED_PREFIXES = ("openshift-", "kubernetes-", "kube-")
ADMIN = User("system:admin", ("system:cluster-admins",))

# Called with (user, namespace name) after a project is created; the master adds the
# project-request template objects here (issue: default objects for new projects).
ProjectHook = Callable[[User, str], None]


def namespace_to_project(ns: Obj) -> Obj:
    project = copy.deepcopy(ns)
    project["apiVersion"], project["kind"] = PROJECT.api_version, PROJECT.kind
    return project


def reserved_problem(name: str) -> str | None:
    """Why a self-provisioned project may not be called `name`, or None. Pure."""
    if name in RESERVED_NAMES:
        return f'cannot request a project with the name "{name}" (reserved for cluster admins)'
    for prefix in RESERVED_PREFIXES:
        if name.startswith(prefix):
            return f'cannot request a project starting with "{prefix}" (reserved for cluster admins)'
    return None


def requested_metadata(meta: Obj) -> tuple[Obj, list[str]]:
    """What a self-provisioned project keeps of the requested metadata, and a warning per dropped entry. Pure."""
    annotations = meta.get("annotations") or {}
    kept = {k: annotations[k] for k in USER_ANNOTATIONS if k in annotations}
    dropped = [f"metadata.labels[{k}]" for k in meta.get("labels") or {}]
    dropped += [f"metadata.annotations[{k}]" for k in annotations if k not in USER_ANNOTATIONS]
    warnings = [f"{d} dropped: only cluster admins set project labels and annotations "
                f"(a project request keeps its display name and description)" for d in dropped]
    return {"name": meta.get("name"), "annotations": kept}, warnings


def immutable_changes(new: Obj, old: Obj) -> list[FieldError]:
    """Project update rule: labels and annotations other than display name and description stay. Pure."""
    errs: list[FieldError] = []
    new_meta, old_meta = new.get("metadata") or {}, old.get("metadata") or {}
    for field in ("labels", "annotations"):
        before, after = old_meta.get(field) or {}, new_meta.get(field) or {}
        for key in sorted(set(before) | set(after)):
            if field == "annotations" and key in USER_ANNOTATIONS or before.get(key) == after.get(key):
                continue
            errs.append(v.invalid(f"metadata.{field}[{key}]", after.get(key, before.get(key)),
                                  "field is immutable, try updating the namespace (cluster admins)"))
    return errs


class Projects:
    def __init__(self, resources: Resources, max_projects: int | None = projectlimit.DEFAULT_MAX_PROJECTS) -> None:
        self.resources = resources
        self.store = resources.store
        self.on_created: list[ProjectHook] = []
        self.max_projects = max_projects   # self-provisioned projects per user (ProjectRequestLimit)
        self._requests = threading.Lock()  # a user's count and her new project, one request at a time

    def _requested_by(self, user: User) -> int:
        """Projects `user` requested that are not being deleted."""
        items, _ = self.store.list(NAMESPACE.resource)
        return sum(1 for o, _ in items if (o["metadata"].get("annotations") or {}).get(REQUESTER) == user.name
                   and not o["metadata"].get("deletionTimestamp") and (o.get("status") or {}).get("phase")
                   != "Terminating")

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

    def _privileged(self, user: User) -> bool:
        """Cluster admins, or whoever may create Namespaces directly, choose labels and any name."""
        return self.resources.authorizer.allowed(user, Attributes("create", "", NAMESPACE.plural))

    def create(self, user: User, body: Obj, dry_run: bool = False) -> Result:
        with self._requests:
            return self._create(user, body, dry_run)

    def _create(self, user: User, body: Obj, dry_run: bool) -> Result:
        body = copy.deepcopy(body)
        # Validate as a Project first (its name and annotation rules), then store it as a Namespace.
        objects.prepare_create(PROJECT, body, None, self.resources.clock(), "")
        meta, warnings = body["metadata"], Warnings()
        if not self._privileged(user):
            if len(meta["name"]) < 2:  # OpenShift's project request rule; admins may name namespaces "a"
                raise ValidationError.of(ObjectRef("Project", meta["name"], "", PROJECT.group), [
                    v.invalid("metadata.name", meta["name"], "must be at least 2 characters long")])
            problem = reserved_problem(meta["name"])
            if problem:
                raise ForbiddenError(f'projects.project.openshift.io "{meta["name"]}" is forbidden: {problem}',
                                     ObjectRef("Project", meta["name"]))
            reason = None if self.max_projects is None else \
                projectlimit.refusal(user.name, self.max_projects, self._requested_by(user))
            if reason:
                raise ForbiddenError(f'projects.project.openshift.io "{meta["name"]}" is forbidden: {reason}',
                                     ObjectRef("Project", meta["name"], "", PROJECT.group))
            meta, dropped = requested_metadata(meta)
            for text in dropped:
                warnings.add(text)
        meta.setdefault("annotations", {})[REQUESTER] = user.name
        ns_body = {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}
        result = self.resources.create(ADMIN, NAMESPACE, "", ns_body, dry_run)
        name = result.obj["metadata"]["name"]
        if not dry_run:
            self.resources.create(ADMIN, ROLEBINDING, name, {
                "apiVersion": f"{RBAC}/v1", "kind": "RoleBinding",
                "metadata": {"name": "admin", "namespace": name},
                "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "admin"},
                "subjects": [{"kind": "User", "name": user.name, "apiGroup": RBAC}],
            })
            for hook in self.on_created:
                hook(user, name)
        return Result(namespace_to_project(result.obj), warnings)

    def delete(self, user: User, name: str, dry_run: bool = False) -> Obj:
        self._check(user, "delete", name)
        ns = self.store.get(key_of(NAMESPACE, "", name))
        self.resources.delete(ADMIN, NAMESPACE, "", name, dry_run=dry_run)
        return namespace_to_project(ns)

    def update(self, user: User, name: str, body: Obj, patch: Callable[[Obj], Obj] | None = None,
               dry_run: bool = False) -> Obj:
        """Change a project's display name or description (its admins); see `immutable_changes`."""
        self._check(user, "update", name)
        try:
            ns = self.store.get(Key(NAMESPACE.resource, "", name))
        except NotFoundError:
            raise NotFoundError(f'projects.project.openshift.io "{name}" not found', ObjectRef("Project", name)) \
                from None
        new = patch(namespace_to_project(ns)) if patch else body
        errs = immutable_changes(new, ns)
        if errs:
            raise ValidationError.of(ObjectRef("Project", name, "", PROJECT.group), errs)
        ns_body = copy.deepcopy(ns)
        ns_body["metadata"]["labels"] = new.get("metadata", {}).get("labels")
        ns_body["metadata"]["annotations"] = new.get("metadata", {}).get("annotations")
        objects.prepare_update(PROJECT, namespace_to_project(ns_body), namespace_to_project(ns))
        return namespace_to_project(self.resources.update(ADMIN, NAMESPACE, "", name, ns_body,
                                                          dry_run=dry_run).obj)
