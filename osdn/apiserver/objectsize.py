"""The size limit of a stored object: what kube-apiserver's etcd refuses (1.5 MiB a value).

Every write of an object costs time in proportion to its size (decode, server-side apply field sets,
managedFields, validation, encode, every watcher's copy), and the request body limit (3 MiB) alone
does not bound it: an apply by a second manager doubles the managedFields, and each update may add
to an object again. Capping the object as stored bounds the cost of every later request on it. The
size is that of the object's compact JSON, managedFields included; a write that would store more is
refused with 413, nothing written. Dry runs store nothing and are not checked (kube's limit is
etcd's, which a dry run never reaches); their cost is bounded by the body limit.
"""

from __future__ import annotations

import json
from typing import Any

from osdn.api.registry import KindInfo
from osdn.errors import RequestEntityTooLargeError

MAX_OBJECT_BYTES = 1536 * 1024   # etcd's --max-request-bytes default, which kube objects live under


def check_object_size(info: KindInfo, obj: dict[str, Any], limit: int = MAX_OBJECT_BYTES) -> None:
    """Refuse `obj` with 413 when its stored form would be larger than `limit` bytes."""
    size = len(json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode())
    if size > limit:
        name = (obj.get("metadata") or {}).get("name")
        managed = len(json.dumps((obj.get("metadata") or {}).get("managedFields") or [], separators=(",", ":")))
        raise RequestEntityTooLargeError(
            f'{info.plural} "{name}": the object would be {size} bytes once stored (metadata.managedFields: '
            f"{managed} bytes), more than the limit of {limit} bytes per object")
