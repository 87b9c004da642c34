"""Typed API client over HTTP (httpx) and the watch cache (informer) built on it.

Errors come back as the same OsdnError subclasses the server raised (rebuilt from the Status).
"""

from __future__ import annotations

import builtins
import json
import re
import socket
import ssl
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from osdn.api.kinds.coordination import FENCE_HEADER, FENCED_PREFIX
from osdn.api.registry import KindInfo, by_kind, for_object, resolve
from osdn.client.config import ClientConfig, load_config
from osdn.client.failover import endpoints_for, may_move_on
from osdn.client.watchstream import parse_event, split_lines
from osdn.errors import OsdnError, UnsupportedMediaTypeError, error_from_status

Obj = dict[str, Any]
_PATCH_CT = {"merge": "application/merge-patch+json", "json": "application/json-patch+json",
             "strategic": "application/strategic-merge-patch+json"}
_WARNING = re.compile(r'^\s*\d{3} +\S+ +"((?:[^"\\]|\\.)*)"')
_WRITES = ("POST", "PUT", "PATCH")
# A watch waits on a quiet socket: TCP keepalive (first probe after 15 s idle, then every 5 s, 3 lost)
# finds a server that vanished without closing the connection (power loss, partition) within ~30 s,
# so the informer re-lists from the next server instead of waiting for ever.
KEEPALIVE = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1), (socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 15),
             (socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 5), (socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)]

# An idle connection is kept 25 s (httpx's default is 5 s), under the server's idle timeout (30 s) so the
# client drops it first: a heartbeat or a controller writing every 5-10 s reuses its TLS connection
# instead of paying a handshake (on both sides) per request.
KEEPALIVE_EXPIRY = 25.0
POOL = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=KEEPALIVE_EXPIRY)

__all__ = ["Client", "ClientConfig", "load_config", "kind_info"]


def kind_info(kind: str | KindInfo) -> KindInfo:
    if isinstance(kind, KindInfo):
        return kind
    try:
        return by_kind(kind)
    except OsdnError:
        return resolve(kind)


def _raise_for(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        status = response.json()
    except ValueError:
        status = {"message": response.text or response.reason_phrase, "code": response.status_code}
    if not isinstance(status, dict) or "message" not in status:
        status = {"message": str(status), "code": response.status_code}
    status.setdefault("code", response.status_code)
    raise error_from_status(status)


def warning_text(header: str) -> str:
    """The text of one `Warning: 299 - "text"` header, its quotes unescaped."""
    m = _WARNING.match(header)
    return re.sub(r"\\(.)", r"\1", m.group(1)) if m else header


def tls_verify(config: ClientConfig) -> ssl.SSLContext | bool:
    """How to check the server's certificate: the config's CA, or the system's, or not at all."""
    if config.insecure:
        return False
    if config.ca_pem:
        return ssl.create_default_context(cadata=config.ca_pem)
    return True


class Client:
    """`field_validation` is sent with every write; "" (the default, as client-go's) leaves it to the
    server (Warn). The CLI asks for Strict, as kubectl does: an unknown or duplicate field in a
    manifest is refused, not silently dropped.

    `config.server` may list several URLs (comma-separated): requests fail over between them
    (osdn.client.failover). `fence`, when given, returns the `X-Osdn-Fence` value sent with every write
    (the master's leader lease, osdn.store.fence); a write refused because the lease was renewed
    meanwhile is resent once with the renewed value."""

    def __init__(self, config: ClientConfig, timeout: float = 30.0, field_validation: str = "",
                 fence: Callable[[], str | None] | None = None) -> None:
        self.config = config
        self.field_validation = field_validation
        self.fence = fence
        self.endpoints = endpoints_for(config.server)
        headers = {"Authorization": f"Bearer {config.token}"} if config.token else {}
        self.http = httpx.Client(base_url=self.endpoints.order()[0], headers=headers, timeout=timeout,
                                 transport=httpx.HTTPTransport(verify=tls_verify(config), socket_options=KEEPALIVE,
                                                               limits=POOL))
        self.last_warnings: list[str] = []

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- raw ---------------------------------------------------------------------------------
    def request(self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None,
                content_type: str = "application/json") -> Any:
        content = None if body is None else json.dumps(body).encode()
        if method in _WRITES and self.field_validation and path.startswith("/api"):
            params = {**(params or {}), "fieldValidation": self.field_validation}
        headers = {"Content-Type": content_type} if content is not None else {}
        fence = self.fence() if self.fence is not None and method != "GET" else None
        r = self._send(method, path, content, params, headers, fence)
        if fence is not None and r.status_code == 409 and FENCED_PREFIX in r.text:
            renewed = self.fence() if self.fence is not None else None
            if renewed is not None and renewed != fence:   # renewed meanwhile: the write was not applied
                r = self._send(method, path, content, params, headers, renewed)
        self.last_warnings = [warning_text(w) for w in r.headers.get_list("warning")]
        _raise_for(r)
        return r.json() if r.content else None

    def _send(self, method: str, path: str, content: bytes | None, params: dict[str, str] | None,
              headers: dict[str, str], fence: str | None) -> httpx.Response:
        """One request, to the first server that takes it (osdn.client.failover)."""
        if fence is not None:
            headers = {**headers, FENCE_HEADER: fence}
        failures: builtins.list[str] = []
        for url in self.endpoints.order():
            try:
                return self.http.request(method, url + path, content=content, params=params, headers=headers)
            except httpx.TransportError as e:
                failures.append(f"{url}: {e}" if failures or len(self.endpoints.urls) > 1 else str(e))
                if not may_move_on(e, method):
                    raise OsdnError(f"cannot reach the osdn server at {url}: {e} (the {method} was sent; it "
                                    "may or may not have been applied)") from None
                self.endpoints.failed(url)
                self.http.base_url = self.endpoints.order()[0]
        raise OsdnError(f"cannot reach the osdn server at {self.config.server}: {'; '.join(failures)}")

    # ---- typed -------------------------------------------------------------------------------
    def get(self, kind: str | KindInfo, name: str, namespace: str = "") -> Obj:
        info = kind_info(kind)
        return self.request("GET", info.path(namespace, name))

    def list(self, kind: str | KindInfo, namespace: str = "", label_selector: str = "",
             field_selector: str = "") -> Obj:
        info = kind_info(kind)
        params = {k: v for k, v in (("labelSelector", label_selector), ("fieldSelector", field_selector)) if v}
        return self.request("GET", info.path(namespace or None), params=params)

    def create(self, obj: Obj, namespace: str = "", dry_run: bool = False) -> Obj:
        info = for_object(obj)
        ns = namespace or (obj.get("metadata") or {}).get("namespace") or ""
        return self.request("POST", info.path(ns or None), obj, {"dryRun": "All"} if dry_run else None)

    def update(self, obj: Obj, namespace: str = "", subresource: str = "", dry_run: bool = False) -> Obj:
        info = for_object(obj)
        meta = obj.get("metadata") or {}
        path = info.path(namespace or meta.get("namespace") or None, meta.get("name"))
        if subresource:
            path += f"/{subresource}"
        return self.request("PUT", path, obj, {"dryRun": "All"} if dry_run else None)

    def patch(self, kind: str | KindInfo, name: str, patch: Any, namespace: str = "", patch_type: str = "merge",
              subresource: str = "", dry_run: bool = False) -> Obj:
        info = kind_info(kind)
        path = info.path(namespace or None, name) + (f"/{subresource}" if subresource else "")
        params = {"dryRun": "All"} if dry_run else None
        try:
            return self.request("PATCH", path, patch, params, _PATCH_CT[patch_type])
        except UnsupportedMediaTypeError:
            if patch_type != "strategic":   # kinds served as CRDs take no strategic patch: merge, as kubectl does
                raise
            return self.request("PATCH", path, patch, params, _PATCH_CT["merge"])

    def delete(self, kind: str | KindInfo, name: str, namespace: str = "", dry_run: bool = False) -> Obj:
        info = kind_info(kind)
        return self.request("DELETE", info.path(namespace or None, name), None,
                            {"dryRun": "All"} if dry_run else None)

    def watch(self, kind: str | KindInfo, namespace: str = "", resource_version: str = "",
              label_selector: str = "", timeout: float | None = None) -> Iterator[Obj]:
        """Yield watch events ({"type", "object"}) until the server closes the stream; a broken stream
        or a line that is not an event raises OsdnError (lines split on b"\\n" only: see watchstream)."""
        info = kind_info(kind)
        params = {"watch": "true"}
        if resource_version:
            params["resourceVersion"] = resource_version
        if label_selector:
            params["labelSelector"] = label_selector
        if timeout:
            params["timeoutSeconds"] = str(int(timeout))
        for url in self.endpoints.order():
            try:
                with self.http.stream("GET", url + info.path(namespace or None), params=params,
                                      timeout=httpx.Timeout(10.0, read=None)) as r:
                    if r.status_code >= 400:
                        r.read()
                        _raise_for(r)
                    for line in split_lines(r.iter_bytes()):
                        yield parse_event(line, f"watch of {info.plural}")
                    return
            except (httpx.ConnectError, httpx.ConnectTimeout) as e:   # never connected: the next server
                self.endpoints.failed(url)
                last = e
            except httpx.HTTPError as e:
                raise OsdnError(f"watch of {info.plural} from {url} failed: {e}") from None
        raise OsdnError(f"watch of {info.plural} from {self.config.server} failed: {last}")

    def whoami(self) -> Obj:
        return self.request("GET", "/osdn/v1/whoami")

    def create_token(self, user: str, groups: builtins.list[str] | None = None) -> str:
        return str(self.request("POST", "/osdn/v1/tokens", {"user": user, "groups": groups or []})["token"])
