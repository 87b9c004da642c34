"""What every CLI command shares: the client (made on first use), the namespace, error reporting."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import click

from osdn.client import Client, load_config
from osdn.errors import OsdnError

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Ctx:
    config_path: str | None = None
    server: str | None = None
    token: str | None = None
    context: str | None = None
    _client: Client | None = field(default=None, repr=False)
    _namespace: str = ""

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = Client(load_config(self.config_path, self.server, self.token, self.context),
                                  field_validation="Strict")
        return self._client

    def namespace(self, explicit: str | None) -> str:
        if explicit:
            return explicit
        if not self._namespace:
            self._namespace = self.client.config.namespace or "default"
        return self._namespace


pass_ctx = click.make_pass_decorator(Ctx, ensure=True)


def handle_errors(fn: F) -> F:
    """Print an OsdnError like kubectl does (`Error from server (NotFound): ...`) and exit 1."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except OsdnError as e:
            prefix = f"Error from server ({e.reason})" if e.from_server else "error"
            click.echo(f"{prefix}: {e.message}", err=True)
            for cause in e.causes[:20]:
                if cause.field and cause.field not in e.message:
                    click.echo(f"  * {cause}", err=True)
            sys.exit(1)
    return wrapper  # type: ignore[return-value]


def warn(client: Client) -> None:
    for w in client.last_warnings:
        click.echo(f"Warning: {w}", err=True)
