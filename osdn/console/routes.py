"""The console's HTTP face under /console/: the single-page app's static files and its JSON
endpoints, computed with osdn.model from the objects the caller may read.

Read-only: the only write-shaped call is the impact preview's dry run (`Backend.dry_run`, which the
API server runs with dryRun=All). Every endpoint needs the caller's bearer token; what the model
sees is what `Backend.read_objects` returns for that caller (RBAC decides), so a project admin's
matrix, trace and topology hold only their projects. Cost is bounded: request bodies, manifest
documents and the model's pod count have limits (4xx past them, naming the limit), and at most
`Limits.computations` model computations run at once, in threads, off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any, Protocol

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from osdn.api.decode import decode_json, decode_yaml
from osdn.console.grid import AUTO, compute_grid, grid_to_dict, invalid, overlay_verify
from osdn.console.svg import render_grid_svg
from osdn.console.topology import compute_topology
from osdn.errors import NotFoundError, OsdnError, RequestEntityTooLargeError
from osdn.model.cluster import ClusterState, cluster_network_settings
from osdn.model.impact import (
    apply_changes,
    compute_change_impact,
    compute_network_changes,
    network_change_requests,
    summarize_impact,
)
from osdn.model.matrix import compute_matrix
from osdn.model.multicast import compute_multicast_receivers
from osdn.model.oracle import compute_verdict, resolve_endpoint
from osdn.model.sdnconfig import Mode
from osdn.model.trace import (
    is_multicast_group,
    multicast_to_dict,
    render_multicast,
    render_trace,
    verdict_to_dict,
)
from osdn.model.verdict import PROTOCOLS, Connection

log = logging.getLogger(__name__)
Obj = dict[str, Any]
STATIC = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
          "app.css": "text/css; charset=utf-8"}
_DOC_SPLIT = re.compile(rb"^---[ \t]*$", re.MULTILINE)


@dataclass(frozen=True)
class Limits:
    body_bytes: int = 1024 * 1024     # a POST body (manifest, verify report)
    documents: int = 50               # objects in an impact manifest
    pods: int = 5000                  # pods the model may hold for one request
    endpoint_chars: int = 253         # a trace's --from / --to
    computations: int = 2             # model computations running at once
    ping_seconds: float = 20.0        # keep-alive line on the change feed


class Subscription(Protocol):
    def cancel(self) -> None: ...


class Backend(Protocol):
    """What the API server provides: the caller, and what that caller may read or dry-run."""

    def user(self, request: Request) -> Any: ...
    def read_objects(self, user: Any) -> list[Obj]: ...
    def dry_run(self, user: Any, obj: Obj, namespace: str) -> Obj: ...
    def subscribe(self, user: Any, notify: Callable[[str], None]) -> Subscription: ...


def _static(name: str) -> bytes:
    return resources.files("osdn.console").joinpath("static", name).read_bytes()


class Console:
    def __init__(self, backend: Backend, limits: Limits | None = None) -> None:
        self.backend, self.limits = backend, limits or Limits()
        self._slots: asyncio.Semaphore | None = None

    # ---- plumbing ----------------------------------------------------------------------------
    async def _compute(self, fn: Callable[[], Obj]) -> Obj:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.limits.computations)
        async with self._slots:
            return await run_in_threadpool(fn)

    def _state(self, objs: list[Obj]) -> ClusterState:
        pods = sum(1 for o in objs if o.get("kind") == "Pod")
        if pods > self.limits.pods:
            raise RequestEntityTooLargeError(f"the console's model holds at most {self.limits.pods} pods; "
                                             f"{pods} are visible (use osdn adm reachability)")
        return ClusterState.from_objects(objs)

    async def _body(self, request: Request) -> Obj:
        raw = b""
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > self.limits.body_bytes:
                raise RequestEntityTooLargeError(f"request body larger than {self.limits.body_bytes} bytes")
        value = decode_json(raw).value if raw else {}
        if not isinstance(value, dict):
            raise invalid("body", "must be a JSON object")
        return value

    def _handler(self, fn: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            try:
                return await fn(request)
            except OsdnError as e:
                return JSONResponse(e.to_status(), e.code)
            except Exception as e:  # a bug must still answer with a Status, and be logged
                log.exception("console: internal error on %s %s", request.method, request.url.path)
                return JSONResponse(OsdnError(f"internal error: {e}").to_status(), 500)
        return handle

    # ---- static ------------------------------------------------------------------------------
    async def static(self, request: Request) -> Response:
        name = request.path_params.get("name") or "index.html"
        if name not in STATIC:
            raise NotFoundError(f'console file "{name}" not found')
        return Response(_static(name), media_type=STATIC[name],
                        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff",
                                 "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
                                                            "img-src 'self' data:; frame-ancestors 'none'"})

    # ---- model endpoints ---------------------------------------------------------------------
    async def topology(self, request: Request) -> Response:
        user = self.backend.user(request)

        def compute() -> Obj:
            objs = self.backend.read_objects(user)
            return compute_topology(self._state(objs), {o["metadata"]["name"] for o in objs
                                                        if o.get("kind") == "NetNamespace"})
        return JSONResponse(await self._compute(compute))

    async def reachability(self, request: Request) -> Response:
        user = self.backend.user(request)
        params: Obj = dict(request.query_params)
        if request.method == "POST":
            params.update(await self._body(request))
        protocol, port = _probe(params)
        level = str(params.get("level") or AUTO)
        if bool(params.get("from")) != bool(params.get("to")):
            raise invalid("from" if not params.get("from") else "to", "a drill-down needs both from and to (projects)")
        scope = (str(params["from"]), str(params["to"])) if params.get("from") else None
        verify = params.get("verify")
        if verify is not None and not isinstance(verify, dict):
            raise invalid("verify", "must be the JSON object osdn adm verify -o json prints")

        def compute() -> Obj:
            grid = compute_grid(compute_matrix(self._state(self.backend.read_objects(user)), protocol, port),
                                level, scope)
            grid = overlay_verify(grid, verify) if verify else grid
            return {**grid_to_dict(grid), "svg": render_grid_svg(grid)}
        return JSONResponse(await self._compute(compute))

    async def trace(self, request: Request) -> Response:
        user = self.backend.user(request)
        params: Obj = dict(request.query_params)
        if request.method == "POST":
            params.update(await self._body(request))
        protocol, port = _probe(params)
        ends = [self._endpoint(params, name) for name in ("from", "to")]

        def compute() -> Obj:
            state = self._state(self.backend.read_objects(user))
            src = resolve_endpoint(state, ends[0])
            if is_multicast_group(ends[1]):  # as adm trace: the group's receivers
                if src.pod is None:
                    raise invalid("from", "multicast senders must be pods")
                result = compute_multicast_receivers(state, src.pod)
                return {"text": render_multicast(result, ends[1]), "multicast": multicast_to_dict(result, ends[1])}
            verdict = compute_verdict(state, Connection(src, resolve_endpoint(state, ends[1]), protocol, port))
            return {"text": render_trace(verdict), "verdict": verdict_to_dict(verdict)}
        return JSONResponse(await self._compute(compute))

    def _endpoint(self, params: Obj, name: str) -> str:
        value = str(params.get(name) or "").strip()
        if not value:
            raise invalid(name, "required: ns/pod, ns/service, node/NAME, an IP or a name")
        if len(value) > self.limits.endpoint_chars:
            raise invalid(name, f"longer than {self.limits.endpoint_chars} characters")
        return value

    async def impact(self, request: Request) -> Response:
        user = self.backend.user(request)
        body = await self._body(request)
        docs = self._documents(str(body.get("manifest") or ""))
        namespace = str(body.get("namespace") or "default")
        changed = [self.backend.dry_run(user, doc, namespace) for doc in docs]  # admission and RBAC, no write

        def compute() -> Obj:
            before = self.backend.read_objects(user)
            requests = network_change_requests(changed)  # adm pod-network's annotation: replay the master
            moved, errors = compute_network_changes(before, requests, Mode(cluster_network_settings(before)[0])) \
                if requests else ([], [])
            after = apply_changes(before, changed + moved, [])
            self._state(after)
            opened, closed = compute_change_impact(before, after)
            return {"lines": errors + summarize_impact(opened, closed, True),
                    "opened": [_change(c) for c in opened], "closed": [_change(c) for c in closed],
                    "objects": [f"{o.get('kind')} {o['metadata'].get('namespace', '')}/{o['metadata']['name']}"
                                .replace(" /", " ") for o in changed]}
        return JSONResponse(await self._compute(compute))

    def _documents(self, manifest: str) -> list[Obj]:
        if not manifest.strip():
            raise invalid("manifest", "required: one or more YAML or JSON objects")
        raw = manifest.encode()
        parts = [decode_json(raw).value] if raw.lstrip().startswith(b"{") else \
            [decode_yaml(part).value for part in _DOC_SPLIT.split(raw)]
        docs: list[Obj] = []
        for n, value in enumerate(parts):
            if value is None:
                continue
            if not isinstance(value, dict):
                raise invalid(f"manifest[{n}]", "must be an object with apiVersion and kind")
            docs += [i for i in value.get("items") or [] if isinstance(i, dict)] \
                if str(value.get("kind", "")).endswith("List") else [value]
        if not docs:
            raise invalid("manifest", "holds no object")
        if len(docs) > self.limits.documents:
            raise invalid("manifest", f"{len(docs)} objects, more than {self.limits.documents}")
        return docs

    # ---- change feed -------------------------------------------------------------------------
    async def watch(self, request: Request) -> Response:
        """Newline-delimited JSON: `{"type":"CHANGED","kinds":[...]}` whenever objects the caller may
        read change (coalesced: bounded memory whatever the write rate), `{"type":"PING"}` meanwhile."""
        user = self.backend.user(request)
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()
        kinds: set[str] = set()

        def mark(kind: str) -> None:
            kinds.add(kind)
            wake.set()

        def notify(kind: str) -> None:  # from the store's thread
            with contextlib.suppress(RuntimeError):  # the loop is closing: so is this stream
                loop.call_soon_threadsafe(mark, kind)

        sub = self.backend.subscribe(user, notify)

        async def stream() -> AsyncIterator[bytes]:
            try:
                yield json.dumps({"type": "READY"}).encode() + b"\n"
                while True:
                    try:
                        await asyncio.wait_for(wake.wait(), self.limits.ping_seconds)
                    except TimeoutError:
                        yield b'{"type":"PING"}\n'
                        continue
                    wake.clear()
                    changed = sorted(kinds)
                    kinds.clear()
                    yield json.dumps({"type": "CHANGED", "kinds": changed}).encode() + b"\n"
            finally:
                sub.cancel()
        return StreamingResponse(stream(), media_type="application/x-ndjson",
                                 headers={"Cache-Control": "no-store"})

    def routes(self) -> list[BaseRoute]:
        h = self._handler
        return [
            Route("/console", lambda request: RedirectResponse("/console/")),
            Route("/console/", h(self.static)), Route("/console/static/{name}", h(self.static)),
            Route("/console/api/topology", h(self.topology)),
            Route("/console/api/reachability", h(self.reachability), methods=["GET", "POST"]),
            Route("/console/api/trace", h(self.trace), methods=["GET", "POST"]),
            Route("/console/api/impact", h(self.impact), methods=["POST"]),
            Route("/console/api/watch", h(self.watch)),
        ]


def _probe(params: Obj) -> tuple[str, int]:
    protocol = str(params.get("protocol") or "TCP").upper()
    if protocol not in PROTOCOLS:
        raise invalid("protocol", f'"{protocol}": must be one of {", ".join(PROTOCOLS)}')
    raw = params.get("port")
    try:
        if isinstance(raw, bool):
            raise ValueError(raw)
        port = 80 if raw in (None, "") else int(raw)
    except (TypeError, ValueError):
        raise invalid("port", f'"{params.get("port")}": must be a number') from None
    if not 1 <= port <= 65535:
        raise invalid("port", f"{port}: must be between 1 and 65535")
    return protocol, port


def _change(c: Any) -> Obj:
    return {"from": c.src, "to": c.dst, "protocol": c.protocol, "port": c.port, "before": c.before, "after": c.after}
