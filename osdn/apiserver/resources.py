"""CRUD over the store with admission and authorization; no HTTP here (the app maps requests to it).

Every write follows one path: authorize -> decode -> defaults/validation (osdn.api.objects) ->
admission -> store. Any failure raises before the store is touched, so nothing is half-written.
`dry_run` runs the whole path except the store write.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import json
import secrets
import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from osdn.api import apply as ssa
from osdn.api import fieldlabels, labels, objects, patch, strategic
from osdn.api.patchmeta import schema_for
from osdn.api.registry import KindInfo, all_kinds, by_kind
from osdn.apiserver import foreground, orphans
from osdn.apiserver.admission import AdmissionChain, AdmissionContext
from osdn.apiserver.auth import Attributes, Authorizer, User
from osdn.apiserver.objectsize import check_object_size
from osdn.errors import (
    BadRequestError,
    ForbiddenError,
    MethodNotAllowedError,
    NotFoundError,
    ObjectRef,
    UnsupportedMediaTypeError,
    Warnings,
)
from osdn.store import Key, Store

Obj = dict[str, Any]
NS_KIND = by_kind("Namespace")


def utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Result:
    obj: Obj
    warnings: Warnings
    created: bool = False


def key_of(info: KindInfo, namespace: str, name: str) -> Key:
    return Key(info.resource, namespace if info.namespaced else "", name)


# Kinds whose kube storage sets ReturnDeletedObject (pods, services) or answers with the object itself
# (a namespace, Terminating): a DELETE answers with the object; any other kind with a Status.
_RETURNS_DELETED = frozenset({"Pod", "Service", "Namespace"})


def delete_answer(info: KindInfo, obj: Obj) -> Obj:
    """The body of a DELETE's answer, as kube-apiserver's store writes it: the object while it stays
    (finalizers left, e.g. a Foreground deletion), or for a kind of `_RETURNS_DELETED`; else, the
    object gone, a Status Success whose details name it (kind is the resource, as kube writes it).
    Its metadata (a ListMeta) carries the deletion's resourceVersion, which osdn's controllers keep."""
    meta = obj.get("metadata") or {}
    if info.kind in _RETURNS_DELETED or meta.get("finalizers"):
        return obj
    details = {"name": meta.get("name", ""), "group": info.group, "kind": info.plural, "uid": meta.get("uid", "")}
    rv = {"resourceVersion": meta["resourceVersion"]} if meta.get("resourceVersion") else {}
    return {"kind": "Status", "apiVersion": "v1", "metadata": rv, "status": "Success",
            "details": {k: v for k, v in details.items() if v}}


def _rv_of(obj: Obj) -> int | None:
    rv = (obj.get("metadata") or {}).get("resourceVersion")
    if rv in (None, ""):
        return None
    try:
        return int(rv)
    except (TypeError, ValueError):
        raise BadRequestError(f'metadata.resourceVersion "{rv}" is not a valid resource version') from None


class Resources:
    def __init__(self, store: Store, authorizer: Authorizer, admission: AdmissionChain,
                 clock: Callable[[], str] = utc_now) -> None:
        self.store, self.authorizer, self.admission, self.clock = store, authorizer, admission, clock
        self.collector = foreground.Collector(store, clock)   # finalizers, propagationPolicy Foreground

    # ---- helpers -----------------------------------------------------------------------------
    def authorize(self, user: User, verb: str, info: KindInfo, namespace: str = "", name: str = "",
                  subresource: str = "") -> None:
        """RBAC check; a request on one Namespace is checked in that namespace (as kube-apiserver does), so
        a project's roles may read their own Namespace."""
        scope = namespace if info.namespaced else name if info.kind == "Namespace" else ""
        self.authorizer.check(user, Attributes(verb, info.group, info.plural, subresource, scope, name))

    def _require_namespace(self, info: KindInfo, namespace: str) -> None:
        if not info.namespaced:
            return
        if not namespace:
            raise BadRequestError(f"{info.kind} is namespaced: a namespace is required (-n NAMESPACE)")
        try:
            ns = self.store.get(Key(NS_KIND.resource, "", namespace))
        except NotFoundError:
            raise NotFoundError(f'namespaces "{namespace}" not found', ObjectRef("Namespace", namespace)) from None
        if (ns.get("status") or {}).get("phase") == "Terminating":  # kube's NamespaceLifecycle admission
            raise ForbiddenError(f"unable to create new content in namespace {namespace} because it is being "
                                 "terminated", ObjectRef(info.kind))

    def _admit(self, op: str, info: KindInfo, user: User, obj: Obj, old: Obj | None,
               subresource: str = "", dry_run: bool = False) -> Warnings:
        ctx = AdmissionContext(op, info, user, obj, old, self.store, self.authorizer, subresource, dry_run=dry_run)
        self.admission.admit(ctx)
        return ctx.warnings

    # ---- reads -------------------------------------------------------------------------------
    def get_raw(self, user: User, info: KindInfo, namespace: str, name: str) -> bytes:
        self.authorize(user, "get", info, namespace, name)
        return self.store.get_raw(key_of(info, namespace, name))

    def list_raw(self, user: User, info: KindInfo, namespace: str | None, label_selector: str = "",
                 field_selector: str = "", verb: str = "list") -> tuple[list[bytes], int]:
        self.authorize(user, verb, info, namespace or "")
        sel = labels.parse(label_selector)
        fields = labels.parse_field_selector(field_selector)
        fieldlabels.check(info, fields, field_selector)
        items, rv = self.store.list(info.resource, namespace if info.namespaced else None)
        out = [(o["metadata"].get("namespace", ""), o["metadata"]["name"], raw) for o, raw in items
               if sel.matches(o["metadata"].get("labels")) and labels.match_fields(o, fields)]
        out.sort(key=lambda t: (t[0], t[1]))
        return [raw for _, _, raw in out], rv

    # ---- writes ------------------------------------------------------------------------------
    def _name_or_generate(self, info: KindInfo, body: Obj) -> None:
        meta = body.setdefault("metadata", {})
        if not isinstance(meta, dict) or meta.get("name"):
            return
        prefix = meta.get("generateName") or f"{info.singular}-"
        suffix = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(5))
        meta["name"] = f"{prefix}{suffix}"

    def create(self, user: User, info: KindInfo, namespace: str, body: Obj, dry_run: bool = False,
               manager: str | None = "unknown") -> Result:
        """`manager` owns the fields set (managedFields); None: `body` carries them (server-side apply)."""
        body = dict(body)  # shallow: prepare_create deep-copies before it changes anything nested
        if isinstance(body.get("metadata"), dict):
            body["metadata"] = dict(body["metadata"])
        body_ns = (body.get("metadata") or {}).get("namespace") if isinstance(body.get("metadata"), dict) else None
        if info.namespaced and body_ns and namespace and body_ns != namespace:
            raise BadRequestError(f'the namespace of the object ({body_ns}) does not match the namespace on '
                                  f'the request ({namespace})')
        namespace = namespace or body_ns or ""
        self.authorize(user, "create", info, namespace)
        self._require_namespace(info, namespace)
        self._name_or_generate(info, body)
        if manager is not None:
            body = ssa.record_update(None, body, manager, ssa.scope_for(info, self.clock()))
        obj = objects.prepare_create(info, body, namespace, self.clock(), str(uuid.uuid4()))
        if not dry_run:   # as in kube, where the limit is etcd's and a dry run never reaches etcd
            check_object_size(info, obj)
        warnings = self._admit("CREATE", info, user, obj, None, dry_run=dry_run)
        if dry_run:
            return Result(obj, warnings)
        return Result(self.store.create(key_of(info, namespace, obj["metadata"]["name"]), obj), warnings)

    def update(self, user: User, info: KindInfo, namespace: str, name: str, body: Obj,
               subresource: str = "", dry_run: bool = False, verb: str = "update",
               manager: str | None = "unknown") -> Result:
        self.authorize(user, verb, info, namespace, name, subresource)
        if not isinstance(body, dict):
            raise BadRequestError("the request body must be a JSON or YAML object")
        key = key_of(info, namespace, name)
        old = self.store.get(key)
        meta = body.get("metadata")
        meta = meta if isinstance(meta, dict) else {}
        body_name, body_ns = meta.get("name"), meta.get("namespace")
        if body_name and body_name != name:
            raise BadRequestError(f'the name of the object ({body_name}) does not match the name on the URL ({name})')
        if info.namespaced and body_ns and body_ns != namespace:
            raise BadRequestError(f'the namespace of the object ({body_ns}) does not match the namespace on '
                                  f'the request ({namespace})')
        body = copy.deepcopy(body)
        body.setdefault("metadata", {})["name"] = name
        expected = _rv_of(body)
        managed = body["metadata"].get("managedFields")
        body = self._merge_status(info, body, old, subresource)
        if manager is None:
            body["metadata"]["managedFields"] = managed
        else:
            body = ssa.record_update(old, body, manager, ssa.scope_for(info, self.clock(), subresource))
        obj = objects.prepare_update(info, body, old)
        if not dry_run:   # as in kube, where the limit is etcd's and a dry run never reaches etcd
            check_object_size(info, obj)
        foreground.check_update(info, old, obj)
        warnings = self._admit("UPDATE", info, user, obj, old, subresource, dry_run)
        if dry_run:
            return Result(obj, warnings)
        if foreground.empties_finalizers(old, obj):   # the last finalizer of an object being deleted
            return Result(self.collector.finish(key, obj, expected), warnings)
        stored = self.store.update(key, obj, expected)
        self.collector.unblocked(old, stored)
        return Result(stored, warnings)

    @staticmethod
    def _merge_status(info: KindInfo, body: Obj, old: Obj, subresource: str) -> Obj:
        """Main resource writes keep the stored status; /status writes change only the status."""
        if subresource == "status":
            new = copy.deepcopy(old)
            new["status"] = body.get("status")
            new["metadata"]["resourceVersion"] = body["metadata"].get("resourceVersion")
            return new
        if subresource == "scale":   # osdn.apiserver.scale: only spec.replicas changes
            new = copy.deepcopy(old)
            new.setdefault("spec", {})["replicas"] = (body.get("spec") or {}).get("replicas")
            new["metadata"]["resourceVersion"] = body["metadata"].get("resourceVersion")
            return new
        if subresource:
            raise NotFoundError(f'{info.plural} has no subresource "{subresource}"')
        if info.has_status:
            if "status" in old:
                body["status"] = old["status"]
            else:
                body.pop("status", None)
        return body

    def patch(self, user: User, info: KindInfo, namespace: str, name: str, patch_body: Any,
              patch_type: str, subresource: str = "", dry_run: bool = False, manager: str = "unknown") -> Result:
        self.authorize(user, "patch", info, namespace, name, subresource)
        schema = schema_for(info.kind)
        if patch_type == "strategic" and schema is None:   # kube-apiserver's answer for custom resources
            raise UnsupportedMediaTypeError(
                "the body of the request was in an unknown format - accepted media types include: "
                "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")
        old = copy.deepcopy(self.store.get(key_of(info, namespace, name)))  # store snapshots are shared
        if patch_type == "json":
            new = patch.json_patch(old, patch_body)
        elif patch_type == "strategic" and schema is not None:
            new = strategic.apply_strategic_patch(old, patch_body, schema)
        elif patch_type == "merge":
            if not isinstance(patch_body, dict):
                raise BadRequestError("a merge patch must be a JSON object")
            new = patch.merge_patch(old, patch_body)
        else:
            raise BadRequestError(f'unknown patch type "{patch_type}" (use merge, json or strategic)')
        if not isinstance(new, dict):
            raise BadRequestError("the patched object is not an object")
        new.setdefault("metadata", {})["resourceVersion"] = (patch_body.get("metadata") or {}).get(
            "resourceVersion") if isinstance(patch_body, dict) and isinstance(patch_body.get("metadata"), dict) \
            else None
        return self.update(user, info, namespace, name, new, subresource, dry_run, verb="patch", manager=manager)

    def apply(self, user: User, info: KindInfo, namespace: str, name: str, config: Any, manager: str,
              force: bool = False, subresource: str = "", dry_run: bool = False) -> Result:
        """Server-side apply: create the object from `config`, or merge it in with ownership checks."""
        self.authorize(user, "patch", info, namespace, name, subresource)
        config = ssa.check_config(config, info, name)
        try:
            live = copy.deepcopy(self.store.get(key_of(info, namespace, name)))
        except NotFoundError:
            if subresource:
                raise
            new = ssa.apply(None, config, manager, force, ssa.scope_for(info, self.clock()))
            new["metadata"]["name"] = name
            created = self.create(user, info, namespace, new, dry_run, manager=None)
            return Result(created.obj, created.warnings, True)
        new = ssa.apply(live, config, manager, force, ssa.scope_for(info, self.clock(), subresource))
        return self.update(user, info, namespace, name, new, subresource, dry_run, "patch", manager=None)

    def delete(self, user: User, info: KindInfo, namespace: str, name: str, expected_rv: int | None = None,
               dry_run: bool = False, orphan: bool = False, cascade_foreground: bool = False) -> Result:
        self.authorize(user, "delete", info, namespace, name)
        key = key_of(info, namespace, name)
        old = self.store.get(key)
        warnings = self._admit("DELETE", info, user, old, old, dry_run=dry_run)
        if dry_run:
            return Result(old, warnings)
        if info.kind == "Namespace":
            return Result(self._terminate_namespace(key, old, expected_rv), warnings)
        if orphan:
            return Result(orphans.orphan_then_delete(self.store, info, key, old, expected_rv, self.clock()), warnings)
        return Result(self.collector.delete(info, key, old, expected_rv, cascade_foreground), warnings)

    def delete_collection(self, user: User, info: KindInfo, namespace: str, label_selector: str,
                          field_selector: str, dry_run: bool = False, orphan: bool = False,
                          foreground: bool = False) -> Obj:
        """DELETE of a collection (kube's deletecollection): each object the selectors match is deleted
        as one DELETE would; the answer is the List of them as each went (or stays, marked). The
        `deletecollection` verb on the resource is checked, as kube does (then `delete` per object)."""
        if info.kind == "Namespace":
            raise MethodNotAllowedError("namespaces cannot be deleted as a collection; delete each namespace")
        raws, rv = self.list_raw(user, info, namespace, label_selector, field_selector, verb="deletecollection")
        gone = []
        for raw in raws:
            name = json.loads(raw)["metadata"]["name"]
            with contextlib.suppress(NotFoundError):   # deleted by someone else meanwhile
                gone.append(self.delete(user, info, namespace, name, None, dry_run, orphan, foreground).obj)
        return {"apiVersion": info.api_version, "kind": f"{info.kind}List", "metadata": {"resourceVersion": str(rv)},
                "items": gone}

    def _terminate_namespace(self, key: Key, ns: Obj, expected_rv: int | None) -> Obj:
        """Crash-safe namespace deletion, like kube's namespace finalizer: first persist the namespace as
        Terminating (status.phase, metadata.deletionTimestamp), then delete its contents, then it.
        A crash in between leaves a Terminating namespace that `resume_namespace_deletions` finishes."""
        if (ns.get("status") or {}).get("phase") != "Terminating":
            marked = copy.deepcopy(ns)
            marked["metadata"]["deletionTimestamp"] = self.clock()
            marked["status"] = {**(marked.get("status") or {}), "phase": "Terminating"}
            self.store.update(key, marked, expected_rv)
        self._delete_contents(key.name)
        return self.store.delete(key)

    def resume_namespace_deletions(self) -> list[str]:
        """Finish every namespace left Terminating (the server stopped mid-delete); run at start."""
        info = by_kind("Namespace")
        names = [o["metadata"]["name"] for o, _ in self.store.list(info.resource)[0]
                 if (o.get("status") or {}).get("phase") == "Terminating"]
        for name in names:
            self._terminate_namespace(key_of(info, "", name), self.store.get(key_of(info, "", name)), None)
        return names

    def _delete_contents(self, namespace: str) -> None:
        """Delete everything in a Terminating namespace (synchronously, kind by kind), then once more:
        a create admitted just before the namespace was marked may have committed during the pass."""
        for _ in range(2):
            for info in all_kinds():
                if info.namespaced:
                    for obj, _raw in self.store.list(info.resource, namespace)[0]:
                        with contextlib.suppress(NotFoundError):  # deleted by someone else meanwhile
                            self.store.delete(key_of(info, namespace, obj["metadata"]["name"]))

