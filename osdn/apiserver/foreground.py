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
import logging
from collections.abc import Callable
from typing import Any

from osdn.api.objects import ref_of
from osdn.api.registry import KindInfo, all_kinds, by_kind
from osdn.errors import ConflictError, FieldError, NotFoundError, OsdnError, ValidationError
from osdn.store import Key, Store

log = logging.getLogger(__name__)
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
    if not deleting(old):
        return
    before = set(finalizers_of(old))   # one set, not a list per new finalizer (60,000 x 2,000 used to take 15 s)
    added = [f for f in finalizers_of(new) if f not in before]
    if added:
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


class _Indexes:
    """The objects of a scope by the uids they name as owners, built once per DELETE or write (one
    pass over the scope); blockers are read afresh from it (an object made since is not seen)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.built: dict[tuple[bool, str], Index] = {}

    def of(self, info: KindInfo, namespace: str) -> Index:
        scope = (info.namespaced, namespace if info.namespaced else "")
        if scope not in self.built:
            index: Index = {}
            for kind in all_kinds():
                if kind.namespaced == info.namespaced:
                    for obj, _raw in self.store.list(kind.resource, scope[1] or None)[0]:
                        for uid in owner_uids(obj):
                            index.setdefault(uid, []).append((kind, obj))
            self.built[scope] = index
        return self.built[scope]

    def blocked(self, info: KindInfo, key: Key, uid: str) -> bool:
        """Some dependent of `uid`, read afresh, still has a blockOwnerDeletion reference to it."""
        for kind, dep in self.of(info, key.namespace).get(uid, []):
            try:
                fresh = self.store.get(_key(kind, key.namespace, str(_meta(dep).get("name"))))
            except NotFoundError:
                continue
            if uid in owner_uids(fresh, blocking=True):
                return True
        return False


Owner = tuple[KindInfo, Key]


class Collector:
    """Finalizer-aware deletes and the foreground garbage collection, over one store. Iterative:
    an ownership chain of any length takes no stack."""

    def __init__(self, store: Store, clock: Callable[[], str]) -> None:
        self.store, self.clock = store, clock

    # ---- the API's entry points ----------------------------------------------------------------
    def delete(self, info: KindInfo, key: Key, obj: Obj, expected_rv: int | None, foreground: bool) -> Obj:
        """A DELETE of `obj` (just read): the object as it goes, or as it stays, marked. Without a
        resourceVersion precondition a write that came in between (a controller's) is read again."""
        for _ in range(ATTEMPTS):
            try:
                if foreground:
                    return self._foreground(info, key, obj, expected_rv, _Indexes(self.store))
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
        if waiting := self._waiting(gone, only):
            self._settle_all(waiting, _Indexes(self.store))

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
                    try:
                        self.delete(info, key, obj, None, foreground=True)
                    except OsdnError as err:   # the server starts anyway; deleting it again retries
                        log.warning("%s %s/%s: the foreground deletion could not be finished: %s", info.kind,
                                    key.namespace, key.name, err)
                        continue
                    done.append(f"{info.kind} {key.namespace}/{key.name}")
        return done

    # ---- the collection ------------------------------------------------------------------------
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

    def _foreground(self, info: KindInfo, key: Key, obj: Obj, expected_rv: int | None, indexes: _Indexes) -> Obj:
        """Mark the owner, mark or delete its dependents level by level, then settle the marked
        ones deepest first; the owner as it is then (or as it went)."""
        owner = self._mark(key, obj, expected_rv, FOREGROUND)
        marked: list[tuple[KindInfo, Key, str]] = [(info, key, str(_meta(owner).get("uid")))]
        seen = {marked[0][2]}
        for _kind, owner_key, uid in marked:   # grows while it is walked
            for dep_info, dep in indexes.of(info, key.namespace).get(uid, []):
                dep_key = _key(dep_info, owner_key.namespace, str(_meta(dep).get("name")))
                if (more := self._collect(dep_info, dep_key, uid, indexes, seen)) is not None:
                    marked.append(more)
        gone: dict[Key, Obj] = {}
        for dep_info, dep_key, _uid in reversed(marked):
            gone.update(self._settle_all([(dep_info, dep_key)], indexes))
        try:
            return self.store.get(key)
        except NotFoundError:
            return gone.get(key, owner)

    def _collect(self, info: KindInfo, key: Key, owner_uid: str, indexes: _Indexes,
                 seen: set[str]) -> tuple[KindInfo, Key, str] | None:
        """Delete one dependent of `owner_uid`, read afresh (it may have been released or changed):
        marked for the foreground when it has dependents itself (returned), else a plain delete."""
        for _ in range(ATTEMPTS):
            try:
                dep = self.store.get(key)
                uid = str(_meta(dep).get("uid"))
                if owner_uid not in owner_uids(dep) or uid in seen or \
                        (deleting(dep) and FOREGROUND not in finalizers_of(dep)):
                    return None   # released, a cycle, or already going (it waits for its own finalizers)
                if uid in indexes.of(info, key.namespace) or deleting(dep):
                    self._mark(key, dep, _rv(dep), FOREGROUND)
                    seen.add(uid)
                    return info, key, uid
                self._plain(key, dep, _rv(dep), notify=False)
                return None
            except NotFoundError:
                return None
            except ConflictError:
                continue
        return None

    def _waiting(self, gone: Obj, only: set[str] | None = None) -> list[Owner]:
        """The owners `gone` names (those in `only`) that wait in the foreground."""
        waiting = []
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
                waiting.append((info, key))
        return waiting

    def _settle_all(self, queue: list[Owner], indexes: _Indexes) -> dict[Key, Obj]:
        """Settle the owners in `queue`, and the owners of those that go, up the chain; what went."""
        gone: dict[Key, Obj] = {}
        while queue:
            info, key = queue.pop()
            if (went := self._settle(info, key, indexes)) is not None:
                gone[key] = went
                queue.extend(self._waiting(went))
        return gone

    def _settle(self, info: KindInfo, key: Key, indexes: _Indexes) -> Obj | None:
        """Take the foreground finalizer off the owner at `key` once nothing blocks it; the owner
        if that deleted it."""
        for _ in range(ATTEMPTS):
            try:
                owner = self.store.get(key)
            except NotFoundError:
                return None
            if FOREGROUND not in finalizers_of(owner) or not deleting(owner) or \
                    indexes.blocked(info, key, str(_meta(owner).get("uid"))):
                return None
            kept = [f for f in finalizers_of(owner) if f != FOREGROUND]
            try:
                if kept:
                    self.store.update(key, {**owner, "metadata": {**_meta(owner), "finalizers": kept}}, _rv(owner))
                    return None
                return self.store.delete(key, _rv(owner))
            except ConflictError:
                continue
        raise ConflictError(f'could not finish the foreground deletion of {key.resource} "{key.name}": '
                            "it kept changing; delete it again")
