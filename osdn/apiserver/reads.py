"""GET responses of the API: lists (paged, optionally as a Table), single objects and watch events
(each optionally as a Table).

The list body is assembled from the stored JSON bytes without re-encoding them (the fast path);
a Table or YAML answer decodes them. `metadata.continue`/`remainingItemCount` come from the pager.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import yaml
from starlette.requests import Request
from starlette.responses import Response

from osdn.api import protobuf
from osdn.api.registry import KindInfo
from osdn.apiserver import negotiate, paging, tables
from osdn.apiserver.auth import User
from osdn.apiserver.paging import Page, Pager, check_resource_version_match
from osdn.apiserver.resources import Resources
from osdn.errors import NotAcceptableError

Obj = dict[str, Any]


def _now() -> float:
    return time.time()


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit") or "0"
    return int(raw) if raw.isdigit() else 0   # bodies.check_read_params refused anything else


def _list_meta(page: Page) -> Obj:
    meta: Obj = {"resourceVersion": str(page.rv)}
    if page.continue_token:
        meta["continue"] = page.continue_token
    if page.remaining is not None:
        meta["remainingItemCount"] = page.remaining
    return meta


def list_page(request: Request, resources: Resources, pager: Pager, user: User, info: KindInfo,
              namespace: str) -> Page:
    q = request.query_params
    token = q.get("continue", "")
    selectors = (q.get("labelSelector", ""), q.get("fieldSelector", ""))
    fingerprint = json.dumps([info.resource, namespace, *selectors])
    if token:
        resources.authorize(user, "list", info, namespace)
        check_resource_version_match(q.get("resourceVersionMatch", ""), "", 0, continuing=True)
        return pager.next(fingerprint, token, _limit(request))
    raws, rv = resources.list_raw(user, info, namespace or None, *selectors)
    check_resource_version_match(q.get("resourceVersionMatch", ""), q.get("resourceVersion", ""), rv, False)
    return pager.first(fingerprint, raws, rv, _limit(request))


def list_response(request: Request, info: KindInfo, page: Page, headers: dict[str, str]) -> Response:
    meta = _list_meta(page)
    if tables.wants_table(request):
        items = [json.loads(r) for r in page.raws]
        return _json(tables.table(info, items, str(page.rv), _include(request), _now(), meta), headers)
    if negotiate.wants_protobuf(request) and (_in_table(info) or not negotiate.accepts_other(request)):
        listed = {"apiVersion": info.api_version, "kind": f"{info.kind}List", "metadata": meta,
                  "items": [json.loads(r) for r in page.raws]}
        if (pb := negotiate.protobuf_response(request, listed, 200, headers)) is not None:
            return pb
    head = json.dumps({"apiVersion": info.api_version, "kind": f"{info.kind}List", "metadata": meta})[:-1]
    body = (head + ',"items":[').encode() + b",".join(page.raws) + b"]}"
    if "yaml" in request.headers.get("accept", ""):
        return Response(yaml.safe_dump(json.loads(body), sort_keys=False), 200, headers, "application/yaml")
    return Response(body, 200, headers, "application/json")


def object_table(request: Request, info: KindInfo, obj: Obj, headers: dict[str, str]) -> Response | None:
    """The Table of one object when the client asked for one, else None."""
    if not tables.wants_table(request):
        return None
    rv = str((obj.get("metadata") or {}).get("resourceVersion", ""))
    return _json(tables.table(info, [obj], rv, _include(request), _now()), headers)


def objects_table(request: Request, info: KindInfo, items: list[Obj], rv: str) -> Response | None:
    if not tables.wants_table(request):
        return None
    return _json(tables.table(info, items, rv, _include(request), _now()), {})


def _include(request: Request) -> str:
    return request.query_params.get("includeObject") or "Metadata"


def _json(obj: Obj, headers: dict[str, str]) -> Response:
    return Response(json.dumps(obj, separators=(",", ":")).encode(), 200, headers, "application/json")


def watch_line(request: Request, info: KindInfo) -> Callable[[str, Obj, bytes], bytes]:
    """How a watch event is written: the stored bytes, or (when the client asked for a Table, as
    `kubectl get -w` does) a one-row Table per event."""
    if _protobuf_watch(request, info):
        return lambda kind, obj, raw: _protobuf_event(kind, obj)
    if not tables.wants_table(request):
        return lambda kind, obj, raw: b'{"type":"' + kind.encode() + b'","object":' + raw + b"}\n"
    include = _include(request)

    def as_table(kind: str, obj: Obj, raw: bytes) -> bytes:
        rv = str((obj.get("metadata") or {}).get("resourceVersion", ""))
        table = tables.table(info, [obj], rv, include, _now())
        return json.dumps({"type": kind, "object": table}, separators=(",", ":")).encode() + b"\n"
    return as_table


def _in_table(info: KindInfo) -> bool:
    return (info.api_version, info.kind) in protobuf.KINDS


def _protobuf_watch(request: Request, info: KindInfo) -> bool:
    """True when the watch is written as protobuf frames: the client prefers protobuf and the kind is
    in the table (else JSON lines when the Accept allows JSON, 406 when it names protobuf only)."""
    if tables.wants_table(request) or not negotiate.wants_protobuf(request):
        return False
    if _in_table(info):
        return True
    if negotiate.accepts_other(request):
        return False
    raise NotAcceptableError(f'kind "{info.kind}" of "{info.api_version}" is not served as {protobuf.MEDIA_TYPE} '
                             "by osdn; ask for application/json")


def _protobuf_event(kind: str, obj: Obj) -> bytes:
    """One frame; an object the table cannot carry ends the watch with an ERROR event naming the field
    (the client lists again, as JSON when it accepts JSON)."""
    try:
        return protobuf.encode_watch_event(kind, obj)
    except NotAcceptableError as e:
        return protobuf.encode_watch_event("ERROR", e.to_status())


def bookmark(request: Request, info: KindInfo, rv: int) -> bytes:
    """A BOOKMARK (the kind with only metadata.resourceVersion), in the stream's encoding."""
    obj = {"kind": info.kind, "apiVersion": info.api_version, "metadata": {"resourceVersion": str(rv)}}
    if _protobuf_watch(request, info):
        return _protobuf_event("BOOKMARK", obj)
    return json.dumps({"type": "BOOKMARK", "object": obj}, separators=(",", ":")).encode() + b"\n"


def error_event(request: Request, info: KindInfo, status: Obj) -> bytes:
    """An ERROR event carrying a Status, in the stream's encoding (never a Table: kubectl prints the Status)."""
    if _protobuf_watch(request, info):
        return protobuf.encode_watch_event("ERROR", status)
    return json.dumps({"type": "ERROR", "object": status}, separators=(",", ":")).encode() + b"\n"


def watch_media_type(request: Request, info: KindInfo) -> str:
    return negotiate.WATCH_MEDIA_TYPE if _protobuf_watch(request, info) else "application/json"


def initial_events_end(request: Request, info: KindInfo, rv: int) -> bytes:
    """The BOOKMARK that ends the initial events of a watch-list, in the stream's encoding."""
    line = paging.initial_events_end(info, rv)
    return _protobuf_event("BOOKMARK", json.loads(line)["object"]) if _protobuf_watch(request, info) else line
