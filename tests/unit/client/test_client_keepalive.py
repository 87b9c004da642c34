"""A client keeps an idle TLS connection longer than the agents' heartbeat and the controllers'
periods, and drops it before the server would (so it never sends on a connection the server is closing)."""

from __future__ import annotations

from typing import cast

import httpx

from osdn.apiserver.connections import ConnectionLimits
from osdn.client import KEEPALIVE_EXPIRY, Client, ClientConfig
from osdn.node.agent import AgentConfig


def test_idle_connections_outlive_the_heartbeat_and_die_before_the_servers() -> None:
    heartbeat = AgentConfig.__dataclass_fields__["heartbeat"].default
    assert isinstance(heartbeat, float)
    assert heartbeat < KEEPALIVE_EXPIRY < ConnectionLimits().idle_timeout


def test_the_client_pool_uses_the_expiry() -> None:
    with Client(ClientConfig(server="https://127.0.0.1:1", token="t")) as client:
        pool = cast(httpx.HTTPTransport, client.http._transport)._pool  # httpx's connection pool (httpcore)
        assert pool._keepalive_expiry == KEEPALIVE_EXPIRY
