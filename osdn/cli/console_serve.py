"""`osdn console --serve`: the network console served from this machine, with the kernel's view.

The API server cannot enter a lab's network namespaces, so its console shows the model only. On a
host that runs a local osdn lab, this small plain-HTTP server (loopback only) serves the same app:
the static files and /console/api/* are forwarded to the API server unchanged, with the bearer token
the browser presents (no token is added: a page or process without one gets the API server's 401),
and /console/api/kernel-trace answers what `osdn adm trace` prints under the model's steps: it runs
the same online trace as the browser's user (osdn.cli.analysis.kernel_view: one TCP connect from the
source's namespace with a timeout, the lab nodes' drop counters around it, the DNAT to a service).

Bounded: at most `probes` kernel traces run at once (more get 429), request bodies are small, the
probe timeout is capped. Read-only: only the forwarded paths below exist (the impact preview's dry
run writes nothing).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import socket
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from osdn.cli.analysis import egress_offline, kernel_view
from osdn.cli.clusterstate import fetch_objects
from osdn.client import Client, ClientConfig, tls_verify
from osdn.errors import BadRequestError, OsdnError, RequestEntityTooLargeError, UnauthorizedError
from osdn.model.cluster import ClusterState
from osdn.model.oracle import compute_verdict, resolve_endpoint
from osdn.model.verdict import PROTOCOLS, Connection

Obj = dict[str, Any]
FORWARDED = ("/console", "/console/", "/console/static/{name}", "/console/api/{name}", "/osdn/v1/whoami")
_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"}


class ProbeBusyError(OsdnError):
    code = 429


@dataclass(frozen=True)
class ServeLimits:
    probes: int = 1                # kernel traces at once (each is one TCP connect plus counter reads)
    body_bytes: int = 16 * 1024    # a kernel-trace request body
    forward_bytes: int = 1024 * 1024 + 1  # a forwarded body (the API server's console takes 1 MiB)
    probe_timeout: float = 1.0     # seconds the probe waits, default
    max_probe_timeout: float = 5.0
    endpoint_chars: int = 253


class KernelTracer:
    """The model's verdict and the kernel's answer for one connection, as the browser's user."""

    def __init__(self, config: ClientConfig, limits: ServeLimits) -> None:
        self.config, self.limits = config, limits
        self._slots = threading.BoundedSemaphore(limits.probes)

    def trace(self, token: str, params: Obj) -> Obj:
        src, dst = (_endpoint(params, n, self.limits.endpoint_chars) for n in ("from", "to"))
        protocol, port, timeout = _connection_params(params, self.limits)
        if not self._slots.acquire(blocking=False):
            raise ProbeBusyError(f"kernel trace: {self.limits.probes} probe(s) already running; try again")
        try:
            with Client(replace(self.config, token=token)) as client:
                objs = fetch_objects(client)
                state = ClusterState.from_objects(objs, {}, egress_offline(objs))
                conn = Connection(resolve_endpoint(state, src), resolve_endpoint(state, dst), protocol, port)
                verdict = compute_verdict(state, conn)
                text, doc = kernel_view(client, verdict, timeout)
        finally:
            self._slots.release()
        return {"text": text, "kernel": doc, "modelAllowed": verdict.allowed}


def _endpoint(params: Obj, name: str, limit: int) -> str:
    value = str(params.get(name) or "").strip()
    if not value:
        raise BadRequestError(f"kernel trace: {name}: required (ns/pod, ns/service, node/NAME, an IP or a name)")
    if len(value) > limit:
        raise BadRequestError(f"kernel trace: {name}: longer than {limit} characters")
    return value


def _connection_params(params: Obj, limits: ServeLimits) -> tuple[str, int, float]:
    protocol = str(params.get("protocol") or "TCP").upper()
    if protocol not in PROTOCOLS:
        raise BadRequestError(f'kernel trace: protocol: "{protocol}": must be one of {", ".join(PROTOCOLS)}')
    try:
        port = int(params.get("port") or 80)
        timeout = float(params.get("timeout") or limits.probe_timeout)
    except (TypeError, ValueError):
        raise BadRequestError("kernel trace: port and timeout must be numbers") from None
    if not 1 <= port <= 65535:
        raise BadRequestError(f"kernel trace: port: {port}: must be between 1 and 65535")
    if not 0.05 <= timeout <= limits.max_probe_timeout:
        raise BadRequestError(f"kernel trace: timeout: {timeout:g}: must be between 0.05 and "
                              f"{limits.max_probe_timeout:g} seconds")
    return protocol, port, timeout


def _token(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthorizedError("kernel trace: a bearer token is required (log in to the console)")
    return token.strip()


def _handle(fn: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        try:
            return await fn(request)
        except OsdnError as e:
            return JSONResponse(e.to_status(), e.code)
    return handle


def build_app(config: ClientConfig, limits: ServeLimits | None = None) -> Starlette:
    """The local console: forwarded app and API, plus /console/api/kernel-trace."""
    limits = limits or ServeLimits()
    tracer = KernelTracer(config, limits)
    upstream = httpx.AsyncClient(base_url=config.server.split(",")[0].rstrip("/"), verify=tls_verify(config),
                                 timeout=httpx.Timeout(30.0, read=None))

    async def kernel_trace(request: Request) -> Response:
        if request.method == "GET":  # the app's feature test: this console can show the kernel's view
            return JSONResponse({"kernel": True, "probes": limits.probes})
        token = _token(request)
        raw = await _body(request, limits.body_bytes)
        try:
            params = json.loads(raw or b"{}")
        except ValueError as e:
            raise BadRequestError(f"kernel trace: body: not JSON ({e})") from None
        if not isinstance(params, dict):
            raise BadRequestError("kernel trace: body: must be a JSON object")
        return JSONResponse(await run_in_threadpool(tracer.trace, token, params))

    async def forward(request: Request) -> Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("authorization", "content-type", "accept")}
        sent = upstream.build_request(request.method, request.url.path, params=request.query_params,
                                      headers=headers, content=await _body(request, limits.forward_bytes))
        try:
            resp = await upstream.send(sent, stream=True)
        except httpx.HTTPError as e:
            return JSONResponse(OsdnError(f"API server {config.server}: {e}").to_status(), 502)
        out = {k: v for k, v in resp.headers.items() if k.lower() not in _HOP}
        return StreamingResponse(resp.aiter_raw(), resp.status_code, out, background=BackgroundTask(resp.aclose))

    routes = [Route("/console/api/kernel-trace", _handle(kernel_trace), methods=["GET", "POST"])]
    routes += [Route(path, _handle(forward), methods=["GET", "POST"]) for path in FORWARDED]

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await upstream.aclose()
    return Starlette(routes=routes, lifespan=lifespan)


async def _body(request: Request, limit: int) -> bytes:
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise RequestEntityTooLargeError(f"{request.url.path}: request body larger than {limit} bytes")
    return raw


def loopback_socket(listen: str) -> socket.socket:
    """A listening socket on `listen` (HOST:PORT, port 0 = any free one); loopback addresses only,
    since this server speaks plain HTTP and the browser sends bearer tokens to it."""
    host, sep, port = listen.rpartition(":")
    host = host.strip("[]")
    try:
        if not sep or not ipaddress.ip_address(host).is_loopback:
            raise ValueError(listen)
        number = int(port)
    except ValueError:
        raise BadRequestError(f"--listen {listen}: must be a loopback HOST:PORT such as 127.0.0.1:8765 "
                              "(the local console speaks plain HTTP)") from None
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, number))
    except OSError as e:
        sock.close()
        raise BadRequestError(f"--listen {listen}: {e.strerror}") from None
    sock.listen(64)
    return sock
