"""`propagationPolicy: Orphan` (`kubectl delete --cascade=orphan`): the dependents outlive their owner.

Kube's garbage collector does it with the `orphan` finalizer; osdn does it within the DELETE, in the
same order: the owner is marked (`metadata.deletionTimestamp`: its controller stops acting on it and
collects none of its dependents), the ownerReferences naming its uid are removed from every object
of its namespace (for a cluster-scoped owner: every cluster-scoped object), then the owner is
deleted. With Background (the default) the owner's controller deletes the dependents once the owner
is gone (docs/master.md, "Garbage collection"); Foreground is osdn.apiserver.foreground. A server
stopped in between leaves the owner marked; deleting it again finishes the job.
"""

from __future__ import annotations

import copy
from typing import Any

from osdn.api.registry import KindInfo, all_kinds
from osdn.errors import ConflictError
from osdn.store import Key, Store

Obj = dict[str, Any]
ATTEMPTS = 5


def without_owner(obj: Obj, uid: str) -> Obj | None:
    """Pure: `obj` with the ownerReferences to `uid` removed, or None when it has none."""
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    kept = [r for r in refs if not (isinstance(r, dict) and r.get("uid") == uid)]
    if len(kept) == len(refs):
        return None
    out = copy.deepcopy(obj)
    if kept:
        out["metadata"]["ownerReferences"] = kept
    else:
        out["metadata"].pop("ownerReferences", None)
    return out


def _release(store: Store, key: Key, uid: str) -> None:
    for _ in range(ATTEMPTS):   # a controller may write the dependent meanwhile: read it again
        current = store.get(key)
        released = without_owner(current, uid)
        if released is None:
            return
        try:
            store.update(key, released, int(current["metadata"]["resourceVersion"]))
            return
        except ConflictError:
            continue
    raise ConflictError(f'could not remove the ownerReference to uid {uid} from {key.resource} "{key.name}": '
                        "it kept changing; delete again")


def orphan_then_delete(store: Store, info: KindInfo, key: Key, owner: Obj, expected_rv: int | None,
                       now: str) -> Obj:
    """Mark `owner`, release its dependents, delete it; the deleted object."""
    if not owner["metadata"].get("deletionTimestamp"):
        marked = copy.deepcopy(owner)
        marked["metadata"]["deletionTimestamp"] = now
        owner = store.update(key, marked, expected_rv)
    uid = str(owner["metadata"].get("uid"))
    for kind in all_kinds():
        if kind.namespaced != info.namespaced:
            continue
        for obj, _raw in store.list(kind.resource, key.namespace or None)[0]:
            if without_owner(obj, uid) is not None:
                _release(store, Key(kind.resource, key.namespace, obj["metadata"]["name"]), uid)
    return store.delete(key)
