"""The HTTP face of the API server: kube-style paths, JSON/YAML bodies, watch streams, discovery.

Paths: /api/v1[/namespaces/NS]/PLURAL[/NAME[/SUB]] and /apis/GROUP/VERSION/... ; `?watch=true`
streams newline-delimited `{"type": ..., "object": ...}` events. Errors are kube Status objects.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import yaml
from prometheus_client import Counter, Histogram
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from osdn.api import fieldlabels, labels, objects
from osdn.api.kinds.project import project_from_request
from osdn.api.patch import json_patch, merge_patch
from osdn.api.registry import KindInfo, by_kind, for_path
from osdn.api.satoken import looks_like_jwt
from osdn.apiserver import bodies, discovery, negotiate, reads, scale, tables
from osdn.apiserver.auth import TokenFile, User
from osdn.apiserver.console_backend import ConsoleBackend
from osdn.apiserver.fieldmanager import force_of, manager_of
from osdn.apiserver.impersonation import impersonated
from osdn.apiserver.paging import Pager, parse_bool, watch_list
from osdn.apiserver.projects import Projects
from osdn.apiserver.resources import Resources, delete_answer, key_of
from osdn.apiserver.reviews import review_routes
from osdn.apiserver.satoken import ServiceAccountTokens, read_token_request
from osdn.apiserver.token_api import token_routes
from osdn.apiserver.watchqueue import WatchLimits, WatchQueue, WatchSlots
from osdn.apiserver.watchwindow import Bookmarks, WatchWindow
from osdn.console.routes import Console
from osdn.errors import (
    BadRequestError,
    FieldError,
    GoneError,
    MethodNotAllowedError,
    NotFoundError,
    OsdnError,
    UnauthorizedError,
)
from osdn.store import Event, Store, Subscription
from osdn.store.fence import HEADER, Fence, fenced, parse_fence

log = logging.getLogger(__name__)

REQUESTS = Counter("osdn_apiserver_requests_total", "API requests", ["verb", "resource", "code"])
LATENCY = Histogram("osdn_apiserver_request_duration_seconds", "API request latency", ["verb"],
                    buckets=(.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5))
WATCH_EVENTS = Counter("osdn_apiserver_watch_events_total", "Events sent to watchers")



@dataclass
class Target:
    info: KindInfo
    namespace: str
    name: str
    subresource: str


_NO_RUNTIME = ": osdn's API server has no container runtime behind it"
# pod subresources served by a kubelet in Kubernetes: a 404 that says why, and what a lab offers instead
_RUNTIME_HINTS = {"log": f'{_NO_RUNTIME}; for a lab\'s pods use "osdn logs"',
                  "exec": f'{_NO_RUNTIME}; for a lab\'s pods use "osdn exec"',
                  **{sub: _NO_RUNTIME for sub in ("attach", "portforward", "ephemeralcontainers", "proxy")}}


def parse_target(prefix: str, segments: list[str]) -> Target:
    """Split `/api/v1/...` or `/apis/g/v/...` (segments after the version) into a Target."""
    if "/" in prefix:
        group, version = prefix.split("/", 1)
    else:
        group, version = "", prefix
    namespace = ""
    if len(segments) >= 3 and segments[0] == "namespaces" and segments[2] not in ("status", "finalize"):
        namespace, segments = segments[1], segments[2:]
    if not segments or len(segments) > 3:
        raise NotFoundError("the server could not find the requested resource")
    info = for_path(group, version, segments[0])
    name = segments[1] if len(segments) > 1 else ""
    sub = segments[2] if len(segments) > 2 else ""
    if namespace and not info.namespaced:
        raise NotFoundError(f"{info.plural} is not namespaced")
    # never act on NAME for NAME/garbage
    if sub and not ((sub == "status" and info.has_status) or (sub == "scale" and scale.scalable(info))
                    or (info.kind, sub) == ("ServiceAccount", "token")):
        hint = _RUNTIME_HINTS.get(sub, "") if info.kind == "Pod" else ""
        raise NotFoundError(f'the server could not find the requested resource ({info.plural} "{name}"/{sub}){hint}')
    return Target(info, namespace, name, sub)


def requested_dry_run(request: Request) -> bool:
    """`dryRun` as kube-apiserver reads it on a write: absent is a real write, every value must be
    `All`; anything else is refused (fail closed: a preview never becomes a write)."""
    values = request.query_params.getlist("dryRun")
    for value in values:
        if value != "All":
            message = f'dryRun: Unsupported value: "{value}": supported values: "All"'
            raise BadRequestError(message, causes=[FieldError("dryRun", message, "FieldValueNotSupported")])
    return bool(values)


def _with_warnings(response: Response, items: list[str]) -> Response:
    """One `Warning: 299 - "text"` header per warning, quotes escaped (RFC 9111, as kube-apiserver sends);
    non-ASCII characters as \\uXXXX escapes (header values are Latin-1)."""
    for text in items:
        quoted = text.replace("\\", "\\\\").replace('"', '\\"').encode("ascii", "backslashreplace").decode()
        response.headers.append("Warning", f'299 - "{quoted}"')
    return response


class Api:
    def __init__(self, store: Store, tokens: TokenFile, resources: Resources, projects: Projects,
                 watch_limits: WatchLimits | None = None, sa_tokens: ServiceAccountTokens | None = None) -> None:
        self.store, self.tokens, self.resources, self.projects = store, tokens, resources, projects
        self.sa_tokens = sa_tokens
        self.watch_limits = watch_limits or WatchLimits()
        self.watch_slots = WatchSlots(self.watch_limits.per_user)
        self.body_limits = bodies.BodyLimits()
        self.pager = Pager()
        start_rv = store.current_rv()
        self.window = WatchWindow(start_rv)
        for event in store.subscribe(None, None, start_rv, self.window.record)[0]:
            self.window.record(event)

    # ---- plumbing ----------------------------------------------------------------------------
    def user(self, request: Request) -> User:
        auth = request.headers.get("authorization", "")
        if not auth.lower().startswith("bearer "):
            raise UnauthorizedError("Unauthorized: no bearer token (use --token or a config file)")
        token = auth[7:].strip()
        user = self.sa_tokens.authenticate(token) if self.sa_tokens and looks_like_jwt(token) else \
            self.tokens.authenticate(token)
        return impersonated(request, user, self.resources.authorizer)

    @staticmethod
    def respond(request: Request, obj: Any, status: int = 200, raw: bytes | None = None,
                warnings: list[str] | None = None) -> Response:
        items = bodies.warnings_of(request) + (warnings or [])
        if negotiate.wants_protobuf(request):
            data = obj if obj is not None else json.loads(raw or b"null")
            if (pb := negotiate.protobuf_response(request, data, status)) is not None:
                return _with_warnings(pb, items)
        if "yaml" in request.headers.get("accept", ""):
            data = obj if obj is not None else json.loads(raw or b"null")
            return _with_warnings(Response(yaml.safe_dump(data, sort_keys=False), status, None, "application/yaml"),
                                  items)
        if raw is None:
            raw = json.dumps(obj, separators=(",", ":")).encode()
        return _with_warnings(Response(raw, status, None, "application/json"), items)

    async def handle(self, request: Request) -> Response:
        start = time.perf_counter()
        verb, resource, code = request.method.lower(), "", 500
        try:
            response = await self._dispatch(request)
            code = response.status_code
            return response
        except OsdnError as e:
            code = e.code
            return negotiate.error_response(request, e) or JSONResponse(e.to_status(), e.code)
        except Exception as e:  # an unexpected bug must still answer with a Status
            log.exception("internal error on %s %s", request.method, request.url.path)
            code = 500
            return JSONResponse(OsdnError(f"internal error: {e}").to_status(), 500)
        finally:
            REQUESTS.labels(verb, resource, str(code)).inc()
            LATENCY.labels(verb).observe(time.perf_counter() - start)

    async def _dispatch(self, request: Request) -> Response:
        parts = [p for p in request.url.path.split("/") if p]
        user = self.user(request)  # discovery too: kube binds system:discovery to authenticated users only
        if parts[0] == "api":
            if len(parts) == 1:
                return discovery.root(request, core=True)
            prefix, rest = parts[1], parts[2:]
        else:
            if len(parts) == 1:
                return discovery.root(request, core=False)
            if len(parts) < 3:
                raise NotFoundError("the server could not find the requested resource")
            prefix, rest = f"{parts[1]}/{parts[2]}", parts[3:]
        if not rest:
            return JSONResponse(discovery.resource_list(prefix))
        target = parse_target(prefix, rest)
        if target.info.kind == "Project":
            return await self.project(request, user, target)
        if target.info.kind == "ProjectRequest":
            return await self.project_request(request, user, target)
        with fenced(self._fence(request, user)):
            return await self.crud(request, user, target)

    def _fence(self, request: Request, user: User) -> Fence | None:
        """The request's write fence (osdn.store.fence), if it sends one; naming a Lease needs `get` on it."""
        value = request.headers.get(HEADER)
        if value is None:
            return None
        fence = parse_fence(value)
        self.resources.authorize(user, "get", by_kind("Lease"), fence.lease.namespace, fence.lease.name)
        return fence

    # ---- CRUD --------------------------------------------------------------------------------
    async def crud(self, request: Request, user: User, t: Target) -> Response:
        q = request.query_params
        res = self.resources
        method = request.method
        dry_run = method != "GET" and requested_dry_run(request)
        if t.subresource == "scale":
            return await self.scale_subresource(request, user, t, dry_run)
        if t.subresource == "token":
            return await self.token_request(request, user, t, dry_run)
        if method == "GET":
            bodies.check_read_params(q)
        if method == "GET" and not t.name:
            if parse_bool("watch", q.get("watch")):
                return await self.watch(request, user, t)
            page = reads.list_page(request, res, self.pager, user, t.info, t.namespace)
            return reads.list_response(request, t.info, page, {})
        if method == "GET":
            raw = res.get_raw(user, t.info, t.namespace, t.name)
            return reads.object_table(request, t.info, json.loads(raw), {}) or self.respond(request, None, raw=raw)
        if method == "POST" and not t.name:
            r = res.create(user, t.info, t.namespace, await self._object(request, t), dry_run, manager_of(request))
            return self.respond(request, r.obj, 201, warnings=r.warnings.items)
        if method == "PUT" and t.name:
            r = res.update(user, t.info, t.namespace, t.name, await self._object(request, t), t.subresource,
                           dry_run, manager=manager_of(request))
            return self.respond(request, r.obj, warnings=r.warnings.items)
        if method == "PATCH" and t.name:
            body, ptype = await bodies.read_patch(request, self.body_limits, t.info)
            force, manager = force_of(request, ptype == "apply"), manager_of(request, ptype == "apply")
            r = res.apply(user, t.info, t.namespace, t.name, body, manager, force, t.subresource, dry_run) \
                if ptype == "apply" else \
                res.patch(user, t.info, t.namespace, t.name, body, ptype, t.subresource, dry_run, manager)
            return self.respond(request, r.obj, 201 if r.created else 200, warnings=r.warnings.items)
        if method == "DELETE" and t.name and not t.subresource:
            opts = await bodies.read_delete_options(request, self.body_limits)
            expected = opts.resource_version
            if opts.uid is not None:
                res.authorize(user, "delete", t.info, t.namespace, t.name)
                expected = bodies.expected_version(opts, self.store.get(key_of(t.info, t.namespace, t.name)))
            r = res.delete(user, t.info, t.namespace, t.name, expected, dry_run or opts.dry_run, opts.orphan,
                           opts.foreground)
            return self.respond(request, delete_answer(t.info, r.obj), warnings=r.warnings.items)
        if method == "DELETE" and not t.name and (t.namespace or not t.info.namespaced):
            opts = await bodies.read_delete_options(request, self.body_limits)
            return self.respond(request, res.delete_collection(
                user, t.info, t.namespace, q.get("labelSelector", ""), q.get("fieldSelector", ""),
                dry_run or opts.dry_run, opts.orphan, opts.foreground))
        raise MethodNotAllowedError(f"{method} is not supported on {request.url.path}")

    async def scale_subresource(self, request: Request, user: User, t: Target, dry_run: bool) -> Response:
        """GET, PUT or PATCH of an autoscaling/v1 Scale (osdn.apiserver.scale)."""
        res, method = self.resources, request.method
        if method == "GET":
            return self.respond(request, scale.get(res, user, t.info, t.namespace, t.name))
        if method == "PUT":
            body = await bodies.read_object(request, self.body_limits, None)
            return self.respond(request, scale.write(res, user, t.info, t.namespace, t.name, body, "update", dry_run,
                                                     manager_of(request)))
        if method == "PATCH":
            res.authorize(user, "patch", t.info, t.namespace, t.name, "scale")
            body, ptype = await bodies.read_patch(request, self.body_limits, t.info)
            new = scale.patched(res, t.info, t.namespace, t.name, body, ptype)
            return self.respond(request, scale.write(res, user, t.info, t.namespace, t.name, new, "patch", dry_run,
                                                     manager_of(request)))
        raise MethodNotAllowedError(f"{method} is not supported on {request.url.path}")

    async def token_request(self, request: Request, user: User, t: Target, dry_run: bool) -> Response:
        """POST .../serviceaccounts/NAME/token: an authentication.k8s.io/v1 TokenRequest (osdn.apiserver.satoken)."""
        if request.method != "POST":
            raise MethodNotAllowedError(f"{request.method} is not supported on {request.url.path}: only POST")
        self.resources.authorize(user, "create", t.info, t.namespace, t.name, "token")
        if self.sa_tokens is None:
            raise NotFoundError("this server has no service account signing key: it serves no TokenRequests")
        body = await read_token_request(request, self.body_limits)
        return self.respond(request, self.sa_tokens.issue(t.namespace, t.name, body, dry_run), 201)

    async def _object(self, request: Request, t: Target | None = None) -> dict[str, Any]:
        return await bodies.read_object(request, self.body_limits, t.info if t else None)

    async def project_request(self, request: Request, user: User, t: Target) -> Response:
        """`oc new-project`: POST a ProjectRequest, get the Project (never stored as itself). Any
        authenticated user may request a project, as with a Project POST; a GET of the collection
        (how `oc new-project` asks whether it may) answers with an empty list."""
        if request.method == "GET" and not t.name:
            empty = {"apiVersion": t.info.api_version, "kind": "ProjectRequestList", "metadata": {}, "items": []}
            return reads.objects_table(request, t.info, [], "0") or self.respond(request, empty)
        if request.method != "POST" or t.name:
            raise MethodNotAllowedError(f"{request.method} is not supported on {request.url.path}")
        body = await self._object(request, t)
        objects.prepare_create(t.info, body, None, self.resources.clock(), "")  # validates the request
        r = self.projects.create(user, project_from_request(body), requested_dry_run(request))
        return self.respond(request, r.obj, 201, warnings=r.warnings.items)

    async def project(self, request: Request, user: User, t: Target) -> Response:
        method = request.method
        dry_run = method != "GET" and requested_dry_run(request)
        if method == "GET":
            bodies.check_read_params(request.query_params)
        if method == "GET" and not t.name:
            items, rv = self.projects.list(user, request.query_params.get("labelSelector", ""))
            listed = {"apiVersion": t.info.api_version, "kind": "ProjectList",
                      "metadata": {"resourceVersion": str(rv)}, "items": items}
            return reads.objects_table(request, t.info, items, str(rv)) or self.respond(request, listed)
        if method == "GET":
            project = self.projects.get(user, t.name)
            return reads.object_table(request, t.info, project, {}) or self.respond(request, project)
        if method == "POST":
            r = self.projects.create(user, await self._object(request, t), dry_run)
            return self.respond(request, r.obj, 201, warnings=r.warnings.items)
        if method == "DELETE":  # kubectl sends a server dry run of a delete in the DeleteOptions body
            opts = await bodies.read_delete_options(request, self.body_limits)
            return self.respond(request, self.projects.delete(user, t.name, dry_run or opts.dry_run))
        if method == "PUT":
            return self.respond(request, self.projects.update(user, t.name, await self._object(request, t),
                                                              dry_run=dry_run))
        if method == "PATCH":
            body, kind = await bodies.read_patch(request, self.body_limits, t.info)
            fn = (lambda o: json_patch(o, body)) if kind == "json" else (lambda o: merge_patch(o, body))
            return self.respond(request, self.projects.update(user, t.name, {}, fn, dry_run))
        raise MethodNotAllowedError(f"{method} is not supported on projects")

    # ---- watch -------------------------------------------------------------------------------
    async def watch(self, request: Request, user: User, t: Target) -> Response:
        q = request.query_params
        self.resources.authorize(user, "watch", t.info, t.namespace)
        sel = labels.parse(q.get("labelSelector", ""))
        fields = labels.parse_field_selector(q.get("fieldSelector", ""))
        fieldlabels.check(t.info, fields, q.get("fieldSelector", ""))
        release = self.watch_slots.take(user)   # 429 past WatchLimits.per_user; given back when the stream ends
        try:
            return await self._watch(request, user, t, sel, fields, release)
        except BaseException:
            release()
            raise

    async def _watch(self, request: Request, user: User, t: Target, sel: labels.Selector,
                     fields: dict[str, tuple[str, bool]], release: Callable[[], None]) -> Response:
        q = request.query_params
        timeout = float(q.get("timeoutSeconds") or 0) or None
        rv_param = q.get("resourceVersion", "")
        loop = asyncio.get_running_loop()
        queue = WatchQueue(loop, self.watch_limits, f"watch of {t.info.plural} by {user.name}")  # bounded
        ns = t.namespace if t.info.namespaced and t.namespace else None
        deliver = queue.put

        initial: list[bytes] = []
        line_of = reads.watch_line(request, t.info)
        send_initial = watch_list(q)
        if rv_param in ("", "0") or send_initial:
            items, since = self.store.list(t.info.resource, ns)
            initial = [line_of("ADDED", o, raw) for o, raw in items
                       if sel.matches(o["metadata"].get("labels")) and labels.match_fields(o, fields)]
            if send_initial:
                initial.append(reads.initial_events_end(request, t.info, since))
            backlog, sub = self.store.subscribe(t.info.resource, ns, since, deliver)
        else:
            try:
                since = int(rv_param)
            except ValueError:
                raise BadRequestError(f'resourceVersion "{rv_param}" is not valid') from None
            try:   # past authn/authz and a valid rv, kube answers 200 and one ERROR event (410 Expired)
                self.window.check(t.info.resource, since)
                backlog, sub = self.store.subscribe(t.info.resource, ns, since, deliver)
            except GoneError as e:
                release()
                return StreamingResponse(iter([reads.error_event(request, t.info, e.to_status())]),
                                         media_type=reads.watch_media_type(request, t.info))

        def encode(ev: Event) -> bytes | None:
            if not (sel.matches(ev.object["metadata"].get("labels")) and labels.match_fields(ev.object, fields)):
                return None
            return line_of(ev.type, ev.object, ev.raw)

        async def stream() -> AsyncIterator[bytes]:
            deadline = time.monotonic() + timeout if timeout else None
            marks = Bookmarks(parse_bool("allowWatchBookmarks", q.get("allowWatchBookmarks"))
                              and not tables.wants_table(request), since, time.monotonic(), deadline)
            try:
                for added in initial:
                    yield added
                for ev in backlog:
                    marks.passed(ev.rv)
                    if (line := encode(ev)) is not None:
                        yield line
                yield b""
                while True:
                    if deadline is not None and time.monotonic() >= deadline:
                        if (rv := marks.due(time.monotonic(), ending=True)) is not None:
                            yield reads.bookmark(request, t.info, rv)
                        return
                    live = await queue.get(marks.wait(time.monotonic()))
                    if live is None and queue.overflow:        # the watcher fell behind
                        return
                    if live is None:
                        if (rv := marks.due(time.monotonic())) is not None:
                            yield reads.bookmark(request, t.info, rv)
                        continue
                    marks.passed(live.rv)
                    if (line := encode(live)) is not None:
                        WATCH_EVENTS.inc()
                        yield line
            finally:
                sub.cancel()
                release()

        body = stream()
        # a client gone before the stream started: the generator never runs, nor its finally
        weakref.finalize(body, _end_watch, sub, release)
        return StreamingResponse(body, media_type=reads.watch_media_type(request, t.info))


def _end_watch(sub: Subscription, release: Callable[[], None]) -> None:
    """Stop delivering to a watch and give its slot back (both may already have happened)."""
    sub.cancel()
    release()


def create_app(store: Store, tokens: TokenFile, resources: Resources, projects: Projects,
               watch_limits: WatchLimits | None = None, body_limits: bodies.BodyLimits | None = None,
               sa_tokens: ServiceAccountTokens | None = None) -> Starlette:
    api = Api(store, tokens, resources, projects, watch_limits, sa_tokens)
    api.body_limits = body_limits or api.body_limits

    async def healthz(request: Request) -> Response:
        """"ok"; with ?verbose, kube's per-check lines (osdn's one check: the server answers)."""
        if "verbose" in request.query_params:
            return PlainTextResponse(f"[+]ping ok\n{request.url.path.strip('/')} check passed\n")
        return PlainTextResponse("ok")

    async def whoami(request: Request) -> Response:
        try:
            user = api.user(request)
            return JSONResponse({"user": user.name, "groups": list(user.groups)})
        except OsdnError as e:
            return JSONResponse(e.to_status(), e.code)

    def authenticated(endpoint: discovery.Endpoint) -> discovery.Endpoint:
        async def guarded(request: Request) -> Response:
            try:
                api.user(request)
            except OsdnError as e:
                return JSONResponse(e.to_status(), e.code)
            return await endpoint(request)
        return guarded

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    return Starlette(routes=[
        Route("/healthz", healthz), Route("/readyz", healthz), Route("/livez", healthz),
        *discovery.routes(authenticated),
        *token_routes(tokens, api.user, api._object, resources.authorizer),
        Route("/osdn/v1/whoami", whoami),
        *Console(ConsoleBackend(api.user, resources)).routes(),
        *review_routes(api.user, resources.authorizer,
                       None if sa_tokens is None else lambda token, auds: sa_tokens.review(token, auds, tokens)),
        Route("/api", api.handle, methods=methods), Route("/api/{rest:path}", api.handle, methods=methods),
        Route("/apis", api.handle, methods=methods), Route("/apis/{rest:path}", api.handle, methods=methods),
    ])
