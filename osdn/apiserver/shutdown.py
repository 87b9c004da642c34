"""A clean stop of the API server: open watch streams end first, so the stop waits for nothing.

`WatchCloser` wraps the ASGI app. Every watch request (`?watch=true|1`) runs as a task it can
end: `close()` (called when the server begins to shut down) cancels the stream and sends the
final empty chunk, so the client sees the watch end normally (as kube-apiserver ends watches when
it stops) and re-watches elsewhere. A watch that arrives while closing ends at once. Without this,
uvicorn waits out its graceful timeout and then cancels the streams with an ERROR.
Not pure: asyncio tasks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def is_watch(scope: Scope) -> bool:
    """True for an HTTP request with `watch=true` (or `1`) in its query. Pure."""
    if scope.get("type") != "http":
        return False
    query = parse_qs(bytes(scope.get("query_string") or b"").decode("latin-1"))
    return query.get("watch", [""])[-1] in ("true", "1")


class WatchCloser:
    """ASGI middleware that can end every open watch stream (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.closing = False
        self.watches: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not is_watch(scope):
            await self.app(scope, receive, send)
            return
        state = {"started": False, "ended": False}

        async def tracked(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["started"] = True
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                state["ended"] = True
            await send(message)

        task = asyncio.ensure_future(self.app(scope, receive, tracked))
        self.watches.add(task)
        if self.closing:
            task.cancel()
        try:
            await asyncio.wait([task])
        finally:
            self.watches.discard(task)
            task.cancel()  # a no-op once done; ends the stream if this request itself was cancelled
        if not task.cancelled():
            task.result()  # re-raises what the app raised
            return
        await _finish(send, state)

    async def close(self) -> None:
        """End every open watch (and any that starts from now on); wait until they have ended."""
        self.closing = True
        open_watches = list(self.watches)
        for task in open_watches:
            task.cancel()
        if open_watches:
            await asyncio.wait(open_watches, timeout=0.5)


async def _finish(send: Send, state: dict[str, bool]) -> None:
    """Complete the HTTP response of an ended watch (an empty stream if it never began)."""
    if state["ended"]:
        return
    if not state["started"]:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b"", "more_body": False})
