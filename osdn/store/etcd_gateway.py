"""A small client of etcd v3's JSON gateway (`/v3/kv/*`, `/v3/watch`) over httpx.

Keys and values travel base64-encoded; int64 fields arrive as strings. Several endpoints are tried in
turn, but only when the connection could not be made (the request was never sent), so a write is never
sent twice. An error answer becomes StoreError naming the endpoint and etcd's message; a compacted
revision becomes GoneError.
"""

from __future__ import annotations

import base64
import json
import logging
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from osdn.errors import BadRequestError, GoneError
from osdn.store import StoreError

Body = dict[str, Any]
COMPACTED = 11  # grpc OUT_OF_RANGE: "mvcc: required revision has been compacted"


@dataclass(frozen=True)
class EtcdTLS:
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.ca_file or self.cert_file)


@dataclass(frozen=True)
class EtcdURL:
    endpoints: tuple[str, ...]                 # "host:port"
    prefix: str = "/osdn"                      # every key lives under PREFIX/
    tls: EtcdTLS = field(default_factory=EtcdTLS)

    def base_urls(self) -> list[str]:
        scheme = "https" if self.tls.enabled else "http"
        return [f"{scheme}://{e}" for e in self.endpoints]

    def __str__(self) -> str:
        return f"etcd://{','.join(self.endpoints)}{self.prefix}"


def parse_etcd_url(url: str, tls: EtcdTLS | None = None) -> EtcdURL:
    """`etcd://host:2379[,host:2379...][/prefix]`; BadRequestError naming the value otherwise."""
    parts = urlsplit(url)
    hosts = [h for h in parts.netloc.split(",") if h]
    bad = [h for h in hosts if not h.rpartition(":")[2].isdigit() or not h.rpartition(":")[0]]
    if parts.scheme != "etcd" or not hosts or bad or parts.query or parts.fragment:
        raise BadRequestError(f'--store "{url}": expected etcd://HOST:PORT[,HOST:PORT...][/PREFIX], '
                              "e.g. etcd://127.0.0.1:2379")
    prefix = "/" + parts.path.strip("/") if parts.path.strip("/") else "/osdn"
    tls = tls or EtcdTLS()
    if bool(tls.cert_file) != bool(tls.key_file):
        raise BadRequestError("--etcd-certfile and --etcd-keyfile go together")
    return EtcdURL(tuple(hosts), prefix, tls)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text) if text else b""


def prefix_end(prefix: bytes) -> bytes:
    """The first key after every key that starts with `prefix` (etcd's range_end for a prefix)."""
    return prefix[:-1] + bytes([prefix[-1] + 1])


class Gateway:
    """POSTs JSON to the first reachable endpoint; streams watch responses."""

    def __init__(self, target: EtcdURL, timeout: float = 10.0) -> None:
        self.target, self.urls = target, target.base_urls()
        self._next = 0
        tls = target.tls
        verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=tls.ca_file) if tls.ca_file else True
        cert = (tls.cert_file, tls.key_file) if tls.cert_file and tls.key_file else None
        self._opts: dict[str, Any] = {"verify": verify, "cert": cert}
        self._client = httpx.Client(timeout=timeout, **self._opts)
        httpx_log = logging.getLogger("httpx")   # one INFO line per store operation would drown the server's log
        httpx_log.setLevel(max(logging.WARNING, httpx_log.level))

    def _order(self) -> list[str]:
        return self.urls[self._next:] + self.urls[:self._next]

    def call(self, path: str, body: Body) -> Body:
        last: Exception | None = None
        for i, url in enumerate(self._order()):
            try:
                r = self._client.post(url + path, json=body)
            except httpx.ConnectError as e:   # never sent: the next endpoint may take it
                last = e
                continue
            except httpx.HTTPError as e:
                raise StoreError(f"etcd at {url}: {path} got no answer ({e!r}); a write may or may not "
                                 "have been applied") from None
            self._next = (self._next + i) % len(self.urls)
            return self._answer(url, path, r)
        raise StoreError(f"etcd unreachable at {', '.join(self.urls)}: {last}")

    @staticmethod
    def _answer(url: str, path: str, r: httpx.Response) -> Body:
        try:
            body: Body = r.json()
        except ValueError:
            raise StoreError(f"etcd at {url}: {path} answered {r.status_code} with no JSON") from None
        if r.status_code == 200 and "error" not in body:
            return body
        if body.get("code") == COMPACTED:
            raise GoneError(f"etcd at {url}: {body.get('message')}")
        raise StoreError(f"etcd at {url}: {path} failed ({r.status_code}): {body.get('message') or body}")

    def watch(self, create: Body) -> Iterator[Body]:
        """The `result` of every response of one watch stream; ends (or raises) when the stream does."""
        url = self._order()[0]
        timeout = httpx.Timeout(10.0, read=None)
        with httpx.Client(timeout=timeout, **self._opts) as client, \
                client.stream("POST", url + "/v3/watch", json={"create_request": create}) as r:
            if r.status_code != 200:
                raise StoreError(f"etcd at {url}: /v3/watch failed ({r.status_code})")
            for line in r.iter_lines():
                if line.strip():
                    msg = json.loads(line)
                    if "error" in msg:
                        raise StoreError(f"etcd at {url}: watch: {msg['error'].get('message')}")
                    yield msg["result"]

    def rotate(self) -> None:
        """Prefer the next endpoint (the watch stream to the current one broke)."""
        self._next = (self._next + 1) % len(self.urls)

    def close(self) -> None:
        self._client.close()
