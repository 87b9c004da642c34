"""`osdn server` options for connection and watch limits, gathered into ConnectionLimits and WatchLimits.

`limit_options` adds the options to a click command and hands the command two keyword arguments,
`connection_limits` and `watch_limits`, instead of one argument per option.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from osdn.apiserver.connections import ConnectionLimits
from osdn.apiserver.watchqueue import WatchLimits

_C, _W = ConnectionLimits(), WatchLimits()
_OPTIONS = [
    click.option("--request-header-timeout", type=click.FloatRange(min=0.1), default=_C.header_timeout,
                 show_default=True, help="Seconds for a request's headers to arrive (slow or idle clients "
                 "are closed)."),
    click.option("--max-header-bytes", type=click.IntRange(min=1024), default=_C.max_header_bytes,
                 show_default=True, help="Largest request line + headers (431 past it)."),
    click.option("--request-body-timeout", type=click.FloatRange(min=0.1), default=_C.body_timeout,
                 show_default=True, help="Seconds for a request's body to arrive after its headers."),
    click.option("--write-stall-timeout", type=click.FloatRange(min=0.1), default=_C.write_stall_timeout,
                 show_default=True, help="Seconds a client may leave our data unread before it is disconnected."),
    click.option("--idle-timeout", type=click.IntRange(min=1), default=_C.idle_timeout, show_default=True,
                 help="Seconds an idle keep-alive connection stays open."),
    click.option("--max-connections", type=click.IntRange(min=1), default=_C.max_connections,
                 show_default=True, help="Open connections before new requests get 503."),
    click.option("--watch-queue-events", type=click.IntRange(min=1), default=_W.max_events, show_default=True,
                 help="Events queued for one watcher before its stream is closed (it re-watches)."),
    click.option("--watch-queue-bytes", type=click.IntRange(min=1024), default=_W.max_bytes, show_default=True,
                 help="Bytes queued for one watcher before its stream is closed."),
    click.option("--max-watches-per-user", type=click.IntRange(min=1), default=_W.per_user, show_default=True,
                 help="Open watches of one user (cluster admins are not counted); 429 past it."),
]


def limit_options(command: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(command)
    def wrapper(*args: Any, request_header_timeout: float, max_header_bytes: int, request_body_timeout: float,
                write_stall_timeout: float, idle_timeout: int, max_connections: int, watch_queue_events: int,
                watch_queue_bytes: int, max_watches_per_user: int, **kwargs: Any) -> Any:
        connections = ConnectionLimits(request_header_timeout, max_header_bytes, request_body_timeout,
                                       write_stall_timeout, idle_timeout, max_connections)
        return command(*args, connection_limits=connections,
                       watch_limits=WatchLimits(watch_queue_events, watch_queue_bytes, max_watches_per_user), **kwargs)

    for option in reversed(_OPTIONS):
        wrapper = option(wrapper)
    return wrapper
