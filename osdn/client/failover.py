"""Several API server URLs for one cluster (`--server https://a:8443,https://b:8443`, or the same list in a
kubeconfig's `server`): which one to ask, and when to move on to the next.

Every Client (and so every informer) of a process that names the same list shares one `Endpoints`, so
after one of them found a server down, the others start on the one that answered. A request moves on
to the next URL only when it could not have been applied: the connection was never made (refused,
connect timeout), or it was a read (GET). A write whose connection broke after it was sent is not
resent (it may have been applied); the caller sees the error and decides.
"""

from __future__ import annotations

import threading

import httpx

_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout)


def server_urls(server: str) -> list[str]:
    """The URLs of a comma-separated server list, without trailing slashes or blanks."""
    return [u.strip().rstrip("/") for u in server.split(",") if u.strip()]


def normalize(server: str) -> str:
    return ",".join(server_urls(server))


class Endpoints:
    """The URL list and the index of the one to try first (the last that answered). Thread-safe."""

    def __init__(self, urls: list[str]) -> None:
        self.urls = urls
        self._first = 0
        self._lock = threading.Lock()

    def order(self) -> list[str]:
        with self._lock:
            return self.urls[self._first:] + self.urls[:self._first]

    def failed(self, url: str) -> None:
        """`url` did not answer: start with the one after it (unless another thread moved on already)."""
        with self._lock:
            if self.urls[self._first] == url:
                self._first = (self._first + 1) % len(self.urls)


_shared: dict[tuple[str, ...], Endpoints] = {}
_shared_lock = threading.Lock()


def endpoints_for(server: str) -> Endpoints:
    urls = tuple(server_urls(server)) or ("",)
    with _shared_lock:
        if urls not in _shared:
            _shared[urls] = Endpoints(list(urls))
        return _shared[urls]


def may_move_on(err: httpx.TransportError, method: str) -> bool:
    """Whether a request that failed with `err` may be sent to the next server."""
    return isinstance(err, _NEVER_SENT) or method == "GET"
