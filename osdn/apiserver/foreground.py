"""Deletion with finalizers, and `propagationPolicy: Foreground` (`kubectl delete --cascade=foreground`).

Finalizers, as kube-apiserver has them: a DELETE of an object whose `metadata.finalizers` is not
empty only marks it (`metadata.deletionTimestamp`: a MODIFIED event); the write that takes its last
finalizer off deletes it (a DELETED event); a write may not add a finalizer to an object being
deleted (`check_update`), nor set or clear its deletionTimestamp (osdn.api.objects keeps the stored one).

Foreground, as kube's garbage collector does it with the `foregroundDeletion` finalizer, here within
the server (`Collector`): the owner is marked (deletionTimestamp and the finalizer), then its
dependents (the objects of its namespace, or the cluster-scoped objects for a cluster-scoped owner,
whose ownerReferences name its uid; the same scope as osdn.apiserver.orphans) are deleted: those
with dependents of their own in the foreground too, the others as a plain DELETE (one with
finalizers stays, marked, until they are removed). When no object with a `blockOwnerDeletion: true`
reference to the owner is left, the finalizer comes off and, no other finalizer left, the owner goes.
A dependent that goes later (its last finalizer removed) or loses its reference to the owner
settles the owner then (`released`, `unblocked`). The controllers act on no owner with a
deletionTimestamp (osdn.master.replicas, osdn.master.deployments), so nothing replaces what is
collected. An ownership cycle waits forever, as in kube. A server stopped in between leaves the owner
marked; `resume` (at start) or another foreground DELETE finishes it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from osdn.api.objects import ref_of
from osdn.api.registry import KindInfo, all_kinds, by_kind
from osdn.errors import ConflictError, FieldError, NotFoundError, ValidationError
from osdn.store import Key, Store

Obj = dict[str, Any]
Index = dict[str, list[tuple[KindInfo, Obj]]]   # owner uid -> its dependents
FOREGROUND = "foregroundDeletion"
ATTEMPTS = 5   # re-reads of an object another writer changed meanwhile


def _meta(obj: Obj) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def finalizers_of(obj: Obj) -> list[str]:
    value = _meta(obj).get("finalizers")
    return [f for f in value if isinstance(f, str)] if isinstance(value, list) else []


def deleting(obj: Obj) -> bool:
    return bool(_meta(obj).get("deletionTimestamp"))


def owner_uids(obj: Obj, blocking: bool = False) -> set[str]:
    """Pure: the uids `obj`'s ownerReferences name (only those with blockOwnerDeletion: true if `blocking`)."""
    refs = _meta(obj).get("ownerReferences")
    return {str(r["uid"]) for r in refs if isinstance(r, dict) and r.get("uid")
            and (not blocking or r.get("blockOwnerDeletion") is True)} if isinstance(refs, list) else set()


def check_update(info: KindInfo, old: Obj, new: Obj) -> None:
    """Pure: kube's rule that no finalizer may be added to an object being deleted (422)."""
    added = [f for f in finalizers_of(new) if f not in finalizers_of(old)]
    if deleting(old) and added:
        found = "[]string{" + ", ".join(json.dumps(f) for f in added) + "}"
        raise ValidationError.of(ref_of(info, old), [FieldError(
            "metadata.finalizers", "Forbidden: no new finalizers can be added if the object is being deleted, "
            f"found new finalizers {found}", "FieldValueForbidden")])


def empties_finalizers(old: Obj, new: Obj) -> bool:
    """Pure: the write takes the last finalizer off an object being deleted, so it goes."""
    return deleting(old) and bool(finalizers_of(old)) and not finalizers_of(new)


def _rv(obj: Obj) -> int:
    return int(_meta(obj)["resourceVersion"])


def _key(info: KindInfo, namespace: str, name: str) -> Key:
    return Key(info.resource, namespace if info.namespaced else "", name)


class Collector:
    """Finalizer-aware deletes and the foreground garbage collection, over one store."""

    def __init__(self, store: Store, clock: Callable[[], str]) -> None:
        self.store, self.clock = store, clock

    # ---- the API's entry points ----------------------------------------------------------------
    def delete(self, info: KindInfo, key: Key, obj: Obj, expected_rv: int | None, foreground: bool) -> Obj:
        """A DELETE of `obj` (just read): the object as it goes, or as it stays, marked. Without a
        resourceVersion precondition a write that came in between (a controller's) is read again."""
        for _ in range(ATTEMPTS):
            try:
                if foreground:
                    return self._foreground(info, key, obj, expected_rv, self._index(info, key.namespace), set())
                return self._plain(key, obj, expected_rv, notify=True)
            except ConflictError:
                if expected_rv is not None:
                    raise
                obj = self.store.get(key)
        raise ConflictError(f'{key.resource} "{key.name}" kept changing while it was being deleted; delete it again')

    def finish(self, key: Key, obj: Obj, expected_rv: int | None) -> Obj:
        """A write that takes the last finalizer off `obj`: it is deleted instead of written."""
        self.released(self.store.delete(key, expected_rv))
        return obj

    def released(self, gone: Obj, only: set[str] | None = None) -> None:
        """`gone` left the store (or dropped its references to `only`): settle the owners it named
        that wait in the foreground."""
        for ref in _meta(gone).get("ownerReferences") or []:
            if not isinstance(ref, dict) or (only is not None and ref.get("uid") not in only):
                continue
            try:
                info = by_kind(str(ref.get("kind")))
                key = _key(info, str(_meta(gone).get("namespace") or ""), str(ref.get("name")))
                owner = self.store.get(key)
            except NotFoundError:
                continue
            if _meta(owner).get("uid") == ref.get("uid") and FOREGROUND in finalizers_of(owner):
                self._settle(info, key)

    def unblocked(self, old: Obj, new: Obj) -> None:
        """An update: the owners `old` blocked and `new` no longer does may be done."""
        if lost := owner_uids(old, blocking=True) - owner_uids(new, blocking=True):
            self.released(old, lost)

    def resume(self) -> list[str]:
        """Finish every foreground deletion a stopped server left (at start): `kind namespace/name`."""
        done = []
        for info in all_kinds():
            for obj, _raw in self.store.list(info.resource)[0]:
                if deleting(obj) and FOREGROUND in finalizers_of(obj):
                    meta = _meta(obj)
                    key = _key(info, str(meta.get("namespace") or ""), str(meta.get("name")))
                    self._foreground(info, key, obj, None, self._index(info, key.namespace), set())
                    done.append(f"{info.kind} {key.namespace}/{key.name}")
        return done

    # ---- the collection ------------------------------------------------------------------------
    def _index(self, info: KindInfo, namespace: str) -> Index:
        """The objects of the owner's scope by the uids they name as owners (one pass per DELETE)."""
        index: Index = {}
        for kind in all_kinds():
            if kind.namespaced == info.namespaced:
                for obj, _raw in self.store.list(kind.resource, namespace or None)[0]:
                    for uid in owner_uids(obj):
                        index.setdefault(uid, []).append((kind, obj))
        return index

    def _blocked(self, info: KindInfo, namespace: str, uid: str) -> bool:
        """Some object of the scope still has a blockOwnerDeletion reference to `uid`."""
        return any(uid in owner_uids(obj, blocking=True)
                   for kind in all_kinds() if kind.namespaced == info.namespaced
                   for obj, _raw in self.store.list(kind.resource, namespace or None)[0])

    def _mark(self, key: Key, obj: Obj, expected_rv: int | None, finalizer: str | None) -> Obj:
        marked = copy.deepcopy(obj)
        meta = marked["metadata"]
        meta["deletionTimestamp"] = meta.get("deletionTimestamp") or self.clock()
        if finalizer and finalizer not in finalizers_of(marked):
            meta["finalizers"] = [*finalizers_of(marked), finalizer]
        if marked == obj:
            return obj
        return self.store.update(key, marked, expected_rv if expected_rv is not None else _rv(obj))

    def _plain(self, key: Key, obj: Obj, expected_rv: int | None, notify: bool) -> Obj:
        """A Background (or dependent's) delete: marked if it has finalizers, else gone."""
        if finalizers_of(obj):
            return self._mark(key, obj, expected_rv, None)
        gone = self.store.delete(key, expected_rv)
        if notify:
            self.released(gone)
        return gone

    def _foreground(self, info: KindInfo, key: Key, obj: Obj, expected_rv: int | None, index: Index,
                    seen: set[str]) -> Obj:
        owner = self._mark(key, obj, expected_rv, FOREGROUND)
        uid = str(_meta(owner).get("uid"))
        seen.add(uid)
        for dep_info, dep in index.get(uid, []):
            dep_key = _key(dep_info, key.namespace, str(_meta(dep).get("name")))
            self._collect(dep_info, dep_key, uid, index, seen)
        return self._settle(info, key) or owner

    def _collect(self, info: KindInfo, key: Key, owner_uid: str, index: Index, seen: set[str]) -> None:
        """Delete one dependent of `owner_uid`, read afresh (it may have been released or changed)."""
        for _ in range(ATTEMPTS):
            try:
                dep = self.store.get(key)
                uid = str(_meta(dep).get("uid"))
                if owner_uid not in owner_uids(dep) or uid in seen or \
                        (deleting(dep) and FOREGROUND not in finalizers_of(dep)):
                    return   # released, a cycle, or already going (it waits for its own finalizers)
                if uid in index or deleting(dep):
                    self._foreground(info, key, dep, _rv(dep), index, seen)
                else:
                    self._plain(key, dep, _rv(dep), notify=False)
                return
            except NotFoundError:
                return
            except ConflictError:
                continue

    def _settle(self, info: KindInfo, key: Key) -> Obj | None:
        """Take the foreground finalizer off the owner at `key` once nothing blocks it; the owner
        as it is then (None: gone before)."""
        for _ in range(ATTEMPTS):
            try:
                owner = self.store.get(key)
            except NotFoundError:
                return None
            if FOREGROUND not in finalizers_of(owner) or not deleting(owner) or \
                    self._blocked(info, key.namespace, str(_meta(owner).get("uid"))):
                return owner
            kept = [f for f in finalizers_of(owner) if f != FOREGROUND]
            try:
                if kept:
                    return self.store.update(key, {**owner, "metadata": {**_meta(owner), "finalizers": kept}},
                                             _rv(owner))
                gone = self.store.delete(key, _rv(owner))
            except ConflictError:
                continue
            self.released(gone)
            return gone
        raise ConflictError(f'could not finish the foreground deletion of {key.resource} "{key.name}": '
                            "it kept changing; delete it again")
